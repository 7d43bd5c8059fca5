// Per-layer error heat maps for the report (`ptq report`): one grid per matrix cell (method × bits), rows = decoder
// blocks, columns = layer types (the Linear's name inside its block: self_attn.q_proj, ..., mlp.down_proj), each
// square coloured by the layer's relative output error ||xWᵀ - q(x)Q(W)ᵀ|| / ||xWᵀ|| (the store's layer_errors),
// averaged over the cell's runs (seeds). Every map of one report shares one log-scale colour scale, so colours
// compare across methods and bit settings.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "store/store.h"

namespace ptq {

struct Heatmap {
  std::string title;
  std::vector<int64_t> blocks;             // ascending
  std::vector<std::string> layer_types;    // in the order the first run lists them
  std::vector<std::vector<double>> values; // [block][layer type]; NaN where no run has the layer
  size_t runs = 0;                         // runs averaged
};

// "model.layers.3.mlp.down_proj" in block 3 -> "mlp.down_proj"; a name without that prefix stays whole.
std::string layer_type(const std::string& layer, int64_t block);

// The mean of `metric` over `runs` per (block, layer type). A map with no rows has no blocks.
Heatmap layer_error_heatmap(const std::vector<const RunRecord*>& runs, const std::string& metric, std::string title);

// The colour scale: log10 from lo to hi (> 0), the extremes of the maps' positive values.
struct ColourScale {
  double lo = 1, hi = 1;
};
ColourScale shared_scale(const std::vector<Heatmap>& maps);

// "#rrggbb" for a value on the scale (light = small error, dark = large); grey for a missing or non-positive value.
std::string heat_colour(double value, const ColourScale& scale);

// The map as an <svg> element: one <rect class="hm-cell"> per (block, layer type) with the value as text and tooltip,
// block and layer labels, and a colour bar with the scale's ends.
std::string heatmap_svg(const Heatmap& h, const ColourScale& scale);

}  // namespace ptq
