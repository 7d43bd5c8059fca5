// The results store: one SQLite file per matrix shard (docs/formats.md, "The results store"): the schema
// (src/store/schema.h, versioned migrations applied on open) and the operations the runner and the report commands
// need: record a run with all its rows in one transaction, resume (is_finished), mark a run 'running' before it
// starts, query runs and metrics, merge shards. Built on store/sqlite_db.h; its records are store/run_record.h.
//
// Concurrency: several processes (or threads, each with its own Store) may write one file at once; WAL lets
// readers run beside the single writer and BEGIN IMMEDIATE + busy_timeout serialise the writers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "store/run_record.h"
#include "store/sqlite_db.h"

namespace ptq {

struct MergeStats {
  int64_t added = 0;     // run_keys new to this store
  int64_t replaced = 0;  // unfinished here, finished there
  int64_t skipped = 0;   // already finished here, or unfinished in both
};

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
