// ptq bench-import FILE.json... --db FILE: Google Benchmark JSON output of the tests/bench programs into the results
// store (src/store/bench_import.h), each file once; --list prints what the store holds.
#include <fmt/format.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/error.h"
#include "core/read_file.h"
#include "store/bench_import.h"
#include "store/store.h"

namespace ptq::cli {

int cmd_bench_import(const std::vector<std::string>& words) {
  namespace fs = std::filesystem;
  Args args("bench-import",
            "Import Google Benchmark JSON output (a tests/bench program run with --benchmark_format=json or\n"
            "--benchmark_out=FILE) into the results store: one bench_runs row per file with the program, device,\n"
            "host, threads, commit and context, one bench_results row per benchmark with its times and counters.\n"
            "A file already imported (same bytes) adds nothing. Without files, --list shows the stored runs.",
            {store_option("the results store (created when missing)"),
             {"--label", "TEXT", "a label stored with every imported run (e.g. the report it belongs to)", ""},
             {"--list", "", "print the stored benchmark runs and results", ""},
             json_option("(imported, skipped, runs; with --list, stored: every run and its results)")},
            {{"FILE.json", "Google Benchmark JSON output files", false, true}});
  if (!args.parse(words)) return 0;
  const std::string db = args.store();
  const std::string label = args.get_or("--label", "");
  // Every file is read and parsed before the store is opened: one bad file imports nothing.
  std::vector<BenchRun> runs;
  for (const std::string& f : args.positionals()) {
    PTQ_CHECK(fs::is_regular_file(f), "ptq bench-import: {}: no such file", f);
    runs.push_back(parse_benchmark_json(read_file(f, "benchmark JSON"), f));
    runs.back().label = label;
  }
  PTQ_CHECK(!runs.empty() || args.flag("--list"), "ptq bench-import: no files given (and no --list)");
  const fs::path parent = fs::path(db).parent_path();
  if (!parent.empty()) fs::create_directories(parent);
  Store store(db);
  int64_t imported = 0, skipped = 0;
  for (size_t i = 0; i < runs.size(); ++i) {
    const bool added = record_bench_run(store, runs[i]);
    (added ? imported : skipped) += 1;
    fmt::print("{}: {} ({} benchmarks, device {}, {} threads): {}\n", args.positionals()[i], runs[i].program,
               runs[i].results.size(), runs[i].device, runs[i].threads, added ? "imported" : "already in the store");
  }
  const std::vector<BenchRun> stored = bench_runs(store);
  if (args.flag("--list")) {
    for (const BenchRun& r : stored) {
      fmt::print("{} {} [{}] device {}, {} threads, commit {}, label '{}'\n", r.date, r.program, r.key.substr(0, 12),
                 r.device, r.threads, r.git_sha, r.label);
      for (const BenchResult& b : r.results)
        fmt::print("  {}{}: {:.6g} {} real{}\n", b.name, b.aggregate.empty() ? "" : " (" + b.aggregate + ")",
                   b.real_time, b.time_unit, b.counters.empty() ? "" : "  " + b.counters.dump());
    }
  }
  fmt::print("{}: {} imported, {} already there; the store holds {} benchmark runs\n", db, imported, skipped,
             stored.size());
  if (args.json()) {
    nlohmann::json j{{"db", db}, {"imported", imported}, {"skipped", skipped}, {"runs", stored.size()}};
    if (args.flag("--list")) {  // the stored runs themselves, in import order (what report scripts read)
      j["stored"] = nlohmann::json::array();
      for (const BenchRun& r : stored) j["stored"].push_back(to_json(r));
    }
    fmt::print("{}\n", j.dump());
  }
  return 0;
}

}  // namespace ptq::cli
