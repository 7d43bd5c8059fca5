// `ptq report --html`: one self-contained HTML page per matrix (inline CSS and SVG, no external assets, no script):
// the paper table (src/report/table.h), one perplexity-vs-bits figure per dataset (src/report/plot.h), the
// evaluation protocols, every run with its status, perplexities and per-stage timings, every resolved configuration,
// and the per-layer error heat maps (src/report/heatmap.h) of each matrix cell or of one chosen cell. Every string
// that comes from the store is HTML-escaped. The page depends only on the store's contents and the options: the same
// store gives the same bytes (no generation time is written).
#pragma once

#include <string>

namespace ptq {

struct ReportOptions {
  std::string db;
  std::string matrix;
  std::string rows_axis = "method";
  std::string cols_axis = "bits";
  int precision = 2;
  // Heat maps: "all" (every cell of the table), "none", or one cell "ROW,COL" (e.g. "gptq,w4g32"; axis values never
  // contain ',').
  std::string heatmaps = "all";
  std::string layer_metric = "rel_output_error";
};

struct ReportSummary {
  std::string html;
  size_t runs = 0, figures = 0, heatmaps = 0;
};

ReportSummary html_report(const ReportOptions& o);

}  // namespace ptq
