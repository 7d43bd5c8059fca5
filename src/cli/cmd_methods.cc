// ptq methods: the registry, with every parameter and its default (what quant.special accepts).
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "methods/method.h"

namespace ptq::cli {

int cmd_methods(const std::vector<std::string>& words) {
  Args args("methods", "List the registered quantization methods, their parameters (quant.special keys) and defaults.",
            {json_option()});
  if (!args.parse(words)) return 0;
  apply_common_options(args);
  if (args.json()) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& m : methods()) {
      nlohmann::json params = nlohmann::json::array();
      for (const auto& p : m.params)
        params.push_back({{"name", p.name}, {"default", nlohmann::json::parse(p.default_value)}, {"help", p.help}});
      j.push_back({{"id", m.id},
                   {"summary", m.summary},
                   {"needs_calibration", m.needs_calibration},
                   {"needs_grad", m.needs_grad},
                   {"llmc_names", m.llmc_names},
                   {"params", params}});
    }
    fmt::print("{}\n", nlohmann::json{{"methods", j}}.dump());
    return 0;
  }
  for (const auto& m : methods()) {
    std::string llmc;
    for (const auto& n : m.llmc_names) llmc += (llmc.empty() ? "" : ", ") + n;
    fmt::print("{:<10} {}{}{}\n", m.id, m.summary, m.needs_calibration ? " [calibration]" : "",
               llmc.empty() ? "" : " (LLMC: " + llmc + ")");
    for (const auto& p : m.params) fmt::print("    {:<18} {:<8} {}\n", p.name, p.default_value, p.help);
  }
  return 0;
}

}  // namespace ptq::cli
