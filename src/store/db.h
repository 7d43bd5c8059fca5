// The results store: one SQLite file per matrix shard (docs/formats.md, "The results store").
//
// Layers, bottom up:
//   Database     one sqlite3 connection (RAII): creates the file, PRAGMA journal_mode=WAL, busy_timeout 10 s,
//                foreign_keys=ON. Every sqlite error becomes a ptq::Error naming the file and the statement:
//                "results/x.db: INSERT INTO runs ...: UNIQUE constraint failed: runs.run_key".
//   Statement    a prepared statement; values are only ever bound (by index from 1, or by ":name"), never spliced
//                into SQL text.
//   Transaction  BEGIN IMMEDIATE (takes the write lock up front, waiting up to busy_timeout for other writers);
//                commit(); the destructor rolls back unless committed.
//   Store        the schema (src/store/schema.h, versioned migrations applied on open) and the operations the
//                runner and the report commands need: record a run with all its rows in one transaction, resume
//                (is_finished), mark a run 'running' before it starts, query runs and metrics, merge shards.
//
// Values: SQLite has no NaN (a bound NaN is stored as NULL), so NULL in a REAL value column means NaN and reads
// back as NaN; ±inf round-trip. JSON columns hold nlohmann::json::dump() text (NaN inside JSON becomes null);
// a JSON null is stored as SQL NULL. Timestamps are ISO-8601 UTC strings, "2025-01-31T12:34:56Z".
//
// Concurrency: several processes (or threads, each with its own Store) may write one file at once; WAL lets
// readers run beside the single writer and BEGIN IMMEDIATE + busy_timeout serialise the writers.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace ptq {

class Database {
 public:
  // Opens `path`, creating it (and nothing else: the parent folder must exist) when create is true.
  explicit Database(const std::string& path, bool create = true);
  ~Database();
  Database(Database&& other) noexcept;
  Database& operator=(Database&& other) = delete;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  const std::string& path() const { return path_; }
  sqlite3* handle() const { return db_; }

  // Runs fixed SQL text (schema, pragmas; one or more statements) that carries no values.
  void exec(const std::string& sql);
  int64_t last_insert_rowid() const;
  int64_t changes() const;  // rows changed by the last INSERT/UPDATE/DELETE

  // Throws the ptq::Error for sqlite result code rc raised while running `sql`:
  // "<path>: <sql, first 120 characters>: <sqlite message>".
  [[noreturn]] void fail(const std::string& sql, int rc) const;
  [[noreturn]] void fail_message(const std::string& sql, const std::string& message) const;

 private:
  std::string path_;
  sqlite3* db_ = nullptr;
};

class Statement {
 public:
  Statement(Database& db, std::string sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Bind by 1-based index or by name (":run_key"); return *this to chain.
  Statement& bind(int index, int64_t v);
  Statement& bind(int index, int v) { return bind(index, static_cast<int64_t>(v)); }
  Statement& bind(int index, double v);  // NaN is stored as NULL (SQLite has no NaN)
  Statement& bind(int index, const std::string& v);
  Statement& bind(int index, const char* v) { return bind(index, std::string(v)); }
  Statement& bind_null(int index);
  Statement& bind_json(int index, const nlohmann::json& v);       // null -> NULL, else v.dump()
  Statement& bind_text_or_null(int index, const std::string& v);  // "" -> NULL
  Statement& bind_opt(int index, const std::optional<int64_t>& v);
  template <class T>
  Statement& bind(const char* name, T&& v) {
    return bind(param(name), std::forward<T>(v));
  }

  // Executes one step: true when a row is available, false when the statement is done.
  bool step();
  // Steps a statement that returns no rows (INSERT/UPDATE/DELETE), then resets it for reuse.
  void run();
  // Resets for another execution and clears the bindings.
  void reset();

  int column_count() const;
  bool is_null(int col) const;
  int64_t column_int64(int col) const;
  double column_double(int col) const;        // NULL -> NaN
  std::string column_text(int col) const;     // NULL -> ""
  nlohmann::json column_json(int col) const;  // NULL -> json null
  std::optional<int64_t> column_opt_int64(int col) const;

  const std::string& sql() const { return sql_; }
  // The index of the parameter ":name"; an error when the statement has none.
  int param(const char* name) const;

 private:
  void check_bind(int rc);
  Database& db_;
  std::string sql_;
  sqlite3_stmt* stmt_ = nullptr;
};

class Transaction {
 public:
  explicit Transaction(Database& db);  // BEGIN IMMEDIATE
  ~Transaction();                      // ROLLBACK unless committed
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  Database& db_;
  bool done_ = false;
};

// ---------------------------------------------------------------------------------------------------------------
// Records.

enum class RunStatus { kRunning, kFinished, kFailed };
std::string to_string(RunStatus s);  // "running", "finished", "failed" (the stored values)
RunStatus parse_run_status(const std::string& s);

// One number a run reports: ("ppl", "wikitext2", "fake_quant", 5.47, {protocol}).
struct MetricValue {
  std::string name;         // ppl, ppl_stderr, nll_mean, tokens, windows, seconds, ...
  std::string dataset;      // "" when not tied to a dataset
  std::string pos;          // eval position: pretrain, fake_quant, transformed; "" when not an eval
  double value = 0;         // NaN allowed (stored as NULL)
  nlohmann::json protocol;  // the perplexity protocol the number was measured under; null if none
  bool operator==(const MetricValue&) const;
};

// Per-Linear error: (3, "model.layers.3.mlp.down_proj", "rel_output_error", 0.012).
struct LayerErrorValue {
  int64_t block = 0;
  std::string layer;
  std::string metric;  // rel_output_error, rel_weight_error
  double value = 0;
  bool operator==(const LayerErrorValue&) const;
};

// Per-block output error: (3, "rel_output_error", 0.02).
struct BlockErrorValue {
  int64_t block = 0;
  std::string metric;
  double value = 0;
  bool operator==(const BlockErrorValue&) const;
};

// A numerical guard that fired (src/methods/method.h BlockContext::event): (3, "model.layers.3.mlp.down_proj",
// "gptq_cholesky_failed", "rtn", {"damp": ...}).
struct EventValue {
  int64_t block = 0;
  std::string layer;
  std::string kind;
  std::string fallback;
  nlohmann::json detail;  // null when none
  bool operator==(const EventValue&) const;
};

struct TimingValue {
  std::string stage;  // load, calibration, quantize, eval_pretrain, eval_fake_quant, save, total
  double seconds = 0;
  std::optional<int64_t> peak_bytes;  // peak device/host memory of the stage, when measured
  bool operator==(const TimingValue&) const;
};

struct RunRecord {
  std::string matrix;     // experiment matrix name ("" for a one-off run)
  std::string run_key;    // hash of the resolved config; unique in a store
  nlohmann::json config;  // resolved configuration
  RunStatus status = RunStatus::kFinished;
  std::string error;  // the failure message for kFailed
  std::string git_sha;
  std::string torch_version;
  std::string device;          // cpu, cuda, cuda:1, auto
  std::string started_at;      // ISO-8601 UTC
  std::string finished_at;     // ISO-8601 UTC; "" while running
  std::string method;          // registry id: rtn, gptq, ...
  std::string scheme;          // w4a16g128, ...
  nlohmann::json quant;        // `ptq run --json` "quant" (scheme, weight, act, method params, quant_out)
  nlohmann::json calibration;  // calibration provenance; null when data-free
  nlohmann::json system;       // system_info() at run time
  nlohmann::json notes;        // what methods reported per block
  std::string saved_path;      // the saved checkpoint folder, "" if none
  std::vector<MetricValue> metrics;
  std::vector<LayerErrorValue> layer_errors;
  std::vector<BlockErrorValue> block_errors;
  std::vector<TimingValue> timings;
  std::vector<EventValue> events;
  bool operator==(const RunRecord&) const;
};

// One row for a paper table: a metric of one run.
struct MetricRow {
  std::string run_key;
  std::string matrix;
  std::string method;
  std::string scheme;
  nlohmann::json config;
  std::string name;
  std::string dataset;
  std::string pos;
  double value = 0;
  nlohmann::json protocol;
};

struct ArtifactRecord {
  std::string key;   // content key, unique
  std::string kind;  // transformed_model, clips, scales, export, ...
  std::string path;
  std::string sha256;
  int64_t bytes = 0;
  std::string created_at;
  bool operator==(const ArtifactRecord&) const;
};

struct MergeStats {
  int64_t added = 0;     // run_keys new to this store
  int64_t replaced = 0;  // unfinished here, finished there
  int64_t skipped = 0;   // already finished here, or unfinished in both
};

// The current UTC time as ISO-8601, "2025-01-31T12:34:56Z".
std::string utc_now();

// The `ptq run --config ... --json` object (src/cli/cmd_run.cc) as a finished RunRecord: method, quant (scheme),
// config, calibration, system (git_sha, torch_version), notes, saved; every eval number as a metric
// (name ppl|ppl_stderr|nll_mean|tokens|windows|seconds, dataset, pos, protocol); layer_errors as rel_output_error and
// rel_weight_error rows; block_errors as rel_output_error rows; timings by stage; events (numerical guards) as they are. finished_at is now and started_at
// is now minus timings.total when present. device is the JSON's "device" if any, else config.device.
RunRecord run_record_from_json(const nlohmann::json& run, const std::string& matrix, const std::string& run_key);

class Store {
 public:
  // Opens or creates the store at `path` and migrates its schema to the current version (one transaction).
  // A file written by a newer ptq (higher schema version) is refused.
  explicit Store(const std::string& path);

  const std::string& path() const { return db_.path(); }
  Database& db() { return db_; }
  int schema_version();

  // Writes the run and all its rows in one transaction. A previous row with the same run_key is replaced when it is
  // 'running' or 'failed'; a 'finished' one only when replace_finished (else an error naming the run_key).
  // `artifacts` (files the run produced or reused, put_artifact's rules) are written in the same transaction, so a
  // finished run and its artifact rows appear together or not at all.
  void record_run(const RunRecord& run, bool replace_finished = false,
                  const std::vector<ArtifactRecord>& artifacts = {});
  // Records that the run has started: a 'running' row with run's header fields (no metric rows), so a process that
  // is killed leaves a row a rerun recognises as unfinished. Same replace rules as record_run.
  void mark_running(const RunRecord& run, bool replace_finished = false);

  bool is_finished(const std::string& run_key);
  std::optional<RunStatus> status(const std::string& run_key);
  std::optional<RunRecord> run(const std::string& run_key);
  // Every run of `matrix` ("" = all matrices), by id (insertion order), with all rows.
  std::vector<RunRecord> runs(const std::string& matrix = "");
  // Finished runs' metric `name` ("" = every metric) for `matrix` ("" = all), by run id then dataset, pos.
  std::vector<MetricRow> metrics(const std::string& matrix, const std::string& name);

  // Merges another store (a shard) into this one, in one transaction, by run_key: runs new here are added; a run
  // that is unfinished here and finished there is replaced; everything else is left. Merging twice changes nothing.
  // The other file is opened through Store (so an older shard is migrated first).
  MergeStats merge_from(const std::string& other_path);

  void put_artifact(const ArtifactRecord& a);  // replaces the row with the same key
  std::optional<ArtifactRecord> artifact(const std::string& key);

  // PRAGMA integrity_check plus the store's own invariants (no duplicate run_key, no orphan rows). On failure
  // `details` (when given) says what is wrong.
  bool integrity_ok(std::string* details = nullptr);

 private:
  void migrate();
  void write_run(const RunRecord& run, bool replace_finished, bool header_only);
  RunRecord read_run(Statement& row);
  Database db_;
};

}  // namespace ptq
