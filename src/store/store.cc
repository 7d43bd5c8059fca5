#include "store/store.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <filesystem>
#include <utility>

#include "core/error.h"
#include "store/schema.h"

namespace ptq {

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
