// Google Benchmark results in the results store (schema v4: bench_runs, bench_results): the JSON a tests/bench
// program writes with --benchmark_format=json or --benchmark_out=FILE, parsed and recorded with the machine it ran
// on, so performance numbers live next to the accuracy numbers and can be compared across commits and devices.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace ptq {

class Store;

struct BenchResult {
  std::string name;       // "BM_Forward/hidden:1024/seq:512/real_time"
  std::string aggregate;  // "" for an iteration run; mean, median, stddev, cv for repetition aggregates
  int64_t iterations = 0;
  double real_time = 0;  // per iteration, in time_unit
  double cpu_time = 0;
  std::string time_unit;  // ns, us, ms, s
  // Every other number the benchmark reported (user counters such as tokens_per_s, items_per_second,
  // bytes_per_second), plus "error_message" (string) for a benchmark that called SkipWithError.
  nlohmann::json counters = nlohmann::json::object();
};

struct BenchRun {
  std::string key;      // sha256 of the JSON file's bytes
  std::string program;  // the executable's file name: bench_forward
  std::string label;    // free text given at import (perf_report.sh: its run label)
  std::string device;   // context "device" (ptq's bench main: "cpu: <model>" or "cuda: <name>"), else "cpu"
  std::string host, date, git_sha;  // context host_name, date, ptq_commit
  int64_t threads = 0;              // context torch_threads
  nlohmann::json context;           // Google Benchmark's whole context object
  std::vector<BenchResult> results;
};

// `text`: the JSON document; `where` names it in errors (missing "context"/"benchmarks", a benchmark without
// name/real_time/time_unit, ...).
BenchRun parse_benchmark_json(const std::string& text, const std::string& where);

// Records the run and its results in one transaction. Returns false, writing nothing, when a run with the same key is
// already there (importing the same file twice adds nothing).
bool record_bench_run(Store& store, const BenchRun& run);

// Stored runs of `program` ("" = all), in import order, with their results.
std::vector<BenchRun> bench_runs(Store& store, const std::string& program = "");

// A run as JSON, every field by its name above and `results` as a list of objects (what `ptq bench-import --list
// --json` prints, so report scripts read the store through ptq instead of its SQL schema).
nlohmann::json to_json(const BenchRun& run);

}  // namespace ptq
