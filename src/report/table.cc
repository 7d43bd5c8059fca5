#include "report/table.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "core/quant_spec.h"
#include "report/escape.h"
#include "store/store.h"

namespace ptq {

namespace {

std::string axis_value(const nlohmann::json& config, const std::string& axis) {
  if (!config.is_object() || !config.contains("matrix_cell")) return "";
  for (const auto& pair : config["matrix_cell"].value("axes", nlohmann::json::array()))
    if (pair.is_array() && pair.size() == 2 && pair[0] == axis && pair[1].is_string()) return pair[1].get<std::string>();
  return "";
}

void add_unique(std::vector<std::string>& list, const std::string& v) {
  if (std::find(list.begin(), list.end(), v) == list.end()) list.push_back(v);
}

nlohmann::json comparable_protocol(nlohmann::json p) {
  if (p.is_object()) p.erase("data_path");
  return p;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string o = "\"";
  for (char c : s) o += c == '"' ? std::string("\"\"") : std::string(1, c);
  return o + "\"";
}

std::string md_escape(const std::string& s) {
  std::string o;
  for (char c : s) o += c == '|' ? std::string("\\|") : std::string(1, c);
  return o;
}

std::string json_text(const nlohmann::json& j, const char* key) {
  if (!j.is_object() || !j.contains(key)) return "?";
  const auto& v = j[key];
  return v.is_string() ? v.get<std::string>() : v.dump();
}

}  // namespace

double Stat::mean() const {
  double s = 0;
  for (double v : values) s += v;
  return s / static_cast<double>(values.size());
}

double Stat::stdev() const {
  if (values.size() < 2) return 0;
  const double m = mean();
  double s = 0;
  for (double v : values) s += (v - m) * (v - m);
  return std::sqrt(s / static_cast<double>(values.size() - 1));
}

const Stat* MatrixTable::cell(const std::string& row, const std::string& col, const std::string& dataset) const {
  const auto it = cells.find({row, col, dataset});
  return it == cells.end() || it->second.values.empty() ? nullptr : &it->second;
}

const Stat* MatrixTable::fp_cell(const std::string& col, const std::string& dataset) const {
  const auto it = fp.find({col, dataset});
  return it == fp.end() || it->second.values.empty() ? nullptr : &it->second;
}

bool MatrixTable::is_best(const std::string& row, const std::string& col, const std::string& dataset) const {
  const Stat* mine = cell(row, col, dataset);
  if (mine == nullptr) return false;
  int filled = 0;
  double best = mine->mean();
  for (const auto& r : rows)
    if (const Stat* s = cell(r, col, dataset)) {
      ++filled;
      best = std::min(best, s->mean());
    }
  return filled >= 2 && mine->mean() == best;
}

MatrixTable load_matrix_table(const TableQuery& q) {
  PTQ_CHECK(!q.matrix.empty(), "--matrix NAME is required");
  PTQ_CHECK(std::filesystem::is_regular_file(q.db), "{}: no such results store", q.db);
  MatrixTable t;
  t.db = q.db, t.matrix = q.matrix, t.rows_axis = q.rows_axis, t.cols_axis = q.cols_axis;
  Store store(q.db);
  // run_key -> its column, so the pretrain row of a run lands in the same column as its quantized numbers.
  std::map<std::string, std::string> run_col;
  const std::vector<MetricRow> metrics = store.metrics(q.matrix, "ppl");
  for (const MetricRow& m : metrics) {
    if (m.pos != "fake_quant") continue;
    const std::string r = axis_value(m.config, q.rows_axis), c = axis_value(m.config, q.cols_axis);
    PTQ_CHECK(!r.empty() && !c.empty(), "{}: run {} of matrix '{}' has no '{}' and '{}' axes (matrix_cell)", q.db,
              m.run_key.substr(0, 12), q.matrix, q.rows_axis, q.cols_axis);
    add_unique(t.rows, r), add_unique(t.cols, c), add_unique(t.datasets, m.dataset);
    if (t.other_axes.empty() && m.config.contains("matrix_cell"))
      for (const auto& pair : m.config["matrix_cell"].value("axes", nlohmann::json::array()))
        if (pair.is_array() && pair.size() == 2 && pair[0] != q.rows_axis && pair[0] != q.cols_axis)
          t.other_axes.push_back(pair[0].get<std::string>());
    int bits = 0;
    if (!m.scheme.empty()) {
      try {
        bits = QuantScheme::parse(m.scheme).weight.bits;
      } catch (const Error&) {
        bits = 0;  // a scheme ptq cannot read: the plot leaves the run out, the table does not need it
      }
    }
    t.entries.push_back({r, c, m.dataset, m.run_key, m.scheme, bits, m.value});
    run_col[m.run_key] = c;
    if (!std::isnan(m.value)) t.cells[{r, c, m.dataset}].values.push_back(m.value);
    auto& seen = t.protocols[m.dataset];
    const nlohmann::json p = comparable_protocol(m.protocol);
    if (std::find(seen.begin(), seen.end(), p) == seen.end()) seen.push_back(p);
  }
  PTQ_CHECK(!t.rows.empty(), "{}: no finished runs with fake_quant perplexity for matrix '{}'", q.db, q.matrix);
  for (const MetricRow& m : metrics) {
    if (m.pos != "pretrain" || !run_col.count(m.run_key) || std::isnan(m.value)) continue;
    t.fp[{run_col[m.run_key], m.dataset}].values.push_back(m.value);
    auto& seen = t.protocols[m.dataset];
    const nlohmann::json p = comparable_protocol(m.protocol);
    if (std::find(seen.begin(), seen.end(), p) == seen.end()) seen.push_back(p);
  }
  return t;
}

TableFormat parse_table_format(const std::string& name) {
  if (name == "md") return TableFormat::kMarkdown;
  if (name == "csv") return TableFormat::kCsv;
  if (name == "latex") return TableFormat::kLatex;
  if (name == "html") return TableFormat::kHtml;
  PTQ_FAIL("--format '{}' (md, csv, latex, html)", name);
}

std::string cell_text(const Stat* s, int precision) {
  if (s == nullptr) return "-";
  return fmt::format("{:.{}f} ± {:.{}f} (n={})", s->mean(), precision, s->stdev(), precision, s->n());
}

std::string protocol_summary(const nlohmann::json& p) {
  if (!p.is_object()) return "no protocol recorded";
  std::string s = fmt::format("{}: {}; tokenizer {}; seq_len {}, {} windows", json_text(p, "dataset"),
                              json_text(p, "text_rule"), json_text(p, "tokenizer"), json_text(p, "seq_len"),
                              json_text(p, "n_windows"));
  if (p.contains("max_windows") && p["max_windows"].is_number() && p["max_windows"].get<int64_t>() > 0)
    s += fmt::format(" (at most {})", p["max_windows"].get<int64_t>());
  s += fmt::format("; BOS {}; dtype {}; device {}", json_text(p, "bos"), json_text(p, "dtype"), json_text(p, "device"));
  if (p.contains("data_sha256") && p["data_sha256"].is_string())
    s += "; data sha256 " + p["data_sha256"].get<std::string>().substr(0, 12);
  return s + "; token-level perplexity";
}

std::vector<std::string> table_footnote(const MatrixTable& t) {
  std::vector<std::string> lines;
  std::string over = "over the runs of each cell";
  if (!t.other_axes.empty()) {
    std::string axes;
    for (const auto& a : t.other_axes) axes += (axes.empty() ? "" : ", ") + a;
    over = "over the runs of each cell (axes averaged: " + axes + ")";
  }
  lines.push_back(fmt::format(
      "Matrix {}: fake_quant perplexity, mean ± sample std {}; fp: the unquantized model (pretrain evaluation of the "
      "same runs); bold: the lowest mean of a column.",
      t.matrix, over));
  for (const auto& d : t.datasets) {
    const auto it = t.protocols.find(d);
    if (it == t.protocols.end()) continue;
    if (it->second.size() > 1)
      lines.push_back(fmt::format("WARNING: the runs of dataset {} were measured under {} different protocols; their "
                                  "numbers are not comparable:",
                                  d, it->second.size()));
    for (const auto& p : it->second) lines.push_back("Protocol " + protocol_summary(p) + ".");
  }
  return lines;
}

std::string format_table(const MatrixTable& t, TableFormat format, int precision) {
  PTQ_CHECK(precision >= 0 && precision <= 10, "--precision {} (0..10)", precision);
  // Columns: (column value, dataset); the dataset is named only when there are several.
  std::vector<std::pair<std::string, std::string>> columns;
  for (const auto& d : t.datasets)
    for (const auto& c : t.cols) columns.emplace_back(c, d);
  auto col_name = [&](const std::pair<std::string, std::string>& c) {
    return t.datasets.size() > 1 ? c.first + " " + c.second : c.first;
  };
  const std::vector<std::string> notes = table_footnote(t);
  std::string out;

  if (format == TableFormat::kCsv) {
    out += fmt::format("{},{},dataset,n,ppl_mean,ppl_std\n", csv_field(t.rows_axis), csv_field(t.cols_axis));
    auto line = [&](const std::string& r, const std::pair<std::string, std::string>& c, const Stat* s) {
      if (s != nullptr)
        out += fmt::format("{},{},{},{},{:.{}f},{:.{}f}\n", csv_field(r), csv_field(c.first), csv_field(c.second),
                           s->n(), s->mean(), precision, s->stdev(), precision);
    };
    for (const auto& c : columns) line("fp", c, t.fp_cell(c.first, c.second));
    for (const auto& r : t.rows)
      for (const auto& c : columns) line(r, c, t.cell(r, c.first, c.second));
    return out;
  }

  if (format == TableFormat::kMarkdown) {
    out += fmt::format("| {} |", md_escape(t.rows_axis));
    for (const auto& c : columns) out += " " + md_escape(col_name(c)) + " |";
    out += "\n|---|";
    for (size_t i = 0; i < columns.size(); ++i) out += "---|";
    out += "\n| fp |";
    for (const auto& c : columns) out += " " + cell_text(t.fp_cell(c.first, c.second), precision) + " |";
    out += "\n";
    for (const auto& r : t.rows) {
      out += "| " + md_escape(r) + " |";
      for (const auto& c : columns) {
        const Stat* s = t.cell(r, c.first, c.second);
        const std::string text = cell_text(s, precision);
        if (t.is_best(r, c.first, c.second)) {
          // Bold the number, not the run count, so "(n=..)" reads the same in every cell.
          const size_t paren = text.rfind(" (n=");
          out += " **" + text.substr(0, paren) + "**" + text.substr(paren) + " |";
        } else {
          out += " " + text + " |";
        }
      }
      out += "\n";
    }
    out += "\n";
    for (const auto& n : notes) out += n + "\n";  // plain lines below the table: nothing to escape
    return out;
  }

  if (format == TableFormat::kLatex) {
    auto num = [&](const Stat* s, bool bold) -> std::string {
      if (s == nullptr) return "--";
      const std::string body = fmt::format("{:.{}f} \\pm {:.{}f}", s->mean(), precision, s->stdev(), precision);
      return bold ? "$\\mathbf{" + body + "}$" : "$" + body + "$";
    };
    out += "\\begin{tabular}{l" + std::string(columns.size(), 'r') + "}\n\\toprule\n" + latex_escape(t.rows_axis);
    for (const auto& c : columns) out += " & " + latex_escape(col_name(c));
    out += " \\\\\n\\midrule\nfp";
    for (const auto& c : columns) out += " & " + num(t.fp_cell(c.first, c.second), false);
    out += " \\\\\n\\midrule\n";
    for (const auto& r : t.rows) {
      out += latex_escape(r);
      for (const auto& c : columns) out += " & " + num(t.cell(r, c.first, c.second), t.is_best(r, c.first, c.second));
      out += " \\\\\n";
    }
    out += "\\bottomrule\n\\end{tabular}\n\\par\\smallskip{\\footnotesize\\raggedright\n";
    for (size_t i = 0; i < notes.size(); ++i) out += latex_escape(notes[i]) + (i + 1 < notes.size() ? "\\\\\n" : "\n");
    out += "\\par}\n";
    return out;
  }

  // HTML
  out += "<table class=\"ptq-table\">\n<thead><tr><th>" + xml_escape(t.rows_axis) + "</th>";
  for (const auto& c : columns) out += "<th>" + xml_escape(col_name(c)) + "</th>";
  out += "</tr></thead>\n<tbody>\n<tr class=\"fp\"><th>fp</th>";
  for (const auto& c : columns) out += "<td>" + xml_escape(cell_text(t.fp_cell(c.first, c.second), precision)) + "</td>";
  out += "</tr>\n";
  for (const auto& r : t.rows) {
    out += "<tr><th>" + xml_escape(r) + "</th>";
    for (const auto& c : columns) {
      const std::string text = xml_escape(cell_text(t.cell(r, c.first, c.second), precision));
      out += t.is_best(r, c.first, c.second) ? "<td class=\"best\"><strong>" + text + "</strong></td>"
                                             : "<td>" + text + "</td>";
    }
    out += "</tr>\n";
  }
  out += "</tbody>\n</table>\n<p class=\"footnote\">";
  for (size_t i = 0; i < notes.size(); ++i) out += (i ? "<br/>\n" : "") + xml_escape(notes[i]);
  out += "</p>\n";
  return out;
}

}  // namespace ptq
