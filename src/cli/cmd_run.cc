// ptq run --config FILE.yml: one LLMC-style configuration end to end (src/experiment/runner.h).
#include <fmt/format.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/error.h"
#include "experiment/run_config.h"
#include "experiment/runner.h"

namespace ptq::cli {

int cmd_run(const std::vector<std::string>& words) {
  Args args("run",
            "Run one LLMC-style configuration: load the model, evaluate it (eval_pos pretrain), build the calibration\n"
            "set, quantize block by block with quant.method, evaluate again (fake_quant), save (save.save_fake).\n"
            "Keys are documented in src/experiment/run_config.h and the README.",
            {{"--config", "FILE", "the YAML configuration", ""},
             {"--set", "KEY=VALUE", "override a key before parsing, e.g. --set quant.weight.bit=3 (repeatable)", ""},
             {"--json", "", "print one JSON object with the results as the last line", ""}});
  if (!args.parse(words)) return 0;
  const auto file = args.get("--config");
  PTQ_CHECK(file.has_value(), "ptq run: --config FILE is required");
  const RunConfig cfg = load_run_config(*file, args.get_all("--set"));
  RunOptions ro;
  ro.verbose = !args.flag("--json");
  ro.threads = args.get("--threads") && *args.get("--threads") != "0" ? args.get_int("--threads") : 0;
  const nlohmann::json out = execute_run(cfg, ro);
  if (args.flag("--json")) fmt::print("{}\n", out.dump());
  return 0;
}

}  // namespace ptq::cli
