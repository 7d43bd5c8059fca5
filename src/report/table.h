// Paper tables of one experiment matrix from the results store, shared by `ptq table`, `ptq plot`, `ptq report` and
// paper/. The numbers are the fake_quant perplexities of the matrix's finished runs, grouped by the "matrix_cell"
// axes their configs carry (src/experiment/matrix.h): one row per value of the rows axis (default method), one column
// per (value of the columns axis (default bits), dataset), mean ± sample std over the remaining axes (seeds).
//
// What every format shows, so that a table read alone cannot be misread:
//   * an "fp" row first: the pretrain perplexity of the same runs (the unquantized model under the same protocol);
//   * the best (lowest mean) quantized cell of each column in bold, when a column has two or more rows;
//   * a footnote: what is averaged (n, the aggregated axes) and the evaluation protocol of each dataset, with a
//     warning when the runs of one dataset were measured under different protocols.
// The output depends only on the store's contents: the same store gives the same bytes.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace ptq {

// Values of one table cell over runs.
struct Stat {
  std::vector<double> values;
  double mean() const;
  double stdev() const;  // sample standard deviation; 0 for one value
  size_t n() const { return values.size(); }
};

// One fake_quant perplexity of one run, with what the plot and the report need besides the table's cell.
struct TableEntry {
  std::string row, col, dataset;
  std::string run_key, scheme;
  int weight_bits = 0;  // from the run's scheme name
  double value = 0;     // NaN when the run reported no finite perplexity
};

struct MatrixTable {
  std::string db, matrix, rows_axis, cols_axis;
  std::vector<std::string> rows, cols, datasets;  // in order of first appearance (run order)
  std::vector<std::string> other_axes;            // the axes averaged over (e.g. seed)
  std::vector<TableEntry> entries;                // in run order
  std::map<std::tuple<std::string, std::string, std::string>, Stat> cells;  // (row, col, dataset)
  std::map<std::pair<std::string, std::string>, Stat> fp;                   // (col, dataset): pretrain ppl
  // Per dataset, the distinct protocols (data_path removed: it names a machine's folder, not the measurement).
  std::map<std::string, std::vector<nlohmann::json>> protocols;

  const Stat* cell(const std::string& row, const std::string& col, const std::string& dataset) const;
  const Stat* fp_cell(const std::string& col, const std::string& dataset) const;
  // True when (row, col, dataset) holds the lowest mean of its column and the column has two or more rows.
  bool is_best(const std::string& row, const std::string& col, const std::string& dataset) const;
};

struct TableQuery {
  std::string db;  // must exist
  std::string matrix;
  std::string rows_axis = "method";
  std::string cols_axis = "bits";
};

// Reads the store. Errors (exit 2) name the store and the matrix: a missing file, no finished runs with fake_quant
// perplexity, a run without the requested axes.
MatrixTable load_matrix_table(const TableQuery& q);

enum class TableFormat { kMarkdown, kCsv, kLatex, kHtml };
// "md", "csv", "latex", "html"; anything else is an error listing them.
TableFormat parse_table_format(const std::string& name);

// Markdown and LaTeX: the table, a blank line, the footnote. CSV: a header and one line per cell (fp lines first,
// row "fp"); no footnote (the protocol is in the store). HTML: a <table> and a <p class="footnote">, every string
// escaped.
std::string format_table(const MatrixTable& t, TableFormat format, int precision);

// The cell text every format shares: "4.52 ± 0.01 (n=3)"; "-" for an empty cell.
std::string cell_text(const Stat* s, int precision);

// The footnote lines in plain text (the formats escape them): what is averaged, then one line per dataset protocol.
std::vector<std::string> table_footnote(const MatrixTable& t);
// One line describing a perplexity protocol: dataset, text rule, tokenizer, seq_len, windows, BOS, dtype, data sha256.
std::string protocol_summary(const nlohmann::json& protocol);

}  // namespace ptq
