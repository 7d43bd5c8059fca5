#include "report/regress.h"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <tuple>

#include "core/error.h"
#include "store/store.h"

namespace ptq {

namespace {

std::string cell_label(const nlohmann::json& config, const std::string& run_key) {
  if (config.contains("matrix_cell") && config["matrix_cell"].contains("label"))
    return config["matrix_cell"]["label"].get<std::string>();
  return run_key.substr(0, 12);
}

}  // namespace

bool RegressReport::ok() const { return regressions == 0 && (allow_missing || missing.empty()); }

RegressReport compare_stores(const std::string& current_db, const std::string& baseline_db, const RegressOptions& o) {
  PTQ_CHECK(std::filesystem::is_regular_file(baseline_db), "{}: no such baseline store", baseline_db);
  PTQ_CHECK(std::filesystem::is_regular_file(current_db), "{}: no such results store", current_db);
  PTQ_CHECK(o.tolerance >= 0, "--tolerance must be >= 0, got {}", o.tolerance);
  Store base(baseline_db), cur(current_db);
  using Key = std::tuple<std::string, std::string, std::string>;  // run_key, dataset, pos
  std::map<Key, double> now;
  for (const auto& m : cur.metrics(o.matrix, o.metric)) now[{m.run_key, m.dataset, m.pos}] = m.value;
  RegressReport r;
  r.allow_missing = o.allow_missing;
  const auto baseline_rows = base.metrics(o.matrix, o.metric);
  PTQ_CHECK(!baseline_rows.empty(), "{}: no finished '{}' metrics{} in the baseline", baseline_db, o.metric,
            o.matrix.empty() ? "" : " for matrix '" + o.matrix + "'");
  for (const auto& b : baseline_rows) {
    const std::string label = cell_label(b.config, b.run_key);
    auto it = now.find({b.run_key, b.dataset, b.pos});
    if (it == now.end()) {
      r.missing.push_back(fmt::format("{} ({} {})", label, b.dataset, b.pos));
      continue;
    }
    RegressRow row{b.run_key, label, b.dataset, b.pos, b.value, it->second, 0, false};
    row.rel_change = b.value != 0 ? (row.current - row.baseline) / std::abs(row.baseline) : 0;
    // Higher perplexity is worse; a NaN where the baseline was finite is a regression too.
    row.regression = row.rel_change > o.tolerance || (std::isnan(row.current) && !std::isnan(row.baseline));
    r.regressions += row.regression ? 1 : 0;
    r.rows.push_back(std::move(row));
  }
  return r;
}

std::string format_regress(const RegressReport& r, const RegressOptions& o) {
  std::string out = "| cell | dataset | pos | baseline | current | change | |\n|---|---|---|---|---|---|---|\n";
  for (const auto& row : r.rows)
    out += fmt::format("| {} | {} | {} | {:.4f} | {:.4f} | {:+.2f}% | {} |\n", row.label, row.dataset, row.pos,
                       row.baseline, row.current, 100 * row.rel_change, row.regression ? "REGRESSION" : "ok");
  for (const auto& m : r.missing) out += fmt::format("| {} | | | | missing | | {} |\n", m, o.allow_missing ? "ok" : "MISSING");
  out += fmt::format("\n{} {} compared, {} regression(s) beyond {:.2f}%, {} missing: {}\n", r.rows.size(), o.metric,
                     r.regressions, 100 * o.tolerance, r.missing.size(), r.ok() ? "PASS" : "FAIL");
  return out;
}

}  // namespace ptq
