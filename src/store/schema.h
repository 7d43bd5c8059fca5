// The results store's schema, as migrations. Migration i (1-based) takes a store from version i-1 to version i;
// Store applies the missing ones in order, in one BEGIN IMMEDIATE transaction, and appends a schema_version row
// (version, applied_at) per step, so the file's version is MAX(version) and its history is kept. Never edit a
// shipped migration: append a new one (a file written by a newer ptq is refused, not guessed at).
//
// The schema at the current version (4):
//
//   schema_version(version INTEGER PRIMARY KEY, applied_at TEXT)
//   runs(id INTEGER PRIMARY KEY, matrix TEXT, run_key TEXT UNIQUE, config_json TEXT,
//        status TEXT CHECK IN ('running','finished','failed'), error TEXT, git_sha TEXT, torch_version TEXT,
//        device TEXT, started_at TEXT, finished_at TEXT,                                          -- v1
//        method TEXT, scheme TEXT, quant_json TEXT, calibration_json TEXT, system_json TEXT,
//        notes_json TEXT, saved_path TEXT)                                                        -- v2
//   metrics(run_id -> runs ON DELETE CASCADE, name TEXT, dataset TEXT, value REAL, protocol_json TEXT,  -- v1
//           pos TEXT)                                              -- v2, with UNIQUE (run_id, name, dataset, pos)
//   layer_errors(run_id -> runs, block INTEGER, layer TEXT, metric TEXT, value REAL)
//                                                                  -- v2: UNIQUE (run_id, layer, metric)
//   block_errors(run_id -> runs, block INTEGER, metric TEXT, value REAL)   -- v2, UNIQUE (run_id, block, metric)
//   timings(run_id -> runs, stage TEXT, seconds REAL, peak_bytes INTEGER)  -- v2: UNIQUE (run_id, stage)
//   artifacts(id INTEGER PRIMARY KEY, key TEXT UNIQUE, kind TEXT, path TEXT, sha256 TEXT, bytes INTEGER,
//             created_at TEXT)
//   events(run_id -> runs ON DELETE CASCADE, block INTEGER, layer TEXT, kind TEXT, fallback TEXT, detail_json TEXT)
//                                                                  -- v3: numerical guards that fired during a run
//   bench_runs(id INTEGER PRIMARY KEY, key TEXT UNIQUE, program TEXT, label TEXT, device TEXT, host TEXT, date TEXT,
//              git_sha TEXT, threads INTEGER, context_json TEXT, imported_at TEXT)                -- v4
//   bench_results(bench_run_id -> bench_runs ON DELETE CASCADE, name TEXT, aggregate TEXT, iterations INTEGER,
//                 real_time REAL, cpu_time REAL, time_unit TEXT, counters_json TEXT)             -- v4
//
// REAL value columns are nullable: NULL is NaN (SQLite stores a bound NaN as NULL).
#pragma once

#include <array>
#include <string_view>

namespace ptq::schema {

// v1: the first schema (runs, metrics, per-layer errors, timings, artifacts).
inline constexpr std::string_view kMigration1 = R"sql(
CREATE TABLE runs (
  id            INTEGER PRIMARY KEY,
  matrix        TEXT NOT NULL DEFAULT '',
  run_key       TEXT NOT NULL UNIQUE,
  config_json   TEXT NOT NULL,
  status        TEXT NOT NULL CHECK (status IN ('running', 'finished', 'failed')),
  error         TEXT,
  git_sha       TEXT,
  torch_version TEXT,
  device        TEXT,
  started_at    TEXT,
  finished_at   TEXT
);
CREATE TABLE metrics (
  run_id        INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  name          TEXT NOT NULL,
  dataset       TEXT NOT NULL DEFAULT '',
  value         REAL,
  protocol_json TEXT
);
CREATE TABLE layer_errors (
  run_id        INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  block         INTEGER NOT NULL,
  layer         TEXT NOT NULL,
  metric        TEXT NOT NULL,
  value         REAL
);
CREATE TABLE timings (
  run_id        INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  stage         TEXT NOT NULL,
  seconds       REAL,
  peak_bytes    INTEGER
);
CREATE TABLE artifacts (
  id            INTEGER PRIMARY KEY,
  key           TEXT NOT NULL UNIQUE,
  kind          TEXT NOT NULL,
  path          TEXT NOT NULL,
  sha256        TEXT,
  bytes         INTEGER,
  created_at    TEXT
);
)sql";

// v2: what `ptq run --json` reports beyond the sketch (method, scheme, quant, calibration provenance, system, notes,
// saved checkpoint), the eval position of a metric, per-block errors, uniqueness of a run's rows, and indexes.
inline constexpr std::string_view kMigration2 = R"sql(
ALTER TABLE runs ADD COLUMN method TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN scheme TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN quant_json TEXT;
ALTER TABLE runs ADD COLUMN calibration_json TEXT;
ALTER TABLE runs ADD COLUMN system_json TEXT;
ALTER TABLE runs ADD COLUMN notes_json TEXT;
ALTER TABLE runs ADD COLUMN saved_path TEXT;
ALTER TABLE metrics ADD COLUMN pos TEXT NOT NULL DEFAULT '';
CREATE TABLE block_errors (
  run_id        INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  block         INTEGER NOT NULL,
  metric        TEXT NOT NULL,
  value         REAL
);
CREATE INDEX runs_matrix ON runs(matrix);
CREATE UNIQUE INDEX metrics_key ON metrics(run_id, name, dataset, pos);
CREATE INDEX metrics_name ON metrics(name);
CREATE UNIQUE INDEX layer_errors_key ON layer_errors(run_id, layer, metric);
CREATE UNIQUE INDEX block_errors_key ON block_errors(run_id, block, metric);
CREATE UNIQUE INDEX timings_key ON timings(run_id, stage);
)sql";

// v3: the numerical guards that fired during a run (BlockContext::event): NaN/inf in AWQ's searches, a GPTQ Hessian
// whose Cholesky factorisation failed, an OmniQuant block whose training diverged; each with the fallback applied.
// One row per event, in the order they happened; `layer` is the HF module name (or "model.layers.<b>" for a block).
inline constexpr std::string_view kMigration3 = R"sql(
CREATE TABLE events (
  run_id        INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  block         INTEGER NOT NULL,
  layer         TEXT NOT NULL DEFAULT '',
  kind          TEXT NOT NULL,
  fallback      TEXT NOT NULL DEFAULT '',
  detail_json   TEXT
);
CREATE INDEX events_run ON events(run_id);
CREATE INDEX events_kind ON events(kind);
)sql";

// v4: Google Benchmark results (tests/bench programs, `ptq bench-import`): one bench_runs row per imported JSON file
// (key = sha256 of its bytes, so importing a file again adds nothing) with the program, the machine it ran on
// (device: CPU model or GPU name, host, threads) and Google Benchmark's whole context; one bench_results row per
// benchmark with its times (in time_unit) and every user counter (tokens_per_s, GFLOP/s, ratios, ...).
inline constexpr std::string_view kMigration4 = R"sql(
CREATE TABLE bench_runs (
  id            INTEGER PRIMARY KEY,
  key           TEXT NOT NULL UNIQUE,
  program       TEXT NOT NULL,
  label         TEXT NOT NULL DEFAULT '',
  device        TEXT NOT NULL DEFAULT '',
  host          TEXT,
  date          TEXT,
  git_sha       TEXT,
  threads       INTEGER,
  context_json  TEXT,
  imported_at   TEXT
);
CREATE TABLE bench_results (
  bench_run_id  INTEGER NOT NULL REFERENCES bench_runs(id) ON DELETE CASCADE,
  name          TEXT NOT NULL,
  aggregate     TEXT NOT NULL DEFAULT '',
  iterations    INTEGER,
  real_time     REAL,
  cpu_time      REAL,
  time_unit     TEXT,
  counters_json TEXT
);
CREATE UNIQUE INDEX bench_results_key ON bench_results(bench_run_id, name, aggregate);
CREATE INDEX bench_runs_program ON bench_runs(program);
)sql";

inline constexpr std::array<std::string_view, 4> kMigrations = {kMigration1, kMigration2, kMigration3, kMigration4};
inline constexpr int kCurrentVersion = static_cast<int>(kMigrations.size());

// Created before any migration runs (not versioned itself).
inline constexpr std::string_view kVersionTable =
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)";

}  // namespace ptq::schema
