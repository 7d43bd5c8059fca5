// ptq spec NAME: how ptq reads a quantization scheme name, so a matrix author can check "w3g128-sym" before a run.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/quant_spec.h"

namespace ptq::cli {

namespace {

nlohmann::json spec_json(const QuantSpec& q) {
  nlohmann::json j = {{"bit", q.bits},
                      {"symmetric", q.symmetric},
                      {"granularity", std::string(granularity_name(q.granularity))},
                      {"qmin", q.qmin()},
                      {"qmax", q.qmax()}};
  if (q.granularity == Granularity::kPerGroup) j["group_size"] = q.group_size;
  return j;
}

}  // namespace

int cmd_spec(const std::vector<std::string>& words) {
  Args args("spec", "Parse a quantization scheme name (grammar in src/core/quant_spec.h) and print its canonical name\n"
                    "and the weight and activation grids, in LLMC's key names.",
            {json_option()},
            {{"NAME", "scheme name, e.g. w4a16g128, w3g128-sym, w8a8, w4a4-aasym"}});
  if (!args.parse(words)) return 0;
  apply_common_options(args);
  QuantScheme s = QuantScheme::parse(args.positionals()[0]);
  if (args.json()) {
    nlohmann::json j = {{"name", s.name()}, {"weight", spec_json(s.weight)}, {"act", nullptr}};
    if (s.act) j["act"] = spec_json(*s.act);
    fmt::print("{}\n", j.dump());
    return 0;
  }
  fmt::print("{}\n  weight: {}\n  act:    {}\n", s.name(), s.weight.describe(),
             s.act ? s.act->describe() : std::string("not quantized (a16)"));
  return 0;
}

}  // namespace ptq::cli
