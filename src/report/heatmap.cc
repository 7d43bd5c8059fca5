#include "report/heatmap.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <map>

#include "report/svg.h"

namespace ptq {

namespace {

// Colour ramp anchors (r, g, b) at 0, 1/4, 1/2, 3/4, 1: pale yellow through orange and red to dark plum, increasing
// in darkness so the order also reads in greyscale.
constexpr std::array<std::array<double, 3>, 5> kRamp = {{
    {247, 244, 224}, {246, 204, 120}, {232, 136, 62}, {184, 62, 66}, {92, 20, 74}}};

double scale_position(double value, const ColourScale& s) {
  if (s.hi <= s.lo) return 0.5;
  const double t = (std::log10(value) - std::log10(s.lo)) / (std::log10(s.hi) - std::log10(s.lo));
  return std::clamp(t, 0.0, 1.0);
}

std::string ramp(double t) {
  const double pos = t * static_cast<double>(kRamp.size() - 1);
  const size_t i = std::min(static_cast<size_t>(pos), kRamp.size() - 2);
  const double f = pos - static_cast<double>(i);
  int rgb[3];
  for (int c = 0; c < 3; ++c)
    rgb[c] = static_cast<int>(std::lround(kRamp[i][c] + f * (kRamp[i + 1][c] - kRamp[i][c])));
  return fmt::format("#{:02x}{:02x}{:02x}", rgb[0], rgb[1], rgb[2]);
}

std::string short_value(double v) { return std::isnan(v) ? "n/a" : fmt::format("{:.3g}", v); }

}  // namespace

std::string layer_type(const std::string& layer, int64_t block) {
  const std::string prefix = fmt::format("model.layers.{}.", block);
  return layer.rfind(prefix, 0) == 0 ? layer.substr(prefix.size()) : layer;
}

Heatmap layer_error_heatmap(const std::vector<const RunRecord*>& runs, const std::string& metric, std::string title) {
  Heatmap h;
  h.title = std::move(title);
  h.runs = runs.size();
  std::map<std::pair<int64_t, std::string>, std::pair<double, int>> sums;  // (block, type) -> (sum, count)
  for (const RunRecord* r : runs)
    for (const auto& e : r->layer_errors) {
      if (e.metric != metric) continue;
      const std::string type = layer_type(e.layer, e.block);
      if (std::find(h.layer_types.begin(), h.layer_types.end(), type) == h.layer_types.end())
        h.layer_types.push_back(type);
      if (std::find(h.blocks.begin(), h.blocks.end(), e.block) == h.blocks.end()) h.blocks.push_back(e.block);
      if (std::isnan(e.value)) continue;
      auto& [sum, n] = sums[{e.block, type}];
      sum += e.value;
      ++n;
    }
  std::sort(h.blocks.begin(), h.blocks.end());
  for (int64_t b : h.blocks) {
    std::vector<double> row;
    for (const auto& type : h.layer_types) {
      const auto it = sums.find({b, type});
      row.push_back(it == sums.end() ? std::numeric_limits<double>::quiet_NaN()
                                     : it->second.first / it->second.second);
    }
    h.values.push_back(std::move(row));
  }
  return h;
}

ColourScale shared_scale(const std::vector<Heatmap>& maps) {
  double lo = std::numeric_limits<double>::infinity(), hi = 0;
  for (const auto& m : maps)
    for (const auto& row : m.values)
      for (double v : row)
        if (v > 0 && std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  if (!(hi > 0)) return {};
  return {lo, hi};
}

std::string heat_colour(double value, const ColourScale& scale) {
  if (!(value > 0) || !std::isfinite(value)) return "#cccccc";
  return ramp(scale_position(value, scale));
}

std::string heatmap_svg(const Heatmap& h, const ColourScale& scale) {
  // Column labels: the part after the last '.', when that alone tells the layer types apart.
  std::vector<std::string> labels;
  for (const auto& t : h.layer_types) labels.push_back(t.substr(t.rfind('.') + 1));
  const bool unique = std::all_of(labels.begin(), labels.end(),
                                  [&](const std::string& l) { return std::count(labels.begin(), labels.end(), l) == 1; });
  if (!unique) labels = h.layer_types;

  const double cw = 66, ch = 22, left = 64, top = 50, bar_w = 14, bar_h = 12;
  const double grid_w = cw * static_cast<double>(h.layer_types.size());
  const double grid_h = ch * static_cast<double>(h.blocks.size());
  // Bold 12 px title text averages under 7.5 px per character.
  const double width = std::max(left + std::max(grid_w, 10 * bar_w + 150) + 16,
                                8 + 7.5 * static_cast<double>(h.title.size()));
  const double height = top + grid_h + 46;
  SvgWriter svg(width, height);
  svg.rect(0, 0, width, height, {{"class", "background"}, {"fill", "white"}});
  svg.text(4, 16, h.title, {{"class", "hm-title"}, {"font-weight", "bold"}});
  for (size_t j = 0; j < labels.size(); ++j)
    svg.text(left + cw * (static_cast<double>(j) + 0.5), top - 8, labels[j],
             {{"class", "hm-col"}, {"text-anchor", "middle"}, {"font-size", "10"}});
  for (size_t i = 0; i < h.blocks.size(); ++i) {
    const double y = top + ch * static_cast<double>(i);
    svg.text(left - 6, y + ch / 2 + 4, fmt::format("block {}", h.blocks[i]),
             {{"class", "hm-row"}, {"text-anchor", "end"}, {"font-size", "10"}});
    for (size_t j = 0; j < h.layer_types.size(); ++j) {
      const double v = h.values[i][j], x = left + cw * static_cast<double>(j);
      svg.open("rect", {{"class", "hm-cell"},
                        {"x", SvgWriter::num(x)},
                        {"y", SvgWriter::num(y)},
                        {"width", SvgWriter::num(cw - 1)},
                        {"height", SvgWriter::num(ch - 1)},
                        {"fill", heat_colour(v, scale)}});
      svg.element("title", {}, fmt::format("block {} {}: {}", h.blocks[i], h.layer_types[j], short_value(v)));
      svg.close();
      const bool dark = v > 0 && std::isfinite(v) && scale_position(v, scale) > 0.6;
      svg.text(x + cw / 2, y + ch / 2 + 3.5, short_value(v),
               {{"class", "hm-value"}, {"text-anchor", "middle"}, {"font-size", "9"},
                {"fill", dark ? "white" : "#222"}});
    }
  }
  // Colour bar: ten steps, equal in log10, labelled with the scale's ends.
  const double by = top + grid_h + 14;
  svg.open("g", {{"class", "hm-scale"}});
  for (int k = 0; k < 10; ++k)
    svg.rect(left + bar_w * k, by, bar_w, bar_h, {{"fill", ramp((k + 0.5) / 10.0)}});
  svg.text(left - 6, by + 10, short_value(scale.lo), {{"text-anchor", "end"}, {"font-size", "10"}});
  svg.text(left + 10 * bar_w + 6, by + 10,
           short_value(scale.hi) + " (relative output error, log scale)", {{"font-size", "10"}});
  svg.close();
  return svg.fragment();
}

}  // namespace ptq
