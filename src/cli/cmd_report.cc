// ptq report --html --db FILE --matrix NAME --out FILE.html: one self-contained HTML page for a matrix
// (src/report/html_report.h). The same store writes the same bytes.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/error.h"
#include "core/output_file.h"
#include "report/html_report.h"

namespace ptq::cli {

int cmd_report(const std::vector<std::string>& words) {
  Args args("report",
            "Write one self-contained HTML page for a matrix (inline CSS and SVG, nothing external): the table, the\n"
            "perplexity-vs-bits figures, the protocol, every run with its timings and resolved configuration, and\n"
            "per-layer relative output error heat maps (decoder blocks x layer types) per matrix cell.",
            {{"--html", "", "HTML output (the one format; kept explicit for later formats)", ""},
             store_option("the results store"),
             matrix_option(true, "the matrix name (its `name:`)"),
             {"--out", "FILE.html", "the page to write (- = standard output)", "", true},
             {"--rows", "AXIS", "the table's row axis", "method"},
             {"--cols", "AXIS", "the table's column axis", "bits"},
             {"--precision", "N", "table decimals", "2"},
             {"--heatmaps", "all|none|ROW,COL", "heat maps of every cell, none, or one cell (e.g. gptq,w4g32)", "all"},
             json_option("describing the page")});
  if (!args.parse(words)) return 0;
  const std::string matrix = args.value("--matrix");
  const auto out = args.get("--out");
  PTQ_CHECK(!(*out == "-" && args.json()), "ptq report: --json needs --out FILE (the page would mix with it)");
  ReportOptions o;
  o.db = args.store();
  o.matrix = matrix;
  o.rows_axis = args.get_or("--rows", "method");
  o.cols_axis = args.get_or("--cols", "bits");
  o.precision = args.get_int("--precision");
  o.heatmaps = args.get_or("--heatmaps", "all");
  const ReportSummary r = html_report(o);
  if (*out == "-") {
    fmt::print("{}", r.html);
  } else {
    write_output_file(*out, r.html);
  }
  if (args.json())
    fmt::print("{}\n", nlohmann::json{{"out", *out}, {"bytes", r.html.size()}, {"matrix", matrix}, {"runs", r.runs},
                                      {"figures", r.figures}, {"heatmaps", r.heatmaps}}
                           .dump());
  return 0;
}

}  // namespace ptq::cli
