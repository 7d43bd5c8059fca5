// ptq run --config FILE.yml: one LLMC-style configuration end to end (src/experiment/runner.h).
// ptq run MATRIX.yaml [--db FILE] [--dry-run] [--only FILTER]: every cell of an experiment matrix, resumable
// (src/experiment/matrix.h).
#include <fmt/format.h>

#include <filesystem>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/error.h"
#include "experiment/matrix.h"
#include "experiment/run_config.h"
#include "experiment/staged_run.h"

namespace ptq::cli {

int cmd_run(const std::vector<std::string>& words) {
  Args args("run",
            "Run one LLMC-style configuration: load the model, evaluate it (eval_pos pretrain), build the calibration\n"
            "set, quantize block by block with quant.method, evaluate again (fake_quant), save (save.save_fake).\n"
            "Keys are documented in src/experiment/run_config.h and the README.\n"
            "With a matrix file (experiments/X.yaml, format in src/experiment/matrix.h) runs every cell in order,\n"
            "recording each in the results store and skipping cells already finished there (resume).",
            {{"--config", "FILE", "the YAML configuration", ""},
             {"--set", "KEY=VALUE", "override a key before parsing, e.g. --set quant.weight.bit=3 (repeatable)", ""},
             {"--db", "FILE", "matrix: the results store", "results/ptq.db"},
             {"--dry-run", "", "matrix: list the cells, their run keys and whether finished; config: print the resolved configuration; run nothing", ""},
             {"--only", "FILTER", "matrix: only the cells whose label contains FILTER", ""},
             {"--json", "", "print one JSON object with the results as the last line", ""}},
            {{"MATRIX", "an experiment matrix (.yaml/.yml with axes)", false}});
  if (!args.parse(words)) return 0;
  auto file = args.get("--config");
  if (!args.positionals().empty()) {
    const std::string& pos = args.positionals().front();
    PTQ_CHECK(!file.has_value(), "ptq run: give either a matrix file or --config FILE, not both");
    const bool yaml = pos.size() > 5 && (pos.ends_with(".yaml") || pos.ends_with(".yml"));
    PTQ_CHECK(yaml, "ptq run: '{}': expected a matrix file (.yaml or .yml)", pos);
    if (is_matrix_file(pos)) {
      PTQ_CHECK(args.get_all("--set").empty(), "ptq run: --set applies to --config runs; use set: in the matrix");
      const Matrix m = load_matrix(pos);
      MatrixRunOptions mo;
      mo.db_path = args.get_or("--db", "results/ptq.db");
      mo.only = args.get_or("--only", "");
      mo.dry_run = args.flag("--dry-run");
      mo.threads = args.get("--threads") && *args.get("--threads") != "0" ? args.get_int("--threads") : 0;
      const nlohmann::json summary = run_matrix(m, mo);
      if (args.flag("--json")) fmt::print("{}\n", summary.dump());
      return summary.value("failed", 0) > 0 ? 1 : 0;
    }
    file = pos;  // a single run configuration given positionally
  }
  PTQ_CHECK(file.has_value(), "ptq run: --config FILE (or a matrix file) is required");
  const RunConfig cfg = load_run_config(*file, args.get_all("--set"));
  if (args.flag("--dry-run")) {  // validated above; show what would run
    nlohmann::json plan = {{"config", cfg.to_json()}};
    if (cfg.step_1) {
      const std::string dir = step_one_cache_path(cfg);
      plan["step_1"] = {{"path", dir}, {"cached", std::filesystem::exists(std::filesystem::path(dir) / "manifest.json")}};
    }
    if (args.flag("--json")) fmt::print("{}\n", plan.dump());
    else fmt::print("{}\n", plan.dump(2));
    return 0;
  }
  RunOptions ro;
  ro.verbose = !args.flag("--json");
  ro.threads = args.get("--threads") && *args.get("--threads") != "0" ? args.get_int("--threads") : 0;
  const nlohmann::json out = execute_staged_run(cfg, ro);
  if (args.flag("--json")) fmt::print("{}\n", out.dump());
  return 0;
}

}  // namespace ptq::cli
