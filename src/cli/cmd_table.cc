// ptq table --db FILE --matrix NAME [--format md|csv|latex|html]: the paper table of one matrix (src/report/table.h:
// fp row, mean ± std over the aggregated axes, best in bold, protocol footnote). The same store prints the same bytes.
#include <fmt/format.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/error.h"
#include "report/table.h"

namespace ptq::cli {

int cmd_table(const std::vector<std::string>& words) {
  Args args("table",
            "Print a paper table of one matrix from the results store: mean ± sample std (n runs) of the fake_quant\n"
            "perplexity, rows by one axis, columns by another, aggregated over the remaining axes; an fp row (the\n"
            "pretrain perplexity of the same runs), the best cell of each column in bold, and a protocol footnote.",
            {store_option("the results store"),
             matrix_option(true, "the matrix name (its `name:`)"),
             {"--format", "md|csv|latex|html", "output format", "md"},
             {"--rows", "AXIS", "the axis whose values are rows", "method"},
             {"--cols", "AXIS", "the axis whose values are columns", "bits"},
             {"--precision", "N", "decimals", "2"}});
  if (!args.parse(words)) return 0;
  const std::string matrix = args.value("--matrix");
  const TableFormat format = with_context("ptq table", [&] { return parse_table_format(args.get_or("--format", "md")); });
  TableQuery q;
  q.db = args.store();
  q.matrix = matrix;
  q.rows_axis = args.get_or("--rows", "method");
  q.cols_axis = args.get_or("--cols", "bits");
  const MatrixTable t = load_matrix_table(q);
  fmt::print("{}", format_table(t, format, args.get_int("--precision")));
  return 0;
}

}  // namespace ptq::cli
