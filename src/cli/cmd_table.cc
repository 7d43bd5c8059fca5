// ptq table --db FILE --matrix NAME [--format md|csv|latex]: mean ± std of the fake_quant perplexity of a matrix's
// finished runs, one row per value of the rows axis (default method), one column per value of the columns axis
// (default bits), aggregated over the other axes (seeds). Runs are grouped by the "matrix_cell" their config carries
// (src/experiment/matrix.h). Output depends only on the store's contents: the same store prints the same bytes.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <tuple>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/error.h"
#include "store/db.h"

namespace ptq::cli {

namespace {

struct Stat {
  std::vector<double> values;
  double mean() const {
    double s = 0;
    for (double v : values) s += v;
    return s / static_cast<double>(values.size());
  }
  double stdev() const {  // sample standard deviation; 0 for one value
    if (values.size() < 2) return 0;
    const double m = mean();
    double s = 0;
    for (double v : values) s += (v - m) * (v - m);
    return std::sqrt(s / static_cast<double>(values.size() - 1));
  }
};

std::string axis_value(const nlohmann::json& config, const std::string& axis) {
  if (!config.is_object() || !config.contains("matrix_cell")) return "";
  for (const auto& pair : config["matrix_cell"].value("axes", nlohmann::json::array()))
    if (pair.is_array() && pair.size() == 2 && pair[0] == axis) return pair[1].get<std::string>();
  return "";
}

void add_unique(std::vector<std::string>& list, const std::string& v) {
  if (std::find(list.begin(), list.end(), v) == list.end()) list.push_back(v);
}

}  // namespace

int cmd_table(const std::vector<std::string>& words) {
  Args args("table",
            "Print a paper table of one matrix from the results store: mean ± sample std (n runs) of the fake_quant\n"
            "perplexity, rows by one axis, columns by another, aggregated over the remaining axes.",
            {{"--db", "FILE", "the results store", "results/ptq.db"},
             {"--matrix", "NAME", "the matrix name (its `name:`)", ""},
             {"--format", "md|csv|latex", "output format", "md"},
             {"--rows", "AXIS", "the axis whose values are rows", "method"},
             {"--cols", "AXIS", "the axis whose values are columns", "bits"},
             {"--precision", "N", "decimals", "2"}});
  if (!args.parse(words)) return 0;
  const auto matrix = args.get("--matrix");
  PTQ_CHECK(matrix.has_value(), "ptq table: --matrix NAME is required");
  const std::string db = args.get_or("--db", "results/ptq.db"), format = args.get_or("--format", "md");
  const std::string rows_axis = args.get_or("--rows", "method"), cols_axis = args.get_or("--cols", "bits");
  PTQ_CHECK(format == "md" || format == "csv" || format == "latex", "ptq table: --format '{}' (md, csv, latex)",
            format);
  const int prec = args.get_int("--precision");
  PTQ_CHECK(prec >= 0 && prec <= 10, "ptq table: --precision {} (0..10)", prec);
  PTQ_CHECK(std::filesystem::is_regular_file(db), "{}: no such results store", db);

  Store store(db);
  std::vector<std::string> rows, cols, datasets;
  std::map<std::tuple<std::string, std::string, std::string>, Stat> cells;
  for (const MetricRow& m : store.metrics(*matrix, "ppl")) {
    if (m.pos != "fake_quant") continue;
    const std::string r = axis_value(m.config, rows_axis), c = axis_value(m.config, cols_axis);
    PTQ_CHECK(!r.empty() && !c.empty(), "{}: run {} of matrix {} has no '{}' and '{}' axes (matrix_cell)", db,
              m.run_key.substr(0, 12), *matrix, rows_axis, cols_axis);
    add_unique(rows, r), add_unique(cols, c), add_unique(datasets, m.dataset);
    if (!std::isnan(m.value)) cells[{r, c, m.dataset}].values.push_back(m.value);
  }
  PTQ_CHECK(!rows.empty(), "{}: no finished runs with fake_quant perplexity for matrix '{}'", db, *matrix);

  // Columns: (column value, dataset); the dataset is named only when there are several.
  std::vector<std::pair<std::string, std::string>> columns;
  for (const auto& d : datasets)
    for (const auto& c : cols) columns.emplace_back(c, d);
  auto col_name = [&](const std::pair<std::string, std::string>& c) {
    return datasets.size() > 1 ? c.first + " " + c.second : c.first;
  };
  auto stat = [&](const std::string& r, const std::pair<std::string, std::string>& c) -> const Stat* {
    const auto it = cells.find({r, c.first, c.second});
    return it == cells.end() || it->second.values.empty() ? nullptr : &it->second;
  };

  std::string out;
  if (format == "csv") {
    out += fmt::format("{},{},dataset,n,ppl_mean,ppl_std\n", rows_axis, cols_axis);
    for (const auto& r : rows)
      for (const auto& c : columns)
        if (const Stat* s = stat(r, c))
          out += fmt::format("{},{},{},{},{:.{}f},{:.{}f}\n", r, c.first, c.second, s->values.size(), s->mean(), prec,
                             s->stdev(), prec);
  } else if (format == "md") {
    out += fmt::format("| {} |", rows_axis);
    for (const auto& c : columns) out += " " + col_name(c) + " |";
    out += "\n|---|";
    for (size_t i = 0; i < columns.size(); ++i) out += "---|";
    out += "\n";
    for (const auto& r : rows) {
      out += "| " + r + " |";
      for (const auto& c : columns) {
        const Stat* s = stat(r, c);
        out += " " + (s ? fmt::format("{:.{}f} ± {:.{}f} (n={})", s->mean(), prec, s->stdev(), prec, s->values.size())
                        : std::string("-")) +
               " |";
      }
      out += "\n";
    }
  } else {
    auto tex = [](std::string s) {
      std::string o;
      for (char ch : s) o += (ch == '_' || ch == '&' || ch == '%' || ch == '#') ? std::string("\\") + ch : std::string(1, ch);
      return o;
    };
    out += "\\begin{tabular}{l" + std::string(columns.size(), 'r') + "}\n\\toprule\n" + tex(rows_axis);
    for (const auto& c : columns) out += " & " + tex(col_name(c));
    out += " \\\\\n\\midrule\n";
    for (const auto& r : rows) {
      out += tex(r);
      for (const auto& c : columns) {
        const Stat* s = stat(r, c);
        out += " & " + (s ? fmt::format("${:.{}f} \\pm {:.{}f}$", s->mean(), prec, s->stdev(), prec) : std::string("--"));
      }
      out += " \\\\\n";
    }
    out += "\\bottomrule\n\\end{tabular}\n";
  }
  fmt::print("{}", out);
  return 0;
}

}  // namespace ptq::cli
