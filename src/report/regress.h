// Regression check between two results stores (`ptq regress`): the same matrix cells (same run keys: same matrix name
// and resolved configuration) in a new store and a baseline store, compared metric by metric.
#pragma once

#include <string>
#include <vector>

namespace ptq {

struct RegressOptions {
  std::string matrix;        // "" = every matrix
  std::string metric = "ppl";
  double tolerance = 0.01;   // a relative increase above this is a regression (lower is better for ppl)
  bool allow_missing = false;  // cells of the baseline absent from the new store are failures unless allowed
};

struct RegressRow {
  std::string run_key, label, dataset, pos;
  double baseline = 0, current = 0, rel_change = 0;
  bool regression = false;
};

struct RegressReport {
  std::vector<RegressRow> rows;       // compared metrics, in the baseline's order
  std::vector<std::string> missing;   // baseline cells (label or run key) without the metric in the new store
  int regressions = 0;
  bool ok() const;                    // no regression, and nothing missing unless allowed
  bool allow_missing = false;
};

RegressReport compare_stores(const std::string& current_db, const std::string& baseline_db, const RegressOptions& o);

// Markdown: one row per compared metric (cell, dataset, pos, baseline, current, change, verdict) and a summary line.
std::string format_regress(const RegressReport& r, const RegressOptions& o);

}  // namespace ptq
