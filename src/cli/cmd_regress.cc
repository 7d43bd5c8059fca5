// ptq regress: compare a new results store with a baseline store cell by cell; exit 3 on a regression.
#include <fmt/format.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/error.h"
#include "report/regress.h"

namespace ptq::cli {

int cmd_regress(const std::vector<std::string>& words) {
  Args args("regress",
            "Compare the metrics of a new run of a matrix (--db) with a stored baseline (--baseline), cell by cell\n"
            "(same run keys). Exit codes: 0 no regression, 3 a metric got worse beyond --tolerance (or a baseline\n"
            "cell is missing), 2 bad input.",
            {{"--db", "FILE", "the new results store", "results/ptq.db"},
             {"--baseline", "FILE", "the baseline results store", ""},
             {"--matrix", "NAME", "only this matrix (default: all)", ""},
             {"--metric", "NAME", "metric to compare (higher is worse)", "ppl"},
             {"--tolerance", "X", "allowed relative increase", "0.01"},
             {"--allow-missing", "", "baseline cells absent from the new store are not failures", ""}});
  if (!args.parse(words)) return 0;
  apply_common_options(args);
  const auto baseline = args.get("--baseline");
  PTQ_CHECK(baseline.has_value(), "ptq regress: --baseline FILE is required");
  RegressOptions o;
  o.matrix = args.get_or("--matrix", "");
  o.metric = args.get_or("--metric", "ppl");
  const std::string tol = args.get_or("--tolerance", "0.01");
  try {
    size_t pos = 0;
    o.tolerance = std::stod(tol, &pos);
    PTQ_CHECK(pos == tol.size(), "");
  } catch (...) {
    PTQ_FAIL("ptq regress: --tolerance expects a number, got '{}'", tol);
  }
  o.allow_missing = args.flag("--allow-missing");
  const RegressReport r = compare_stores(args.get_or("--db", "results/ptq.db"), *baseline, o);
  fmt::print("{}", format_regress(r, o));
  return r.ok() ? 0 : 3;
}

}  // namespace ptq::cli
