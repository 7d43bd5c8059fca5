// ptq status MATRIX [--db MAIN] [--shard-dir DIR]: each cell's state across the main results store and the matrix's
// shards (src/experiment/matrix_status.h): pending, running, failed, finished (and whether merged).
#include <fmt/format.h>

#include <cmath>
#include <filesystem>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/error.h"
#include "experiment/matrix.h"
#include "experiment/matrix_status.h"
#include "store/shards.h"

namespace ptq::cli {

int cmd_status(const std::vector<std::string>& words) {
  Args args("status",
            "Show the state of every cell of a matrix across the main results store and its shards (the stores the\n"
            "tasks of `ptq run X.yaml --backend slurm` write): pending (in no store), running (started, or left by a\n"
            "killed task), failed (with the error), finished (with its ppl, and whether it is merged into the main\n"
            "store). Stores are only read.",
            {store_option("the main results store"),
             {"--shard-dir", "DIR", "the shards' folder (default: <db folder>/shards/<matrix>)", ""},
             json_option("with every cell")},
            {{"MATRIX", "an experiment matrix (.yaml)", true}});
  if (!args.parse(words)) return 0;
  const std::string file = args.positionals().front();
  PTQ_CHECK(is_matrix_file(file), "ptq status: {}: not a matrix file (a YAML mapping with axes)", file);
  const Matrix m = load_matrix(file);
  const std::string db = args.store();
  const std::string dir = args.get_or("--shard-dir", default_shard_dir(db, m.name));
  const std::vector<std::string> shards = list_shards(dir);
  const std::vector<CellState> cells = matrix_status(m, db, shards);
  const nlohmann::json j = matrix_status_json(m, db, shards, cells);
  const auto& n = j["counts"];
  fmt::print("matrix {} ({}): {} cells: {} finished ({} merged), {} running, {} failed, {} pending\n", m.name, file,
             cells.size(), n["finished"].get<int>(), n["merged"].get<int>(), n["running"].get<int>(),
             n["failed"].get<int>(), n["pending"].get<int>());
  fmt::print("store {}{}; {} shard{} in {}\n", db, std::filesystem::exists(db) ? "" : " (not created yet)",
             shards.size(), shards.size() == 1 ? "" : "s", dir);
  fmt::print("{:>4}  {:<8}  {:<12}  {:>10}  {}\n", "#", "state", "store", "ppl", "cell");
  for (const auto& c : cells) {
    const std::string where = c.store.empty() ? "-" : c.store == db ? "main" : std::filesystem::path(c.store).filename().string();
    std::string extra;
    if (c.status == "running") extra = "  started " + c.started_at;
    if (c.status == "failed") extra = "  error: " + c.error;
    fmt::print("{:>4}  {:<8}  {:<12}  {:>10}  {}{}\n", c.index, c.status, where,
               std::isnan(c.ppl) ? std::string("-") : fmt::format("{:.4f}", c.ppl), c.label, extra);
  }
  if (args.json()) fmt::print("{}\n", j.dump());
  return 0;
}

}  // namespace ptq::cli
