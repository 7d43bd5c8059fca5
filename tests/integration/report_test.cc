// ptq table / plot / report / import on a store filled by a real (small) matrix run on stories260K: the figures and the
// page regenerate byte for byte, the SVG is well-formed with one line per method, one point per bit setting and a
// log-scale y axis, the page shows the table's numbers and escapes the store's strings, the heat maps have
// blocks x layers squares, bad arguments exit 2 naming what was wrong; `ptq import` of the committed records
// reproduces the committed table; `make -C paper tables` regenerates the committed paper tables and figures.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "report/table.h"
#include "store/store.h"
#include "support/test_data.h"

namespace ptq {
namespace {

namespace fs = std::filesystem;

// The last line of a command's standard output (the --json object).
std::string last_line(const std::string& out) {
  const size_t end = out.find_last_not_of('\n');
  const size_t start = out.rfind('\n', end);
  return out.substr(start == std::string::npos ? 0 : start + 1, end - (start == std::string::npos ? 0 : start + 1) + 1);
}

int count_of(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// A small XML well-formedness check: every start tag is closed by the matching end tag in order, attribute values are
// quoted, and no '<' or '&' appears raw in text or attributes (only the five entities and numeric references).
// Returns "" when well-formed, else what is wrong.
std::string xml_problem(const std::string& x) {
  std::vector<std::string> stack;
  size_t i = 0;
  auto entity_ok = [&](size_t at) {
    static const std::regex ent("^&(amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);");
    return std::regex_search(x.begin() + static_cast<std::ptrdiff_t>(at), x.end(), ent);
  };
  while (i < x.size()) {
    if (x[i] == '&') {
      if (!entity_ok(i)) return "raw '&' at " + std::to_string(i);
      ++i;
      continue;
    }
    if (x[i] != '<') {
      ++i;
      continue;
    }
    if (x.compare(i, 5, "<?xml") == 0) {
      const size_t e = x.find("?>", i);
      if (e == std::string::npos) return "unterminated XML declaration";
      i = e + 2;
      continue;
    }
    if (x.compare(i, 2, "</") == 0) {
      const size_t e = x.find('>', i);
      if (e == std::string::npos) return "unterminated end tag";
      const std::string name = x.substr(i + 2, e - i - 2);
      if (stack.empty() || stack.back() != name)
        return "end tag </" + name + "> does not match <" + (stack.empty() ? "" : stack.back()) + ">";
      stack.pop_back();
      i = e + 1;
      continue;
    }
    // Start or empty-element tag: name, then attributes name="value".
    size_t j = i + 1;
    while (j < x.size() && (std::isalnum(static_cast<unsigned char>(x[j])) || x[j] == '-' || x[j] == ':')) ++j;
    const std::string name = x.substr(i + 1, j - i - 1);
    if (name.empty()) return "raw '<' at " + std::to_string(i);
    while (true) {
      while (j < x.size() && std::isspace(static_cast<unsigned char>(x[j]))) ++j;
      if (j >= x.size()) return "unterminated tag <" + name;
      if (x[j] == '>') {
        stack.push_back(name);
        i = j + 1;
        break;
      }
      if (x.compare(j, 2, "/>") == 0) {
        i = j + 2;
        break;
      }
      const size_t eq = x.find('=', j);
      if (eq == std::string::npos || x[eq + 1] != '"') return "unquoted attribute in <" + name;
      const size_t close = x.find('"', eq + 2);
      if (close == std::string::npos) return "unterminated attribute in <" + name;
      const std::string value = x.substr(eq + 2, close - eq - 2);
      if (value.find('<') != std::string::npos) return "raw '<' in an attribute of <" + name;
      for (size_t a = value.find('&'); a != std::string::npos; a = value.find('&', a + 1))
        if (!entity_ok(eq + 2 + a)) return "raw '&' in an attribute of <" + name;
      j = close + 1;
    }
  }
  return stack.empty() ? "" : "<" + stack.back() + "> never closed";
}

// Attribute `name` of every element that has class="cls".
std::vector<std::string> attrs_of_class(const std::string& svg, const std::string& cls, const std::string& name) {
  std::vector<std::string> out;
  const std::regex tag("<[a-z]+ [^>]*class=\"" + cls + "\"[^>]*>");
  const std::regex attr(" " + name + "=\"([^\"]*)\"");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), tag); it != std::sregex_iterator(); ++it) {
    std::smatch m;
    const std::string t = it->str();
    if (std::regex_search(t, m, attr)) out.push_back(m[1]);
  }
  return out;
}

// Text of every element with class="cls", with its y attribute.
std::vector<std::pair<double, std::string>> texts_of_class(const std::string& svg, const std::string& cls) {
  std::vector<std::pair<double, std::string>> out;
  const std::regex re("<text [^>]*y=\"([-0-9.]+)\"[^>]*class=\"" + cls + "\"[^>]*>([^<]*)</text>");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), re); it != std::sregex_iterator(); ++it)
    out.emplace_back(std::stod((*it)[1]), (*it)[2]);
  return out;
}

constexpr const char* kLabel = "r<&>tn";  // a method label that must be escaped everywhere

class ReportTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    db_ = dir_->file("store.db");
    const std::string matrix = dir_->file("report_demo.yaml");
    // 2 methods x 3 bit settings, GPTQ with 2 calibration seeds: RTN points have n=1, GPTQ points n=2.
    test::write_file(matrix, fmt::format(
        "name: report_demo\nbase: {}/configs/quantization/methods/GPTQ/gptq_w_only.yml\n"
        "set: {{model.path: \"{}\", calib.n_samples: 8, calib.seq_len: 64, eval.max_windows: 4, eval.seq_len: 128}}\n"
        "axes:\n"
        "  method:\n"
        "    - {{name: \"{}\", set: {{quant.method: RTN, quant.special: {{}}}}}}\n"
        "    - {{name: gptq, set: {{quant.method: GPTQ}}}}\n"
        "  bits:\n"
        "    - {{name: w2g32, set: {{quant.weight.bit: 2}}}}\n"
        "    - {{name: w3g32, set: {{quant.weight.bit: 3}}}}\n"
        "    - {{name: w4g32, set: {{quant.weight.bit: 4}}}}\n"
        "  seed:\n"
        "    - {{name: s0, set: {{calib.seed: 0}}}}\n"
        "    - {{name: s1, set: {{calib.seed: 1}}}}\n"
        "exclude: [{{method: \"{}\", seed: s1}}]\n",
        PTQ_SOURCE_DIR, test::data_path("models/stories260K-hf"), kLabel, kLabel));
    const auto r = test::run_ptq("run " + matrix + " --db " + db_ + " --threads 1");
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static test::TempDir* dir_;
  static std::string db_;
};
test::TempDir* ReportTest::dir_ = nullptr;
std::string ReportTest::db_;

TEST_F(ReportTest, TableHasFpRowBestInBoldAndProtocolFootnote) {
  const auto md = test::run_ptq("table --db " + db_ + " --matrix report_demo --precision 3");
  ASSERT_EQ(md.exit_code, 0) << md.err;
  EXPECT_EQ(md.out.rfind("| method | w2g32 | w3g32 | w4g32 |\n|---|---|---|---|\n| fp | ", 0), 0u) << md.out;
  EXPECT_NE(md.out.find("| r<&>tn | "), std::string::npos) << md.out;
  EXPECT_EQ(count_of(md.out, "(n=1)"), 3) << md.out;  // RTN: one seed
  EXPECT_EQ(count_of(md.out, "(n=2)"), 3) << md.out;  // GPTQ: two seeds
  EXPECT_EQ(count_of(md.out, "**"), 2 * 3) << md.out;   // one best cell per column
  EXPECT_NE(md.out.find("axes averaged: seed"), std::string::npos) << md.out;
  EXPECT_NE(md.out.find("Protocol tinystories: split on <|endoftext|>"), std::string::npos) << md.out;
  EXPECT_NE(md.out.find("seq_len 128, 4 windows"), std::string::npos) << md.out;

  // In each column the bold cell has the lower mean of the two methods.
  std::vector<std::vector<std::string>> cells;  // [method][column]
  for (const char* row : {"| r<&>tn | ", "| gptq | "}) {
    const size_t at = md.out.find(row);
    ASSERT_NE(at, std::string::npos);
    std::stringstream line(md.out.substr(at + std::string(row).size(), md.out.find('\n', at) - at - std::string(row).size()));
    std::vector<std::string> cols;
    for (std::string c; std::getline(line, c, '|');)
      if (c.find('(') != std::string::npos) cols.push_back(c);
    ASSERT_EQ(cols.size(), 3u) << md.out;
    cells.push_back(cols);
  }
  for (size_t c = 0; c < 3; ++c) {
    auto mean = [](std::string s) { return std::stod(s.substr(s.find_first_of("0123456789"))); };
    const bool rtn_bold = cells[0][c].find("**") != std::string::npos;
    EXPECT_NE(rtn_bold, cells[1][c].find("**") != std::string::npos) << cells[0][c] << " vs " << cells[1][c];
    EXPECT_EQ(rtn_bold, mean(cells[0][c]) < mean(cells[1][c])) << cells[0][c] << " vs " << cells[1][c];
  }

  const auto tex = test::run_ptq("table --db " + db_ + " --matrix report_demo --format latex");
  ASSERT_EQ(tex.exit_code, 0) << tex.err;
  EXPECT_NE(tex.out.find("r\\textless{}\\&\\textgreater{}tn & "), std::string::npos) << tex.out;
  EXPECT_NE(tex.out.find("\\mathbf{"), std::string::npos) << tex.out;
  EXPECT_EQ(tex.out.find("<&>"), std::string::npos) << tex.out;
  const auto csv = test::run_ptq("table --db " + db_ + " --matrix report_demo --format csv");
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  EXPECT_EQ(count_of(csv.out, "\n"), 1 + 3 + 6) << csv.out;  // header, fp per column, 6 cells
  EXPECT_EQ(csv.out.rfind("method,bits,dataset,n,ppl_mean,ppl_std\nfp,w2g32,tinystories,3,", 0), 0u) << csv.out;
}

TEST_F(ReportTest, PlotIsDeterministicWellFormedAndLogScaled) {
  const std::string a = dir_->file("fig/a.svg"), b = dir_->file("b.svg");
  const auto ra = test::run_ptq("plot --db " + db_ + " --matrix report_demo --out " + a + " --json");
  ASSERT_EQ(ra.exit_code, 0) << ra.out << ra.err;
  ASSERT_EQ(test::run_ptq("plot --db " + db_ + " --matrix report_demo --dataset tinystories --out " + b).exit_code, 0);
  const std::string svg = test::read_file(a);
  EXPECT_EQ(svg, test::read_file(b));
  const auto summary = nlohmann::json::parse(last_line(ra.out));
  EXPECT_EQ(summary["bytes"].get<size_t>(), svg.size());
  std::printf("figure: %zu bytes\n", svg.size());

  EXPECT_EQ(xml_problem(svg), "") << svg;
  EXPECT_EQ(svg.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  // One line per method with one point per bit setting.
  const auto lines = attrs_of_class(svg, "series-line", "points");
  ASSERT_EQ(lines.size(), 2u) << svg;
  for (const auto& pts : lines) EXPECT_EQ(count_of(pts, ","), 3) << pts;
  EXPECT_EQ(count_of(svg, "class=\"point\""), 6);
  EXPECT_NE(svg.find("data-label=\"r&lt;&amp;&gt;tn\""), std::string::npos);
  EXPECT_EQ(svg.find("r<&>tn"), std::string::npos);

  // Log-scale y axis: ticks increasing, each m*10^k, and their y positions linear in log10(value).
  const auto ticks = texts_of_class(svg, "ytick");
  ASSERT_GE(ticks.size(), 5u) << svg;
  std::vector<double> tv, ty;
  for (const auto& [y, label] : ticks) tv.push_back(std::stod(label)), ty.push_back(y - 4);  // label baseline = tick+4
  const double slope = (ty.back() - ty.front()) / (std::log10(tv.back()) - std::log10(tv.front()));
  EXPECT_LT(slope, 0);  // larger values higher up
  for (size_t i = 0; i < tv.size(); ++i) {
    if (i > 0) {
      EXPECT_GT(tv[i], tv[i - 1]);
    }
    const double mant = tv[i] / std::pow(10.0, std::floor(std::log10(tv[i]) + 1e-12));
    EXPECT_NEAR(mant * 100, std::round(mant * 100), 1e-6) << tv[i];
    EXPECT_NEAR(ty[i], ty.front() + slope * (std::log10(tv[i]) - std::log10(tv.front())), 0.02) << tv[i];
  }
  auto y_of = [&](double v) { return ty.front() + slope * (std::log10(v) - std::log10(tv.front())); };

  // The points sit at the table's means and the dashed fp line at the pretrain perplexity, on that scale.
  const MatrixTable t = load_matrix_table({db_, "report_demo", "method", "bits"});
  std::map<std::string, double> ys;  // "row bits" -> y
  const std::string label_attr[] = {"r&lt;&amp;&gt;tn", "gptq"};
  for (size_t s = 0; s < 2; ++s) {
    std::stringstream ss(lines[s]);
    std::string pt;
    for (const char* col : {"w2g32", "w3g32", "w4g32"}) {
      ss >> pt;
      const double y = std::stod(pt.substr(pt.find(',') + 1));
      const Stat* st = t.cell(s == 0 ? kLabel : "gptq", col, "tinystories");
      ASSERT_NE(st, nullptr);
      EXPECT_NEAR(y, y_of(st->mean()), 0.02) << label_attr[s] << " " << col;
      EXPECT_GE(st->mean(), tv.front());
      EXPECT_LE(st->mean(), tv.back());
    }
  }
  const auto fp = attrs_of_class(svg, "fp", "y1");
  ASSERT_EQ(fp.size(), 1u);
  EXPECT_NEAR(std::stod(fp[0]), y_of(t.fp_cell("w2g32", "tinystories")->mean()), 0.02);
  EXPECT_NE(svg.find("stroke-dasharray=\"6 4\""), std::string::npos);
  // Error bars only where a point has two runs that differ (GPTQ's seeds).
  int spread = 0;
  for (const char* col : {"w2g32", "w3g32", "w4g32"}) spread += t.cell("gptq", col, "tinystories")->stdev() > 0;
  EXPECT_EQ(count_of(svg, "class=\"errbar\""), spread);
  EXPECT_GE(spread, 1);
  // Legend and caption.
  EXPECT_EQ(count_of(svg, "class=\"legend-label\""), 3);  // two methods and fp
  EXPECT_NE(svg.find("Protocol tinystories:"), std::string::npos);
}

TEST_F(ReportTest, HtmlPageIsSelfContainedDeterministicAndEscaped) {
  const std::string a = dir_->file("a.html"), b = dir_->file("b.html");
  const auto ra = test::run_ptq("report --html --db " + db_ + " --matrix report_demo --out " + a + " --json");
  ASSERT_EQ(ra.exit_code, 0) << ra.out << ra.err;
  ASSERT_EQ(test::run_ptq("report --html --db " + db_ + " --matrix report_demo --out " + b).exit_code, 0);
  const std::string html = test::read_file(a);
  EXPECT_EQ(html, test::read_file(b));
  std::printf("report: %zu bytes\n", html.size());
  const auto summary = nlohmann::json::parse(last_line(ra.out));
  EXPECT_EQ(summary["runs"], 9);
  EXPECT_EQ(summary["figures"], 1);
  EXPECT_EQ(summary["heatmaps"], 6);

  // Self-contained: no scripts, stylesheets or images fetched from anywhere.
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("src="), std::string::npos);
  EXPECT_EQ(count_of(html, "http"), count_of(html, "http://www.w3.org/2000/svg"));
  const size_t body = html.find("<body>"), body_end = html.find("</body>");
  ASSERT_NE(body_end, std::string::npos);
  EXPECT_EQ(xml_problem(html.substr(body, body_end + 7 - body)), "") << "the body is not well-formed";
  // The store's strings are escaped: the label never appears raw.
  EXPECT_EQ(html.find("r<&>tn"), std::string::npos);
  EXPECT_NE(html.find("r&lt;&amp;&gt;tn"), std::string::npos);

  // Every cell of the Markdown table appears in the page as the same text.
  const auto md = test::run_ptq("table --db " + db_ + " --matrix report_demo");
  ASSERT_EQ(md.exit_code, 0);
  int cells = 0;
  const std::regex cell("\\| (\\*\\*)?([0-9.]+ ± [0-9.]+)(\\*\\*)? \\(n=([0-9]+)\\)");
  for (auto it = std::sregex_iterator(md.out.begin(), md.out.end(), cell); it != std::sregex_iterator(); ++it) {
    const std::string text = (*it)[2].str() + " (n=" + (*it)[4].str() + ")";
    EXPECT_NE(html.find(text), std::string::npos) << text;
    ++cells;
  }
  EXPECT_EQ(cells, 3 + 6);  // fp row + 2 methods x 3 bit settings

  // Heat maps: 6 cells x 5 blocks x 7 Linear layers of stories260K, each with a title.
  EXPECT_EQ(count_of(html, "class=\"hm-cell\""), 6 * 5 * 7);
  EXPECT_NE(html.find(">down_proj</text>"), std::string::npos);
  // Timings and configurations of every run.
  EXPECT_EQ(count_of(html, "<details>"), 9);
  EXPECT_NE(html.find("eval_fake_quant (s)"), std::string::npos);
  // One chosen cell only.
  const auto one = test::run_ptq("report --db " + db_ + " --matrix report_demo --heatmaps gptq,w4g32 --out -");
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_EQ(count_of(one.out, "class=\"hm-cell\""), 5 * 7);
  EXPECT_NE(one.out.find("method=gptq, bits=w4g32 (mean of 2 runs)"), std::string::npos);
}

TEST_F(ReportTest, BadArgumentsExitTwoNamingThem) {
  const std::string missing = dir_->file("no_such.db");
  for (const std::string cmd : {"plot --out x.svg", "report --html --out x.html", "table"}) {
    auto r = test::run_ptq(cmd + " --db " + missing + " --matrix report_demo");
    EXPECT_EQ(r.exit_code, 2) << cmd << r.err;
    EXPECT_NE(r.err.find(missing + ": no such results store"), std::string::npos) << r.err;
    r = test::run_ptq(cmd + " --db " + db_ + " --matrix nope_matrix");
    EXPECT_EQ(r.exit_code, 2) << cmd << r.err;
    EXPECT_NE(r.err.find("'nope_matrix'"), std::string::npos) << r.err;
  }
  EXPECT_FALSE(fs::exists(missing));  // a report never creates a store
  auto r = test::run_ptq("plot --db " + db_ + " --matrix report_demo --dataset wikitext2 --out " + dir_->file("x.svg"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("'wikitext2'"), std::string::npos) << r.err;
  r = test::run_ptq("plot --db " + db_ + " --matrix report_demo");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--out"), std::string::npos) << r.err;
  r = test::run_ptq("report --db " + db_ + " --matrix report_demo --heatmaps gptq,w9 --out -");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("gptq,w9"), std::string::npos) << r.err;
  r = test::run_ptq("table --db " + db_ + " --matrix report_demo --format pdf");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--format 'pdf'"), std::string::npos) << r.err;
}

// The committed `ptq run --json` records imported as a matrix regenerate the committed tables byte for byte
// (results/stories260K_*.md are `ptq table --precision 4` of those records; docs/reproducing.md).
TEST(ImportTest, CommittedRecordsReproduceTheCommittedTable) {
  test::TempDir dir;
  const std::string db = dir.file("import.db"), results = std::string(PTQ_SOURCE_DIR) + "/results/";
  const std::string jsonl = results + "stories260K_rtn_gptq.jsonl";
  auto r = test::run_ptq("import " + jsonl + " --db " + db + " --matrix stories260k_rtn_gptq --json");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("\"added\":16"), std::string::npos) << r.out;
  r = test::run_ptq("import " + jsonl + " --db " + db + " --matrix stories260k_rtn_gptq --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"added\":0,"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"skipped\":16"), std::string::npos) << r.out;
  r = test::run_ptq("import " + results + "stories260K_awq.jsonl --db " + db + " --matrix stories260k_awq --json");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;

  for (const std::string name : {"rtn_gptq", "awq"}) {
    const auto table = test::run_ptq("table --db " + db + " --matrix stories260k_" + name + " --precision 4");
    ASSERT_EQ(table.exit_code, 0) << table.err;
    EXPECT_EQ(table.out, test::read_file(results + "stories260K_" + name + ".md")) << name;
  }
  // Spot values of the committed table, so a formatter change that rewrites both sides still shows up here.
  const auto csv = test::run_ptq("table --db " + db + " --matrix stories260k_rtn_gptq --format csv --precision 4");
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  EXPECT_NE(csv.out.find("fp,w2g32,tinystories,4,4.5240,0.0000\n"), std::string::npos) << csv.out;
  EXPECT_NE(csv.out.find("rtn,w2g32,tinystories,1,324.9609,0.0000\n"), std::string::npos) << csv.out;
  EXPECT_NE(csv.out.find("gptq,w2g32,tinystories,3,91.0816,4.4152\n"), std::string::npos) << csv.out;

  Store store(db);
  const auto runs = store.runs("stories260k_rtn_gptq");
  ASSERT_EQ(runs.size(), 16u);
  EXPECT_EQ(runs[1].config["matrix_cell"]["label"], "method=gptq,bits=w2g32,seed=s0");
  EXPECT_EQ(runs[0].config["matrix_cell"]["label"], "method=rtn,bits=w2g32,seed=none");
  EXPECT_EQ(runs[0].config["imported_from"]["line"], 1);
  EXPECT_TRUE(runs[0].layer_errors.empty());          // RTN is data-free: no calibration inputs to measure on
  EXPECT_EQ(runs[1].layer_errors.size(), 2u * 35u);  // GPTQ: output and weight error of 5 blocks x 7 Linears

  const std::string bad = dir.file("bad.jsonl");
  test::write_file(bad, "{\"method\": \"rtn\"}\n");
  r = test::run_ptq("import " + bad + " --db " + db + " --matrix x");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("bad.jsonl: line 1"), std::string::npos) << r.err;
  r = test::run_ptq("import " + dir.file("none.jsonl") + " --db " + dir.file("new.db") + " --matrix x");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_FALSE(fs::exists(dir.file("new.db")));
}

// `make -C paper tables` with a fresh store built from the committed records regenerates the committed tables and
// figures byte for byte (so paper/tables and paper/figures are current).
TEST(PaperTest, MakeTablesRegeneratesTheCommittedFiles) {
  if (std::system("command -v make > /dev/null 2>&1") != 0) GTEST_SKIP() << "make is not installed";
  test::TempDir dir;
  const std::string paper = std::string(PTQ_SOURCE_DIR) + "/paper";
  const std::string cmd = fmt::format(
      "make -s -C {} tables PTQ={} DB={} TABLES_DIR={} FIGURES_DIR={} > {} 2>&1", paper, test::ptq_bin(),
      dir.file("store/paper.db"), dir.file("tables"), dir.file("figures"), dir.file("make.log"));
  ASSERT_EQ(std::system(cmd.c_str()), 0) << test::read_file(dir.file("make.log"));
  int files = 0;
  for (const char* sub : {"tables", "figures"}) {
    std::set<std::string> made, committed;
    for (const auto& e : fs::directory_iterator(dir.file(sub))) made.insert(e.path().filename().string());
    for (const auto& e : fs::directory_iterator(paper + "/" + sub))
      if (e.path().extension() != ".pdf") committed.insert(e.path().filename().string());
    EXPECT_EQ(made.size() - std::count_if(made.begin(), made.end(), [](const std::string& f) {
                return f.size() > 4 && f.substr(f.size() - 4) == ".pdf";
              }),
              committed.size());
    for (const auto& f : committed) {
      ASSERT_TRUE(made.count(f)) << sub << "/" << f << " was not generated";
      EXPECT_EQ(test::read_file(dir.file(std::string(sub) + "/" + f)), test::read_file(paper + "/" + sub + "/" + f))
          << sub << "/" << f << " differs from the committed file: run make -C paper tables";
      ++files;
    }
  }
  EXPECT_GE(files, 4);
  // A second run finds the store and rewrites identical files.
  ASSERT_EQ(std::system(cmd.c_str()), 0) << test::read_file(dir.file("make.log"));
}

}  // namespace
}  // namespace ptq
