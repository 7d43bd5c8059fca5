#include "report/html_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include "core/error.h"
#include "report/escape.h"
#include "report/heatmap.h"
#include "report/plot.h"
#include "report/table.h"
#include "store/store.h"

namespace ptq {

namespace {

constexpr const char* kStyle = R"css(
body { font-family: Helvetica, Arial, sans-serif; margin: 24px auto; max-width: 1180px; color: #1d1d1f; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 32px; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
th, td { border: 1px solid #d0d0d0; padding: 3px 8px; text-align: right; }
th:first-child, td.left { text-align: left; }
thead th { background: #f2f2f2; }
tr.fp { background: #f7f7f7; }
td.best { background: #eef6ee; }
td.failed { color: #b00020; text-align: left; }
p.footnote, p.meta { font-size: 12px; color: #444; }
pre { font-size: 11px; background: #f7f7f7; padding: 8px; overflow-x: auto; }
details { margin: 4px 0; }
.figures, .heatmaps { display: flex; flex-wrap: wrap; gap: 16px; }
)css";

std::string axis_value(const nlohmann::json& config, const std::string& axis) {
  if (!config.is_object() || !config.contains("matrix_cell")) return "";
  for (const auto& pair : config["matrix_cell"].value("axes", nlohmann::json::array()))
    if (pair.is_array() && pair.size() == 2 && pair[0] == axis && pair[1].is_string()) return pair[1].get<std::string>();
  return "";
}

std::string run_label(const RunRecord& r) {
  if (r.config.is_object() && r.config.contains("matrix_cell") && r.config["matrix_cell"].contains("label") &&
      r.config["matrix_cell"]["label"].is_string())
    return r.config["matrix_cell"]["label"].get<std::string>();
  return r.run_key.substr(0, 12);
}

std::string join_unique(const std::vector<RunRecord>& runs, std::string RunRecord::*field) {
  std::vector<std::string> seen;
  for (const auto& r : runs)
    if (!(r.*field).empty() && std::find(seen.begin(), seen.end(), r.*field) == seen.end()) seen.push_back(r.*field);
  std::string s;
  for (const auto& v : seen) s += (s.empty() ? "" : ", ") + v;
  return s.empty() ? "-" : s;
}

std::string protocol_table(const nlohmann::json& p) {
  std::string out = "<table class=\"kv\">\n";
  if (p.is_object()) {
    for (const auto& [k, v] : p.items())
      out += "<tr><th>" + xml_escape(k) + "</th><td class=\"left\">" +
             xml_escape(v.is_string() ? v.get<std::string>() : v.dump()) + "</td></tr>\n";
  } else {
    out += "<tr><td class=\"left\">no protocol recorded</td></tr>\n";
  }
  return out + "</table>\n";
}

}  // namespace

ReportSummary html_report(const ReportOptions& o) {
  TableQuery q;
  q.db = o.db, q.matrix = o.matrix, q.rows_axis = o.rows_axis, q.cols_axis = o.cols_axis;
  const MatrixTable t = load_matrix_table(q);
  Store store(o.db);
  const std::vector<RunRecord> runs = store.runs(o.matrix);

  ReportSummary sum;
  sum.runs = runs.size();
  std::string h;
  h += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>ptq report: " +
       xml_escape(o.matrix) + "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n";
  h += "<h1>ptq report: matrix " + xml_escape(o.matrix) + "</h1>\n";
  int finished = 0, failed = 0, running = 0;
  for (const auto& r : runs)
    (r.status == RunStatus::kFinished ? finished : r.status == RunStatus::kFailed ? failed : running)++;
  h += fmt::format(
      "<p class=\"meta\">Store {} &#183; {} runs: {} finished, {} failed, {} unfinished &#183; commits: {} "
      "&#183; LibTorch: {} &#183; devices: {}</p>\n",
      xml_escape(std::filesystem::path(o.db).filename().string()), runs.size(), finished, failed, running,
      xml_escape(join_unique(runs, &RunRecord::git_sha)), xml_escape(join_unique(runs, &RunRecord::torch_version)),
      xml_escape(join_unique(runs, &RunRecord::device)));
  h += "<p class=\"meta\"><a href=\"#table\">Table</a> &#183; <a href=\"#figures\">Figures</a> &#183; <a "
       "href=\"#protocol\">Protocol</a> &#183; <a href=\"#runs\">Runs and timings</a> &#183; <a "
       "href=\"#configs\">Configurations</a> &#183; <a href=\"#heatmaps\">Per-layer errors</a></p>\n";

  h += "<h2 id=\"table\">Table</h2>\n" + format_table(t, TableFormat::kHtml, o.precision);

  h += "<h2 id=\"figures\">Figures</h2>\n<div class=\"figures\">\n";
  for (const auto& d : t.datasets) {
    if (plot_series(t, d).empty()) continue;
    h += "<figure>\n" + ppl_bits_figure(t, d, false) + "</figure>\n";
    ++sum.figures;
  }
  h += "</div>\n";

  h += "<h2 id=\"protocol\">Protocol</h2>\n";
  for (const auto& d : t.datasets) {
    const auto it = t.protocols.find(d);
    if (it == t.protocols.end()) continue;
    h += "<h3>" + xml_escape(d) + "</h3>\n";
    if (it->second.size() > 1)
      h += fmt::format("<p class=\"footnote\">WARNING: {} different protocols among the runs of this dataset.</p>\n",
                       it->second.size());
    for (const auto& p : it->second) h += protocol_table(p);
  }

  // Runs: status, perplexities, timings by stage (in the order the runs report them).
  std::vector<std::string> stages;
  bool any_peak = false;
  for (const auto& r : runs)
    for (const auto& tm : r.timings) {
      if (std::find(stages.begin(), stages.end(), tm.stage) == stages.end()) stages.push_back(tm.stage);
      any_peak = any_peak || tm.peak_bytes.has_value();
    }
  h += "<h2 id=\"runs\">Runs and timings</h2>\n<table class=\"runs\">\n<thead><tr><th>cell</th><th>run key</th>"
       "<th>status</th><th>method</th><th>scheme</th>";
  for (const auto& d : t.datasets) h += "<th>ppl " + xml_escape(d) + "</th>";
  for (const auto& s : stages) h += "<th>" + xml_escape(s) + " (s)</th>";
  if (any_peak) h += "<th>peak MiB</th>";
  h += "</tr></thead>\n<tbody>\n";
  for (const auto& r : runs) {
    h += "<tr><td class=\"left\">" + xml_escape(run_label(r)) + "</td><td class=\"left\"><code>" +
         xml_escape(r.run_key.substr(0, 12)) + "</code></td><td class=\"left\">" + xml_escape(to_string(r.status)) +
         "</td><td class=\"left\">" + xml_escape(r.method) + "</td><td class=\"left\">" + xml_escape(r.scheme) +
         "</td>";
    for (const auto& d : t.datasets) {
      std::string v = "-";
      for (const auto& m : r.metrics)
        if (m.name == "ppl" && m.pos == "fake_quant" && m.dataset == d && !std::isnan(m.value))
          v = fmt::format("{:.4f}", m.value);
      h += "<td>" + v + "</td>";
    }
    for (const auto& s : stages) {
      std::string v = "-";
      for (const auto& tm : r.timings)
        if (tm.stage == s && !std::isnan(tm.seconds)) v = fmt::format("{:.2f}", tm.seconds);
      h += "<td>" + v + "</td>";
    }
    if (any_peak) {
      int64_t peak = -1;
      for (const auto& tm : r.timings)
        if (tm.peak_bytes) peak = std::max(peak, *tm.peak_bytes);
      h += peak < 0 ? std::string("<td>-</td>") : fmt::format("<td>{:.1f}</td>", static_cast<double>(peak) / 1048576.0);
    }
    h += "</tr>\n";
    if (r.status == RunStatus::kFailed)
      h += fmt::format("<tr><td class=\"failed\" colspan=\"{}\">{}</td></tr>\n",
                       5 + t.datasets.size() + stages.size() + (any_peak ? 1 : 0), xml_escape(r.error));
  }
  h += "</tbody>\n</table>\n";

  h += "<h2 id=\"configs\">Resolved configurations</h2>\n";
  for (const auto& r : runs)
    h += "<details><summary>" + xml_escape(run_label(r)) + " <code>" + xml_escape(r.run_key.substr(0, 12)) +
         "</code></summary>\n<pre>" + xml_escape(r.config.dump(2)) + "</pre>\n</details>\n";

  // Heat maps: one per (row, column) cell of the table, over the cell's finished runs.
  h += "<h2 id=\"heatmaps\">Per-layer relative output error</h2>\n";
  std::vector<Heatmap> maps;
  if (o.heatmaps != "none") {
    std::string want_row, want_col;
    if (o.heatmaps != "all") {
      const size_t comma = o.heatmaps.find(',');
      PTQ_CHECK(comma != std::string::npos, "--heatmaps '{}': expected all, none or ROW,COL", o.heatmaps);
      want_row = o.heatmaps.substr(0, comma), want_col = o.heatmaps.substr(comma + 1);
      PTQ_CHECK(std::find(t.rows.begin(), t.rows.end(), want_row) != t.rows.end() &&
                    std::find(t.cols.begin(), t.cols.end(), want_col) != t.cols.end(),
                "--heatmaps '{}': matrix '{}' has no cell {}={}, {}={}", o.heatmaps, o.matrix, o.rows_axis, want_row,
                o.cols_axis, want_col);
    }
    for (const auto& row : t.rows)
      for (const auto& col : t.cols) {
        if (!want_row.empty() && (row != want_row || col != want_col)) continue;
        std::vector<const RunRecord*> cell_runs;
        for (const auto& r : runs)
          if (r.status == RunStatus::kFinished && axis_value(r.config, o.rows_axis) == row &&
              axis_value(r.config, o.cols_axis) == col)
            cell_runs.push_back(&r);
        Heatmap m = layer_error_heatmap(cell_runs, o.layer_metric,
                                        fmt::format("{}={}, {}={} (mean of {} run{})", o.rows_axis, row, o.cols_axis,
                                                    col, cell_runs.size(), cell_runs.size() == 1 ? "" : "s"));
        if (!m.blocks.empty()) maps.push_back(std::move(m));
      }
  }
  if (maps.empty()) {
    h += "<p class=\"footnote\">No per-layer errors recorded for the selected cells.</p>\n";
  } else {
    const ColourScale scale = shared_scale(maps);
    h += fmt::format("<p class=\"footnote\">{} per Linear layer (rows: decoder blocks, columns: layer types), averaged "
                     "over the runs of each cell; one log-scale colour scale for all maps, {} to {}.</p>\n",
                     xml_escape(o.layer_metric), fmt::format("{:.3g}", scale.lo), fmt::format("{:.3g}", scale.hi));
    h += "<div class=\"heatmaps\">\n";
    for (const auto& m : maps) h += "<figure>\n" + heatmap_svg(m, scale) + "</figure>\n";
    h += "</div>\n";
  }
  sum.heatmaps = maps.size();
  h += "</body>\n</html>\n";
  sum.html = std::move(h);
  return sum;
}

}  // namespace ptq
