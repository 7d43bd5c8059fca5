#include "store/db.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <limits>
#include <utility>

#include "core/error.h"
#include "store/schema.h"

namespace ptq {

namespace {

constexpr int kBusyTimeoutMs = 10'000;

// The statement as it appears in an error message: whitespace collapsed, at most 120 characters.
std::string short_sql(const std::string& sql) {
  std::string out;
  bool space = false;
  for (char c : sql) {
    if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  if (out.size() > 120) out = out.substr(0, 117) + "...";
  return out;
}

bool same_double(double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); }

std::string format_utc(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// Database

Database::Database(const std::string& path, bool create) : path_(path) {
  const int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    const std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close_v2(db_);
    db_ = nullptr;
    PTQ_FAIL("{}: cannot open the results store: {}", path_, msg);
  }
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, kBusyTimeoutMs);
  try {
    // journal_mode returns a row (the mode now in effect); a file that is not SQLite fails here.
    Statement wal(*this, "PRAGMA journal_mode=WAL");
    wal.step();
    exec("PRAGMA foreign_keys=ON");
  } catch (...) {
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw;
  }
}

Database::~Database() {
  if (db_) sqlite3_close_v2(db_);
}

Database::Database(Database&& other) noexcept : path_(std::move(other.path_)), db_(std::exchange(other.db_, nullptr)) {}

void Database::exec(const std::string& sql) {
  char* err = nullptr;
  const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    const std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    fail_message(sql, msg);
  }
}

int64_t Database::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
int64_t Database::changes() const { return sqlite3_changes(db_); }

void Database::fail(const std::string& sql, int rc) const {
  fail_message(sql, db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc));
}

void Database::fail_message(const std::string& sql, const std::string& message) const {
  PTQ_FAIL("{}: {}: {}", path_, short_sql(sql), message);
}

// ---------------------------------------------------------------------------------------------------------------
// Statement

Statement::Statement(Database& db, std::string sql) : db_(db), sql_(std::move(sql)) {
  const int rc = sqlite3_prepare_v2(db_.handle(), sql_.c_str(), static_cast<int>(sql_.size()), &stmt_, nullptr);
  if (rc != SQLITE_OK) db_.fail(sql_, rc);
  PTQ_ASSERT(stmt_ != nullptr, "{}: empty statement", short_sql(sql_));
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

void Statement::check_bind(int rc) {
  if (rc != SQLITE_OK) db_.fail(sql_, rc);
}

int Statement::param(const char* name) const {
  const int i = sqlite3_bind_parameter_index(stmt_, name);
  if (i == 0) db_.fail_message(sql_, fmt::format("no parameter named {}", name));
  return i;
}

Statement& Statement::bind(int index, int64_t v) {
  check_bind(sqlite3_bind_int64(stmt_, index, v));
  return *this;
}

Statement& Statement::bind(int index, double v) {
  check_bind(std::isnan(v) ? sqlite3_bind_null(stmt_, index) : sqlite3_bind_double(stmt_, index, v));
  return *this;
}

Statement& Statement::bind(int index, const std::string& v) {
  check_bind(sqlite3_bind_text64(stmt_, index, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  return *this;
}

Statement& Statement::bind_null(int index) {
  check_bind(sqlite3_bind_null(stmt_, index));
  return *this;
}

Statement& Statement::bind_json(int index, const nlohmann::json& v) {
  if (v.is_null()) return bind_null(index);
  return bind(index, v.dump());
}

Statement& Statement::bind_text_or_null(int index, const std::string& v) {
  return v.empty() ? bind_null(index) : bind(index, v);
}

Statement& Statement::bind_opt(int index, const std::optional<int64_t>& v) {
  return v ? bind(index, *v) : bind_null(index);
}

bool Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  const std::string msg = sqlite3_errmsg(db_.handle());
  sqlite3_reset(stmt_);
  db_.fail_message(sql_, msg);
}

void Statement::run() {
  while (step()) {
  }
  reset();
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int Statement::column_count() const { return sqlite3_column_count(stmt_); }
bool Statement::is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
int64_t Statement::column_int64(int col) const { return sqlite3_column_int64(stmt_, col); }

double Statement::column_double(int col) const {
  return is_null(col) ? std::numeric_limits<double>::quiet_NaN() : sqlite3_column_double(stmt_, col);
}

std::string Statement::column_text(int col) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  if (!p) return {};
  return std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
}

nlohmann::json Statement::column_json(int col) const {
  if (is_null(col)) return nullptr;
  const std::string text = column_text(col);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    db_.fail_message(sql_, fmt::format("column {} is not valid JSON: {}", sqlite3_column_name(stmt_, col), e.what()));
  }
}

std::optional<int64_t> Statement::column_opt_int64(int col) const {
  if (is_null(col)) return std::nullopt;
  return column_int64(col);
}

// ---------------------------------------------------------------------------------------------------------------
// Transaction

Transaction::Transaction(Database& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }

Transaction::~Transaction() {
  if (!done_) sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void Transaction::commit() {
  db_.exec("COMMIT");
  done_ = true;
}

// ---------------------------------------------------------------------------------------------------------------
// Records

std::string to_string(RunStatus s) {
  switch (s) {
    case RunStatus::kRunning:
      return "running";
    case RunStatus::kFinished:
      return "finished";
    case RunStatus::kFailed:
      return "failed";
  }
  detail::throw_error(ErrorKind::kInternal, __FILE__, __LINE__,
                      fmt::format("unknown RunStatus {}", static_cast<int>(s)));
}

RunStatus parse_run_status(const std::string& s) {
  if (s == "running") return RunStatus::kRunning;
  if (s == "finished") return RunStatus::kFinished;
  if (s == "failed") return RunStatus::kFailed;
  PTQ_FAIL("unknown run status '{}' (running, finished, failed)", s);
}

bool MetricValue::operator==(const MetricValue& o) const {
  return name == o.name && dataset == o.dataset && pos == o.pos && same_double(value, o.value) &&
         protocol == o.protocol;
}
bool LayerErrorValue::operator==(const LayerErrorValue& o) const {
  return block == o.block && layer == o.layer && metric == o.metric && same_double(value, o.value);
}
bool BlockErrorValue::operator==(const BlockErrorValue& o) const {
  return block == o.block && metric == o.metric && same_double(value, o.value);
}
bool EventValue::operator==(const EventValue& o) const {
  return block == o.block && layer == o.layer && kind == o.kind && fallback == o.fallback && detail == o.detail;
}
bool TimingValue::operator==(const TimingValue& o) const {
  return stage == o.stage && same_double(seconds, o.seconds) && peak_bytes == o.peak_bytes;
}
bool ArtifactRecord::operator==(const ArtifactRecord& o) const {
  return key == o.key && kind == o.kind && path == o.path && sha256 == o.sha256 && bytes == o.bytes &&
         created_at == o.created_at;
}
bool RunRecord::operator==(const RunRecord& o) const {
  return matrix == o.matrix && run_key == o.run_key && config == o.config && status == o.status && error == o.error &&
         git_sha == o.git_sha && torch_version == o.torch_version && device == o.device && started_at == o.started_at &&
         finished_at == o.finished_at && method == o.method && scheme == o.scheme && quant == o.quant &&
         calibration == o.calibration && system == o.system && notes == o.notes && saved_path == o.saved_path &&
         metrics == o.metrics && layer_errors == o.layer_errors && block_errors == o.block_errors &&
         timings == o.timings && events == o.events;
}

std::string utc_now() { return format_utc(std::time(nullptr)); }

RunRecord run_record_from_json(const nlohmann::json& j, const std::string& matrix, const std::string& run_key) {
  PTQ_CHECK(j.is_object(), "run {}: the run result is not a JSON object", run_key);
  auto str = [](const nlohmann::json& o, const char* key) -> std::string {
    if (!o.is_object() || !o.contains(key) || !o[key].is_string()) return {};
    return o[key].get<std::string>();
  };
  auto get = [](const nlohmann::json& o, const char* key) -> nlohmann::json {
    return o.is_object() && o.contains(key) ? o[key] : nlohmann::json();
  };
  // Numbers; null (how nlohmann::json writes NaN) reads as NaN.
  auto num = [&](const nlohmann::json& v, const std::string& what) -> double {
    if (v.is_null()) return std::numeric_limits<double>::quiet_NaN();
    PTQ_CHECK(v.is_number(), "run {}: {} is not a number: {}", run_key, what, v.dump());
    return v.get<double>();
  };

  RunRecord r;
  r.matrix = matrix;
  r.run_key = run_key;
  r.status = RunStatus::kFinished;
  r.config = get(j, "config");
  r.method = str(j, "method");
  r.quant = get(j, "quant");
  r.scheme = str(r.quant, "scheme");
  r.calibration = get(j, "calibration");
  r.system = get(j, "system");
  r.notes = get(j, "notes");
  r.saved_path = str(j, "saved");
  r.git_sha = str(r.system, "git_commit");
  r.torch_version = str(r.system, "torch_version");
  r.device = str(j, "device");
  if (r.device.empty()) r.device = str(r.config, "device");

  const std::time_t now = std::time(nullptr);
  r.finished_at = format_utc(now);
  r.started_at = r.finished_at;

  const nlohmann::json timings = get(j, "timings");
  if (timings.is_object()) {
    for (const auto& [stage, v] : timings.items()) {
      TimingValue t;
      t.stage = stage;
      if (v.is_object()) {  // {"seconds": s, "peak_bytes": n}, for stages that measure memory
        t.seconds = num(get(v, "seconds"), "timings." + stage + ".seconds");
        if (v.contains("peak_bytes") && v["peak_bytes"].is_number()) t.peak_bytes = v["peak_bytes"].get<int64_t>();
      } else {
        t.seconds = num(v, "timings." + stage);
      }
      r.timings.push_back(t);
    }
    if (timings.contains("total") && timings["total"].is_number())
      r.started_at = format_utc(now - static_cast<std::time_t>(std::llround(timings["total"].get<double>())));
    // The run's peak host memory (runner.h "memory") is stored with its total time.
    const nlohmann::json mem = get(j, "memory");
    if (mem.is_object() && mem.contains("peak_rss_bytes") && mem["peak_rss_bytes"].is_number_integer() &&
        mem["peak_rss_bytes"].get<int64_t>() > 0)
      for (auto& t : r.timings)
        if (t.stage == "total" && !t.peak_bytes) t.peak_bytes = mem["peak_rss_bytes"].get<int64_t>();
  }

  const nlohmann::json evals = get(j, "evals");
  if (evals.is_array()) {
    for (const auto& e : evals) {
      const std::string dataset = str(e, "dataset");
      const std::string pos = str(e, "pos");
      for (const char* name : {"ppl", "ppl_stderr", "nll_mean", "tokens", "windows", "seconds"}) {
        if (!e.contains(name)) continue;
        r.metrics.push_back(
            {name, dataset, pos, num(e[name], fmt::format("evals {} {} {}", pos, dataset, name)), get(e, "protocol")});
      }
    }
  }

  const nlohmann::json layers = get(j, "layer_errors");
  if (layers.is_array()) {
    for (const auto& e : layers) {
      const int64_t block = get(e, "block").is_number_integer() ? e["block"].get<int64_t>() : 0;
      const std::string layer = str(e, "layer");
      for (const char* metric : {"rel_output_error", "rel_weight_error"})
        if (e.contains(metric)) r.layer_errors.push_back({block, layer, metric, num(e[metric], layer + " " + metric)});
    }
  }

  const nlohmann::json events = get(j, "events");
  if (events.is_array())
    for (const auto& e : events) {
      const int64_t block = get(e, "block").is_number_integer() ? e["block"].get<int64_t>() : 0;
      r.events.push_back({block, str(e, "layer"), str(e, "kind"), str(e, "fallback"), get(e, "detail")});
    }

  const nlohmann::json blocks = get(j, "block_errors");
  if (blocks.is_array())
    for (size_t i = 0; i < blocks.size(); ++i)
      r.block_errors.push_back(
          {static_cast<int64_t>(i), "rel_output_error", num(blocks[i], fmt::format("block_errors[{}]", i))});
  return r;
}

// ---------------------------------------------------------------------------------------------------------------
// Store

namespace {

// Runs fn(); a ptq::Error escaping it gets " (what)" appended, so the message still starts with the file:
// "results/x.db: INSERT INTO metrics ...: UNIQUE constraint failed: ... (run k1: metric ppl wikitext2 fake_quant)".
template <class Fn>
void about(const std::string& what, Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    throw Error(e.kind(), fmt::format("{} ({})", e.what(), what), e.source_location());
  }
}

constexpr const char* kRunColumns =
    "id, matrix, run_key, config_json, status, error, git_sha, torch_version, device, started_at, finished_at, "
    "method, scheme, quant_json, calibration_json, system_json, notes_json, saved_path";

int read_version(Database& db) {
  Statement exists(db, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'");
  exists.step();
  if (exists.column_int64(0) == 0) return 0;
  Statement v(db, "SELECT COALESCE(MAX(version), 0) FROM schema_version");
  v.step();
  return static_cast<int>(v.column_int64(0));
}

void check_not_newer(const Database& db, int version) {
  PTQ_CHECK(version <= schema::kCurrentVersion,
            "{}: the results store has schema version {}, newer than this ptq supports ({}); use a newer ptq",
            db.path(), version, schema::kCurrentVersion);
}

}  // namespace

Store::Store(const std::string& path) : db_(path) { migrate(); }

void Store::migrate() {
  int version = read_version(db_);
  check_not_newer(db_, version);
  if (version == schema::kCurrentVersion) return;
  Transaction tx(db_);
  db_.exec(std::string(schema::kVersionTable));
  version = read_version(db_);  // another process may have migrated meanwhile
  check_not_newer(db_, version);
  Statement mark(db_, "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)");
  for (int v = version + 1; v <= schema::kCurrentVersion; ++v) {
    about(fmt::format("migrating to schema version {}", v),
          [&] { db_.exec(std::string(schema::kMigrations[static_cast<size_t>(v - 1)])); });
    mark.bind(1, v).bind(2, utc_now()).run();
  }
  tx.commit();
}

int Store::schema_version() { return read_version(db_); }

void Store::write_run(const RunRecord& r, bool replace_finished, bool header_only) {
  PTQ_CHECK(!r.run_key.empty(), "{}: a run needs a run_key", path());
  {
    Statement old(db_, "SELECT id, status FROM runs WHERE run_key = ?");
    old.bind(1, r.run_key);
    if (old.step()) {
      const int64_t id = old.column_int64(0);
      const std::string status = old.column_text(1);
      PTQ_CHECK(status != "finished" || replace_finished,
                "{}: run {} is already finished; not replacing it unless asked to (replace_finished)", path(),
                r.run_key);
      Statement del(db_, "DELETE FROM runs WHERE id = ?");  // child rows go with it (ON DELETE CASCADE)
      del.bind(1, id).run();
    }
  }
  Statement ins(db_,
                "INSERT INTO runs (matrix, run_key, config_json, status, error, git_sha, torch_version, device, "
                "started_at, finished_at, method, scheme, quant_json, calibration_json, system_json, notes_json, "
                "saved_path) VALUES (:matrix, :run_key, :config, :status, :error, :git_sha, :torch_version, :device, "
                ":started_at, :finished_at, :method, :scheme, :quant, :calibration, :system, :notes, :saved_path)");
  const RunStatus status = header_only ? RunStatus::kRunning : r.status;
  // config_json is NOT NULL: an absent config is stored as the text "null" and reads back as json null.
  ins.bind(":matrix", r.matrix)
      .bind(":run_key", r.run_key)
      .bind(":config", r.config.dump())
      .bind(":status", to_string(status))
      .bind(":git_sha", r.git_sha)
      .bind(":torch_version", r.torch_version)
      .bind(":device", r.device)
      .bind(":started_at", r.started_at)
      .bind(":method", r.method)
      .bind(":scheme", r.scheme)
      .bind(":saved_path", r.saved_path);
  ins.bind_text_or_null(ins.param(":error"), header_only ? std::string() : r.error)
      .bind_text_or_null(ins.param(":finished_at"), header_only ? std::string() : r.finished_at)
      .bind_json(ins.param(":quant"), r.quant)
      .bind_json(ins.param(":calibration"), r.calibration)
      .bind_json(ins.param(":system"), r.system)
      .bind_json(ins.param(":notes"), r.notes);
  ins.run();
  if (header_only) return;
  const int64_t id = db_.last_insert_rowid();

  Statement metric(db_,
                   "INSERT INTO metrics (run_id, name, dataset, pos, value, protocol_json) VALUES (?, ?, ?, ?, ?, ?)");
  for (const auto& m : r.metrics)
    about(fmt::format("run {}: metric {} {} {}", r.run_key, m.name, m.dataset, m.pos), [&] {
      metric.bind(1, id).bind(2, m.name).bind(3, m.dataset).bind(4, m.pos).bind(5, m.value).bind_json(6, m.protocol);
      metric.run();
    });
  Statement layer(db_, "INSERT INTO layer_errors (run_id, block, layer, metric, value) VALUES (?, ?, ?, ?, ?)");
  for (const auto& e : r.layer_errors)
    about(fmt::format("run {}: layer error {} {}", r.run_key, e.layer, e.metric),
          [&] { layer.bind(1, id).bind(2, e.block).bind(3, e.layer).bind(4, e.metric).bind(5, e.value).run(); });
  Statement block(db_, "INSERT INTO block_errors (run_id, block, metric, value) VALUES (?, ?, ?, ?)");
  for (const auto& e : r.block_errors)
    about(fmt::format("run {}: block error {} {}", r.run_key, e.block, e.metric),
          [&] { block.bind(1, id).bind(2, e.block).bind(3, e.metric).bind(4, e.value).run(); });
  Statement timing(db_, "INSERT INTO timings (run_id, stage, seconds, peak_bytes) VALUES (?, ?, ?, ?)");
  for (const auto& t : r.timings)
    about(fmt::format("run {}: timing {}", r.run_key, t.stage),
          [&] { timing.bind(1, id).bind(2, t.stage).bind(3, t.seconds).bind_opt(4, t.peak_bytes).run(); });
  Statement event(db_,
                  "INSERT INTO events (run_id, block, layer, kind, fallback, detail_json) VALUES (?, ?, ?, ?, ?, ?)");
  for (const auto& e : r.events)
    about(fmt::format("run {}: event {} {}", r.run_key, e.layer, e.kind), [&] {
      event.bind(1, id).bind(2, e.block).bind(3, e.layer).bind(4, e.kind).bind(5, e.fallback).bind_json(6, e.detail);
      event.run();
    });
}

void Store::record_run(const RunRecord& run, bool replace_finished, const std::vector<ArtifactRecord>& artifacts) {
  Transaction tx(db_);
  write_run(run, replace_finished, /*header_only=*/false);
  for (const auto& a : artifacts) put_artifact(a);
  tx.commit();
}

void Store::mark_running(const RunRecord& run, bool replace_finished) {
  Transaction tx(db_);
  write_run(run, replace_finished, /*header_only=*/true);
  tx.commit();
}

std::optional<RunStatus> Store::status(const std::string& run_key) {
  Statement q(db_, "SELECT status FROM runs WHERE run_key = ?");
  q.bind(1, run_key);
  if (!q.step()) return std::nullopt;
  return parse_run_status(q.column_text(0));
}

bool Store::is_finished(const std::string& run_key) { return status(run_key) == RunStatus::kFinished; }

RunRecord Store::read_run(Statement& row) {
  RunRecord r;
  const int64_t id = row.column_int64(0);
  r.matrix = row.column_text(1);
  r.run_key = row.column_text(2);
  r.config = row.column_json(3);
  r.status =
      with_context(fmt::format("{}: run {}", path(), r.run_key), [&] { return parse_run_status(row.column_text(4)); });
  r.error = row.column_text(5);
  r.git_sha = row.column_text(6);
  r.torch_version = row.column_text(7);
  r.device = row.column_text(8);
  r.started_at = row.column_text(9);
  r.finished_at = row.column_text(10);
  r.method = row.column_text(11);
  r.scheme = row.column_text(12);
  r.quant = row.column_json(13);
  r.calibration = row.column_json(14);
  r.system = row.column_json(15);
  r.notes = row.column_json(16);
  r.saved_path = row.column_text(17);

  Statement m(db_, "SELECT name, dataset, pos, value, protocol_json FROM metrics WHERE run_id = ? ORDER BY rowid");
  m.bind(1, id);
  while (m.step())
    r.metrics.push_back({m.column_text(0), m.column_text(1), m.column_text(2), m.column_double(3), m.column_json(4)});
  Statement l(db_, "SELECT block, layer, metric, value FROM layer_errors WHERE run_id = ? ORDER BY rowid");
  l.bind(1, id);
  while (l.step())
    r.layer_errors.push_back({l.column_int64(0), l.column_text(1), l.column_text(2), l.column_double(3)});
  Statement b(db_, "SELECT block, metric, value FROM block_errors WHERE run_id = ? ORDER BY rowid");
  b.bind(1, id);
  while (b.step()) r.block_errors.push_back({b.column_int64(0), b.column_text(1), b.column_double(2)});
  Statement t(db_, "SELECT stage, seconds, peak_bytes FROM timings WHERE run_id = ? ORDER BY rowid");
  t.bind(1, id);
  while (t.step()) r.timings.push_back({t.column_text(0), t.column_double(1), t.column_opt_int64(2)});
  Statement e(db_, "SELECT block, layer, kind, fallback, detail_json FROM events WHERE run_id = ? ORDER BY rowid");
  e.bind(1, id);
  while (e.step())
    r.events.push_back({e.column_int64(0), e.column_text(1), e.column_text(2), e.column_text(3), e.column_json(4)});
  return r;
}

std::optional<RunRecord> Store::run(const std::string& run_key) {
  Statement q(db_, fmt::format("SELECT {} FROM runs WHERE run_key = ?", kRunColumns));
  q.bind(1, run_key);
  if (!q.step()) return std::nullopt;
  return read_run(q);
}

std::vector<RunRecord> Store::runs(const std::string& matrix) {
  Statement q(db_,
              fmt::format("SELECT {} FROM runs WHERE (:matrix = '' OR matrix = :matrix) ORDER BY id", kRunColumns));
  q.bind(":matrix", matrix);
  std::vector<RunRecord> out;
  while (q.step()) out.push_back(read_run(q));
  return out;
}

std::vector<MetricRow> Store::metrics(const std::string& matrix, const std::string& name) {
  Statement q(db_,
              "SELECT r.run_key, r.matrix, r.method, r.scheme, r.config_json, m.name, m.dataset, m.pos, m.value, "
              "m.protocol_json FROM metrics m JOIN runs r ON r.id = m.run_id "
              "WHERE r.status = 'finished' AND (:matrix = '' OR r.matrix = :matrix) AND (:name = '' OR m.name = :name) "
              "ORDER BY r.id, m.dataset, m.pos, m.name");
  q.bind(":matrix", matrix).bind(":name", name);
  std::vector<MetricRow> out;
  while (q.step())
    out.push_back({q.column_text(0), q.column_text(1), q.column_text(2), q.column_text(3), q.column_json(4),
                   q.column_text(5), q.column_text(6), q.column_text(7), q.column_double(8), q.column_json(9)});
  return out;
}

MergeStats Store::merge_from(const std::string& other_path) {
  std::error_code ec;
  PTQ_CHECK(!std::filesystem::equivalent(other_path, path(), ec), "{}: cannot merge a store into itself", path());
  PTQ_CHECK(std::filesystem::is_regular_file(other_path), "{}: no such results store to merge", other_path);
  Store other(other_path);
  const std::vector<RunRecord> theirs = other.runs();
  std::vector<ArtifactRecord> artifacts;
  {
    Statement a(other.db(), "SELECT key, kind, path, sha256, bytes, created_at FROM artifacts ORDER BY id");
    while (a.step())
      artifacts.push_back({a.column_text(0), a.column_text(1), a.column_text(2), a.column_text(3), a.column_int64(4),
                           a.column_text(5)});
  }

  MergeStats stats;
  Transaction tx(db_);
  for (const auto& r : theirs) {
    const std::optional<RunStatus> mine = status(r.run_key);
    if (!mine) {
      write_run(r, false, false);
      ++stats.added;
    } else if (*mine != RunStatus::kFinished && r.status == RunStatus::kFinished) {
      write_run(r, false, false);
      ++stats.replaced;
    } else {
      ++stats.skipped;
    }
  }
  Statement ins(
      db_, "INSERT OR IGNORE INTO artifacts (key, kind, path, sha256, bytes, created_at) VALUES (?, ?, ?, ?, ?, ?)");
  for (const auto& a : artifacts)
    ins.bind(1, a.key).bind(2, a.kind).bind(3, a.path).bind(4, a.sha256).bind(5, a.bytes).bind(6, a.created_at).run();
  tx.commit();
  return stats;
}

void Store::put_artifact(const ArtifactRecord& a) {
  Statement ins(db_,
                "INSERT INTO artifacts (key, kind, path, sha256, bytes, created_at) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET kind = excluded.kind, path = excluded.path, sha256 = excluded.sha256, "
                "bytes = excluded.bytes, created_at = excluded.created_at");
  ins.bind(1, a.key).bind(2, a.kind).bind(3, a.path).bind(4, a.sha256).bind(5, a.bytes).bind(6, a.created_at).run();
}

std::optional<ArtifactRecord> Store::artifact(const std::string& key) {
  Statement q(db_, "SELECT key, kind, path, sha256, bytes, created_at FROM artifacts WHERE key = ?");
  q.bind(1, key);
  if (!q.step()) return std::nullopt;
  return ArtifactRecord{q.column_text(0), q.column_text(1),  q.column_text(2),
                        q.column_text(3), q.column_int64(4), q.column_text(5)};
}

bool Store::integrity_ok(std::string* details) {
  std::string problems;
  {
    Statement q(db_, "PRAGMA integrity_check");
    while (q.step()) {
      const std::string line = q.column_text(0);
      if (line != "ok") problems += line + "\n";
    }
  }
  {
    Statement q(db_, "SELECT run_key, COUNT(*) FROM runs GROUP BY run_key HAVING COUNT(*) > 1");
    while (q.step()) problems += fmt::format("run_key {} appears {} times\n", q.column_text(0), q.column_int64(1));
  }
  {
    Statement q(db_, "PRAGMA foreign_key_check");
    while (q.step())
      problems += fmt::format("table {} row {} has no parent run\n", q.column_text(0), q.column_int64(1));
  }
  if (details) *details = problems;
  return problems.empty();
}

}  // namespace ptq
