// ptq merge [--db MAIN] SHARD...: merges store shards (the stores of job-array tasks, src/store/shards.h) into the main
// results store by run key (Store::merge_from): idempotent, so the merge job of `ptq run --backend slurm` and a manual
// merge can both run, in any order, any number of times.
#include <fmt/format.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/error.h"
#include "store/store.h"
#include "store/shards.h"

namespace ptq::cli {

int cmd_merge(const std::vector<std::string>& words) {
  namespace fs = std::filesystem;
  Args args("merge",
            "Merge results-store shards into the main store by run key: a run new to the main store is added, a run\n"
            "unfinished there and finished in the shard replaces it, anything else is left (so a run finished twice\n"
            "is kept once, and merging again adds nothing). Each SHARD is a store file or a folder of them (*.db, e.g.\n"
            "results/shards/<matrix>/ written by `ptq run X.yaml --backend slurm`). The main store is checked\n"
            "(integrity_check, unique run keys) afterwards.",
            {store_option("the main results store (created when missing)"),
             json_option("with the counts")},
            {{"SHARD", "a shard store (.db) or a folder of shards", true, true}});
  if (!args.parse(words)) return 0;
  const std::string db = args.store();
  // Resolved before the main store is opened, so a mistyped shard leaves no empty store behind.
  std::vector<std::string> shards;
  for (const auto& p : args.positionals()) {
    std::error_code ec;
    for (const auto& s : expand_shard_args({p}, "ptq merge")) {
      // A folder may hold the main store itself (ptq merge --db results/a.db results/): not a shard of it.
      if (fs::is_directory(p) && fs::exists(db) && fs::equivalent(s, db, ec)) continue;
      shards.push_back(s);
    }
  }
  PTQ_CHECK(!shards.empty(), "ptq merge: no shard stores to merge into {}", db);
  const fs::path parent = fs::path(db).parent_path();
  if (!parent.empty()) fs::create_directories(parent);
  Store store(db);
  MergeStats total;
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& s : shards) {
    const MergeStats st = store.merge_from(s);
    total.added += st.added, total.replaced += st.replaced, total.skipped += st.skipped;
    rows.push_back({{"shard", s}, {"added", st.added}, {"replaced", st.replaced}, {"skipped", st.skipped}});
    fmt::print("{}: {} added, {} replaced, {} skipped\n", s, st.added, st.replaced, st.skipped);
  }
  std::string details;
  PTQ_ASSERT(store.integrity_ok(&details), "{}: the merged store fails its integrity check: {}", db, details);
  int64_t runs = 0, finished = 0;
  {
    Statement q(store.db(), "SELECT COUNT(*), COALESCE(SUM(status = 'finished'), 0) FROM runs");
    q.step();
    runs = q.column_int64(0), finished = q.column_int64(1);
  }
  fmt::print("{}: {} shard{} merged: {} added, {} replaced, {} skipped; the store holds {} runs ({} finished)\n", db,
             shards.size(), shards.size() == 1 ? "" : "s", total.added, total.replaced, total.skipped, runs, finished);
  if (args.json())
    fmt::print("{}\n", nlohmann::json{{"db", db},
                                      {"shards", rows},
                                      {"added", total.added},
                                      {"replaced", total.replaced},
                                      {"skipped", total.skipped},
                                      {"runs", runs},
                                      {"finished", finished},
                                      {"integrity", "ok"}}
                           .dump());
  return 0;
}

}  // namespace ptq::cli
