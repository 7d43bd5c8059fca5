#include "store/bench_import.h"

#include <filesystem>
#include <set>

#include "core/error.h"
#include "core/sha256.h"
#include "store/store.h"

namespace ptq {

namespace {

// Google Benchmark's own per-benchmark fields; every other member of a benchmark object is a counter.
const std::set<std::string>& reserved_fields() {
  static const std::set<std::string> f = {
      "name",          "family_index",   "per_family_instance_index", "run_name",      "run_type",
      "repetitions",   "repetition_index", "threads",                 "iterations",    "real_time",
      "cpu_time",      "time_unit",      "aggregate_name",            "aggregate_unit", "label",
      "error_occurred", "error_message", "skipped",                   "skip_message"};
  return f;
}

std::string context_string(const nlohmann::json& ctx, const char* key) {
  const auto it = ctx.find(key);
  return it != ctx.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

BenchRun parse_benchmark_json(const std::string& text, const std::string& where) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    PTQ_FAIL("{}: not valid JSON (Google Benchmark output expected): {}", where, e.what());
  }
  PTQ_CHECK(j.is_object() && j.contains("context") && j["context"].is_object(),
            "{}: context: missing (not Google Benchmark JSON output; run the program with --benchmark_format=json)",
            where);
  PTQ_CHECK(j.contains("benchmarks") && j["benchmarks"].is_array(), "{}: benchmarks: missing or not a list", where);
  BenchRun run;
  run.key = sha256_hex(text);
  run.context = j["context"];
  const nlohmann::json& ctx = run.context;
  run.program = std::filesystem::path(context_string(ctx, "executable")).filename().string();
  PTQ_CHECK(!run.program.empty(), "{}: context.executable: missing", where);
  run.host = context_string(ctx, "host_name");
  run.date = context_string(ctx, "date");
  run.git_sha = context_string(ctx, "ptq_commit");
  run.device = context_string(ctx, "device");
  if (run.device.empty()) run.device = "cpu";
  // Custom context values are strings (benchmark::AddCustomContext).
  if (const std::string t = context_string(ctx, "torch_threads"); !t.empty()) {
    try {
      run.threads = std::stoll(t);
    } catch (const std::exception&) {
      PTQ_FAIL("{}: context.torch_threads: '{}' is not an integer", where, t);
    }
  }
  size_t i = 0;
  for (const nlohmann::json& b : j["benchmarks"]) {
    const std::string at = fmt::format("{}: benchmarks[{}]", where, i++);
    PTQ_CHECK(b.is_object() && b.contains("name") && b["name"].is_string(), "{}.name: missing", at);
    BenchResult r;
    r.name = b["name"].get<std::string>();
    r.aggregate = b.value("aggregate_name", "");
    if (b.value("error_occurred", false) || b.contains("error_message")) {
      r.counters["error_message"] = b.value("error_message", "error");
    } else {
      for (const char* k : {"real_time", "cpu_time", "iterations"})
        PTQ_CHECK(b.contains(k) && b[k].is_number(), "{} ({}).{}: missing or not a number", at, r.name, k);
      PTQ_CHECK(b.contains("time_unit") && b["time_unit"].is_string(), "{} ({}).time_unit: missing", at, r.name);
      r.real_time = b["real_time"].get<double>();
      r.cpu_time = b["cpu_time"].get<double>();
      r.iterations = b["iterations"].get<int64_t>();
      r.time_unit = b["time_unit"].get<std::string>();
    }
    for (const auto& [k, v] : b.items())
      if (!reserved_fields().count(k) && v.is_number()) r.counters[k] = v;
    run.results.push_back(std::move(r));
  }
  return run;
}

bool record_bench_run(Store& store, const BenchRun& run) {
  Database& db = store.db();
  Transaction tx(db);
  {
    Statement q(db, "SELECT 1 FROM bench_runs WHERE key = ?");
    q.bind(1, run.key);
    if (q.step()) return false;
  }
  Statement ins(db,
                "INSERT INTO bench_runs (key, program, label, device, host, date, git_sha, threads, context_json, "
                "imported_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  ins.bind(1, run.key).bind(2, run.program).bind(3, run.label).bind(4, run.device).bind(5, run.host);
  ins.bind(6, run.date).bind(7, run.git_sha).bind(8, run.threads).bind_json(9, run.context).bind(10, utc_now());
  ins.run();
  const int64_t id = db.last_insert_rowid();
  Statement res(db,
                "INSERT INTO bench_results (bench_run_id, name, aggregate, iterations, real_time, cpu_time, "
                "time_unit, counters_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  for (const BenchResult& r : run.results) {
    res.bind(1, id).bind(2, r.name).bind(3, r.aggregate).bind(4, r.iterations).bind(5, r.real_time);
    res.bind(6, r.cpu_time).bind(7, r.time_unit).bind_json(8, r.counters);
    res.run();
  }
  tx.commit();
  return true;
}

std::vector<BenchRun> bench_runs(Store& store, const std::string& program) {
  Database& db = store.db();
  std::vector<BenchRun> out;
  std::vector<int64_t> ids;
  {
    Statement q(db,
                "SELECT id, key, program, label, device, host, date, git_sha, threads, context_json FROM bench_runs "
                "WHERE ?1 = '' OR program = ?1 ORDER BY id");
    q.bind(1, program);
    while (q.step()) {
      BenchRun r;
      ids.push_back(q.column_int64(0));
      r.key = q.column_text(1), r.program = q.column_text(2), r.label = q.column_text(3);
      r.device = q.column_text(4), r.host = q.column_text(5), r.date = q.column_text(6);
      r.git_sha = q.column_text(7), r.threads = q.column_int64(8), r.context = q.column_json(9);
      out.push_back(std::move(r));
    }
  }
  Statement q(db,
              "SELECT name, aggregate, iterations, real_time, cpu_time, time_unit, counters_json FROM bench_results "
              "WHERE bench_run_id = ? ORDER BY rowid");
  for (size_t i = 0; i < out.size(); ++i) {
    q.reset();
    q.bind(1, ids[i]);
    while (q.step()) {
      BenchResult r;
      r.name = q.column_text(0), r.aggregate = q.column_text(1), r.iterations = q.column_int64(2);
      r.real_time = q.column_double(3), r.cpu_time = q.column_double(4), r.time_unit = q.column_text(5);
      r.counters = q.column_json(6);
      out[i].results.push_back(std::move(r));
    }
  }
  return out;
}

nlohmann::json to_json(const BenchRun& run) {
  nlohmann::json results = nlohmann::json::array();
  for (const BenchResult& r : run.results)
    results.push_back({{"name", r.name}, {"aggregate", r.aggregate}, {"iterations", r.iterations},
                       {"real_time", r.real_time}, {"cpu_time", r.cpu_time}, {"time_unit", r.time_unit},
                       {"counters", r.counters}});
  return {{"key", run.key},   {"program", run.program}, {"label", run.label},     {"device", run.device},
          {"host", run.host}, {"date", run.date},       {"git_sha", run.git_sha}, {"threads", run.threads},
          {"context", run.context}, {"results", results}};
}

}  // namespace ptq
