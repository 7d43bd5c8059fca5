// ptq plot --db FILE --matrix NAME [--dataset NAME] --out FILE.svg: the perplexity-vs-weight-bits figure of one
// matrix (src/report/plot.h). The same store writes the same bytes.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/error.h"
#include "core/output_file.h"
#include "report/plot.h"
#include "report/table.h"

namespace ptq::cli {

int cmd_plot(const std::vector<std::string>& words) {
  Args args("plot",
            "Write an SVG figure of one matrix from the results store: fake_quant perplexity (log scale) against\n"
            "weight bits, one line per value of the rows axis with ± 1 std error bars over the aggregated axes\n"
            "(seeds), the fp perplexity as a dashed line, and the evaluation protocol as the caption.",
            {store_option("the results store"),
             matrix_option(true, "the matrix name (its `name:`)"),
             {"--dataset", "NAME", "the evaluation dataset (required when the matrix has several)", ""},
             {"--rows", "AXIS", "the axis whose values are the lines", "method"},
             {"--cols", "AXIS", "the table's column axis (groups the fp runs)", "bits"},
             {"--out", "FILE.svg", "the figure to write (- = standard output)", "", true},
             json_option("describing the figure")});
  if (!args.parse(words)) return 0;
  const std::string matrix = args.value("--matrix");
  const auto out = args.get("--out");
  PTQ_CHECK(!(*out == "-" && args.json()), "ptq plot: --json needs --out FILE (the figure would mix with it)");
  TableQuery q;
  q.db = args.store();
  q.matrix = matrix;
  q.rows_axis = args.get_or("--rows", "method");
  q.cols_axis = args.get_or("--cols", "bits");
  const MatrixTable t = load_matrix_table(q);
  const std::string dataset = plot_dataset(t, args.get_or("--dataset", ""));
  const std::string svg = ppl_bits_figure(t, dataset, true);
  if (*out == "-") {
    fmt::print("{}", svg);
  } else {
    write_output_file(*out, svg);
  }
  if (args.json()) {
    nlohmann::json series = nlohmann::json::array();
    for (const auto& s : plot_series(t, dataset)) {
      nlohmann::json pts = nlohmann::json::array();
      for (const auto& p : s.points)
        pts.push_back({{"bits", p.bits}, {"mean", p.stat.mean()}, {"std", p.stat.stdev()}, {"n", p.stat.n()}});
      series.push_back({{"label", s.label}, {"points", pts}});
    }
    fmt::print("{}\n", nlohmann::json{{"out", *out}, {"bytes", svg.size()}, {"matrix", matrix}, {"dataset", dataset},
                                      {"series", series}}
                           .dump());
  }
  return 0;
}

}  // namespace ptq::cli
