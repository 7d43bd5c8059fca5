#include "report/plot.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>

#include "core/error.h"
#include "report/svg.h"

namespace ptq {

namespace {

// Line colours, distinguishable in print and for the common colour-vision deficiencies; they repeat with a dashed
// line after the eighth series.
constexpr const char* kColours[] = {"#1b64b0", "#d2541b", "#23894a", "#8e3fae",
                                    "#b8860b", "#0f8a96", "#c2255c", "#555b66"};
constexpr size_t kNumColours = sizeof(kColours) / sizeof(kColours[0]);

// The scheme without its leading "w<bits>": "w3g32" -> "g32", "w8a8" -> "a8", "w4" -> "".
std::string scheme_family(const std::string& scheme) {
  size_t i = 0;
  if (i < scheme.size() && scheme[i] == 'w') ++i;
  while (i < scheme.size() && std::isdigit(static_cast<unsigned char>(scheme[i]))) ++i;
  return scheme.substr(i);
}

// Splits text into lines of at most `width` characters at spaces (a longer word stays whole).
std::vector<std::string> wrap(const std::string& text, size_t width) {
  std::vector<std::string> lines;
  std::string cur;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t sp = text.find(' ', pos);
    if (sp == std::string::npos) sp = text.size();
    const std::string word = text.substr(pos, sp - pos);
    if (!cur.empty() && cur.size() + 1 + word.size() > width) {
      lines.push_back(cur);
      cur.clear();
    }
    cur += (cur.empty() ? "" : " ") + word;
    pos = sp + 1;
  }
  if (!cur.empty()) lines.push_back(cur);
  return lines;
}

std::string tick_label(double v) { return fmt::format("{:.6g}", v); }

}  // namespace

std::string plot_dataset(const MatrixTable& t, const std::string& requested) {
  std::string names;
  for (const auto& d : t.datasets) names += (names.empty() ? "" : ", ") + d;
  if (!requested.empty()) {
    PTQ_CHECK(std::find(t.datasets.begin(), t.datasets.end(), requested) != t.datasets.end(),
              "{}: matrix '{}' has no fake_quant perplexity on dataset '{}' (it has: {})", t.db, t.matrix, requested,
              names);
    return requested;
  }
  PTQ_CHECK(t.datasets.size() == 1, "{}: matrix '{}' was evaluated on several datasets ({}): choose one with --dataset",
            t.db, t.matrix, names);
  return t.datasets.front();
}

std::vector<PlotSeries> plot_series(const MatrixTable& t, const std::string& dataset) {
  std::vector<std::string> families;
  for (const auto& e : t.entries)
    if (e.dataset == dataset && e.weight_bits > 0 &&
        std::find(families.begin(), families.end(), scheme_family(e.scheme)) == families.end())
      families.push_back(scheme_family(e.scheme));
  std::vector<PlotSeries> out;
  for (size_t ri = 0; ri < t.rows.size(); ++ri) {
    const std::string& row = t.rows[ri];
    for (size_t fi = 0; fi < families.size(); ++fi) {
      const std::string& fam = families[fi];
      std::map<int, Stat> by_bits;
      for (const auto& e : t.entries)
        if (e.row == row && e.dataset == dataset && e.weight_bits > 0 && scheme_family(e.scheme) == fam &&
            std::isfinite(e.value))
          by_bits[e.weight_bits].values.push_back(e.value);
      if (by_bits.empty()) continue;
      PlotSeries s;
      s.label = families.size() > 1 ? fmt::format("{} ({})", row, fam.empty() ? "per-channel" : fam) : row;
      for (auto& [bits, stat] : by_bits) s.points.push_back({bits, std::move(stat)});
      s.row_index = ri, s.family_index = fi;
      out.push_back(std::move(s));
    }
  }
  return out;
}

std::vector<double> log_ticks(double lo, double hi) {
  PTQ_ASSERT(lo > 0 && hi >= lo && std::isfinite(hi), "log_ticks({}, {})", lo, hi);
  // Mantissas in hundredths, coarsest first; each set refines the previous one.
  std::vector<std::vector<int>> sets = {{100}, {100, 200, 500}};
  for (int step : {100, 50, 10, 5, 1}) {
    std::vector<int> s;
    for (int m = 100; m < 1000; m += step) s.push_back(m);
    sets.push_back(s);
  }
  const int k0 = static_cast<int>(std::floor(std::log10(lo))) - 1, k1 = static_cast<int>(std::floor(std::log10(hi))) + 1;
  std::vector<double> best;
  for (const auto& set : sets) {
    std::vector<double> all;
    for (int k = k0; k <= k1; ++k)
      for (int m : set) all.push_back(m * std::pow(10.0, k - 2));
    // The axis runs from the last tick at or below lo to the first at or above hi (a relative slack of 1e-9 keeps a
    // value equal to a tick, up to rounding, on that tick).
    size_t a = 0, b = all.size() - 1;
    for (size_t i = 0; i < all.size(); ++i)
      if (all[i] <= lo * (1 + 1e-9)) a = i;
    for (size_t i = all.size(); i-- > 0;)
      if (all[i] >= hi * (1 - 1e-9)) b = i;
    best.assign(all.begin() + static_cast<std::ptrdiff_t>(a), all.begin() + static_cast<std::ptrdiff_t>(b) + 1);
    if (best.size() >= 5) break;
  }
  return best;
}

std::string ppl_bits_figure(const MatrixTable& t, const std::string& dataset, bool standalone) {
  const std::vector<PlotSeries> series = plot_series(t, dataset);
  PTQ_CHECK(!series.empty(), "{}: matrix '{}' has no finite fake_quant perplexity with a weight-bit scheme on '{}'",
            t.db, t.matrix, dataset);
  Stat fp;
  for (const auto& c : t.cols)
    if (const Stat* s = t.fp_cell(c, dataset)) fp.values.insert(fp.values.end(), s->values.begin(), s->values.end());

  // Data ranges.
  double lo = std::numeric_limits<double>::infinity(), hi = 0;
  int bmin = std::numeric_limits<int>::max(), bmax = 0;
  for (const auto& s : series)
    for (const auto& p : s.points) {
      const double m = p.stat.mean(), sd = p.stat.n() >= 2 ? p.stat.stdev() : 0;
      lo = std::min(lo, m - sd > 0 ? m - sd : m);
      hi = std::max(hi, m + sd);
      bmin = std::min(bmin, p.bits), bmax = std::max(bmax, p.bits);
    }
  if (fp.n() > 0) lo = std::min(lo, fp.mean()), hi = std::max(hi, fp.mean());
  // A range narrower than the finest tick step (all points equal) would collapse the axis to one tick.
  if (hi < lo * (1 + 1e-6)) lo /= 1.0005, hi *= 1.0005;
  const std::vector<double> yt = log_ticks(lo, hi);
  PTQ_ASSERT(yt.size() >= 2, "log_ticks({}, {}) gave {} ticks", lo, hi, yt.size());
  const double ylo = std::log10(yt.front()), yhi = std::log10(yt.back());
  const double xlo = bmin - 0.5, xhi = (bmax > bmin ? bmax : bmin) + 0.5;

  // Layout (px): plot area, legend to its right, caption below.
  const double left = 72, top = 44, pw = 440, ph = 300, legend_x = left + pw + 24;
  size_t longest = std::string("fp (unquantized)").size();
  for (const auto& s : series) longest = std::max(longest, s.label.size());
  // Legend text at 12 px averages under 7 px per character: widen the canvas for long method labels.
  const double width = std::max(800.0, legend_x + 30 + 7.0 * static_cast<double>(longest) + 12);
  auto X = [&](double bits) { return left + (bits - xlo) / (xhi - xlo) * pw; };
  auto Y = [&](double v) { return top + ph - (std::log10(v) - ylo) / (yhi - ylo) * ph; };

  // Caption: what the points are, then the protocol(s).
  std::vector<std::string> caption;
  std::string over;
  for (const auto& a : t.other_axes) over += (over.empty() ? "" : ", ") + a;
  caption.push_back(fmt::format(
      "Store {}, matrix {}, dataset {}: fake_quant perplexity, mean over the runs of each point{}; error bars ± 1 "
      "sample std where n ≥ 2; dashed: fp (pretrain) perplexity.",
      std::filesystem::path(t.db).filename().string(), t.matrix, dataset,
      over.empty() ? "" : " (axes averaged: " + over + ")"));
  const auto it = t.protocols.find(dataset);
  if (it != t.protocols.end()) {
    if (it->second.size() > 1)
      caption.push_back(fmt::format("WARNING: {} different protocols among these runs.", it->second.size()));
    for (const auto& p : it->second) caption.push_back("Protocol " + protocol_summary(p) + ".");
  }
  std::vector<std::string> caption_lines;
  for (const auto& para : caption)
    for (const auto& l : wrap(para, 125)) caption_lines.push_back(l);
  const double caption_top = top + ph + 66;
  SvgWriter svg(width, caption_top + 15.0 * static_cast<double>(caption_lines.size()) + 6);
  using A = SvgWriter::Attrs;
  svg.rect(0, 0, width, svg.height(), {{"class", "background"}, {"fill", "white"}});
  svg.text(left, 24, fmt::format("{}: {} perplexity vs weight bits", t.matrix, dataset),
           {{"class", "title"}, {"font-size", "15"}, {"font-weight", "bold"}});

  svg.open("g", {{"class", "axes"}});
  for (double v : yt) {
    svg.line(left, Y(v), left + pw, Y(v), {{"class", "ygrid"}, {"stroke", "#e3e3e3"}});
    svg.text(left - 6, Y(v) + 4, tick_label(v), {{"class", "ytick"}, {"text-anchor", "end"}});
  }
  for (int b = bmin; b <= (bmax > bmin ? bmax : bmin); ++b) {
    svg.line(X(b), top + ph, X(b), top + ph + 5, {{"class", "xgrid"}, {"stroke", "#333"}});
    svg.text(X(b), top + ph + 19, std::to_string(b), {{"class", "xtick"}, {"text-anchor", "middle"}});
  }
  svg.rect(left, top, pw, ph, {{"class", "frame"}, {"fill", "none"}, {"stroke", "#333"}});
  svg.text(left + pw / 2, top + ph + 40, "weight bits", {{"class", "xlabel"}, {"text-anchor", "middle"}});
  svg.text(18, top + ph / 2, "perplexity (log scale)",
           {{"class", "ylabel"}, {"text-anchor", "middle"},
            {"transform", fmt::format("rotate(-90 18 {})", SvgWriter::num(top + ph / 2))}});
  svg.close();

  if (fp.n() > 0) {
    svg.line(left, Y(fp.mean()), left + pw, Y(fp.mean()),
             {{"class", "fp"}, {"stroke", "#222"}, {"stroke-width", "1.5"}, {"stroke-dasharray", "6 4"}});
    svg.text(left + 4, Y(fp.mean()) - 5, fmt::format("fp {:.4g}", fp.mean()),
             {{"class", "fp-label"}, {"font-size", "11"}});
  }

  // Style of a series: colour by method, line dash and marker by scheme family.
  auto colour_of = [](const PlotSeries& s) { return std::string(kColours[s.row_index % kNumColours]); };
  auto dash_of = [](const PlotSeries& s) -> std::string {
    if (s.family_index > 0) return "5 3";
    return s.row_index >= kNumColours ? "2 2" : "";
  };
  auto marker = [&](const PlotSeries& s, double x, double y, const std::string& cls, const std::string& title) {
    const std::string colour = colour_of(s);
    if (s.family_index == 0) {
      svg.open("circle", {{"class", cls}, {"cx", SvgWriter::num(x)}, {"cy", SvgWriter::num(y)}, {"r", "3.5"},
                          {"fill", colour}});
    } else {
      svg.open("rect", {{"class", cls}, {"x", SvgWriter::num(x - 3.5)}, {"y", SvgWriter::num(y - 3.5)},
                        {"width", "7"}, {"height", "7"}, {"fill", "white"}, {"stroke", colour}, {"stroke-width", "1.5"}});
    }
    if (!title.empty()) svg.element("title", {}, title);
    svg.close();
  };

  for (const auto& s : series) {
    const std::string colour = colour_of(s);
    svg.open("g", {{"class", "series"}, {"data-label", s.label}});
    std::vector<std::pair<double, double>> pts;
    for (const auto& p : s.points) pts.emplace_back(X(p.bits), Y(p.stat.mean()));
    A line = {{"class", "series-line"}, {"points", SvgWriter::points(pts)}, {"fill", "none"}, {"stroke", colour},
              {"stroke-width", "2"}};
    if (!dash_of(s).empty()) line.push_back({"stroke-dasharray", dash_of(s)});
    svg.element("polyline", line);
    for (const auto& p : s.points) {
      const double m = p.stat.mean(), sd = p.stat.stdev();
      if (p.stat.n() >= 2 && sd > 0) {
        const double x = X(p.bits), y1 = Y(m - sd > 0 ? m - sd : yt.front()), y2 = Y(m + sd);
        svg.element("path", {{"class", "errbar"},
                             {"d", fmt::format("M{0} {1}V{2}M{3} {1}H{4}M{3} {2}H{4}", SvgWriter::num(x),
                                               SvgWriter::num(y1), SvgWriter::num(y2), SvgWriter::num(x - 4),
                                               SvgWriter::num(x + 4))},
                             {"stroke", colour},
                             {"fill", "none"}});
      }
      marker(s, X(p.bits), Y(m), "point", fmt::format("{}, {} bits: {}", s.label, p.bits, cell_text(&p.stat, 4)));
    }
    svg.close();
  }

  svg.open("g", {{"class", "legend"}});
  double ly = top + 8;
  for (const auto& s : series) {
    A line = {{"stroke", colour_of(s)}, {"stroke-width", "2"}};
    if (!dash_of(s).empty()) line.push_back({"stroke-dasharray", dash_of(s)});
    svg.line(legend_x, ly, legend_x + 24, ly, line);
    marker(s, legend_x + 12, ly, "legend-marker", "");
    svg.text(legend_x + 30, ly + 4, s.label, {{"class", "legend-label"}});
    ly += 20;
  }
  if (fp.n() > 0) {
    svg.line(legend_x, ly, legend_x + 24, ly, {{"stroke", "#222"}, {"stroke-width", "1.5"}, {"stroke-dasharray", "6 4"}});
    svg.text(legend_x + 30, ly + 4, "fp (unquantized)", {{"class", "legend-label"}});
  }
  svg.close();

  double cy = caption_top;
  svg.open("g", {{"class", "caption"}, {"font-size", "11"}, {"fill", "#333"}});
  for (const auto& l : caption_lines) {
    svg.text(left - 60, cy, l, {{"class", "caption-line"}});
    cy += 15;
  }
  svg.close();
  return standalone ? svg.document() : svg.fragment();
}

}  // namespace ptq
