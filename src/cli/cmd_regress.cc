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
            {store_option("the new results store"),
             {"--baseline", "FILE", "the baseline results store", "", true},
             matrix_option(false, "only this matrix (default: all)"),
             {"--metric", "NAME", "metric to compare (higher is worse)", "ppl"},
             {"--tolerance", "X", "allowed relative increase", "0.01"},
             {"--allow-missing", "", "baseline cells absent from the new store are not failures", ""}});
  if (!args.parse(words)) return 0;
  apply_common_options(args);
  const std::string baseline = args.value("--baseline");
  RegressOptions o;
  o.matrix = args.get_or("--matrix", "");
  o.metric = args.get_or("--metric", "ppl");
  o.tolerance = args.get_double("--tolerance");
  o.allow_missing = args.flag("--allow-missing");
  const RegressReport r = compare_stores(args.store(), baseline, o);
  fmt::print("{}", format_regress(r, o));
  return r.ok() ? 0 : 3;
}

}  // namespace ptq::cli
