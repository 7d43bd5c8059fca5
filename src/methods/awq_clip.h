// AWQ's weight clip search (docs/methods/awq.md; LLMC auto_clip.py, llm-awq auto_clip.py), shared by AWQ and by
// OmniQuant's `search_clip_init`, which starts its learnable clipping from the ratios found here.
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>
#include <vector>

#include "core/fake_quant.h"

namespace ptq {

// Per (row, group) shrink factor r in {1.00, 0.95, ..., 0.55} minimising the mean over sampled tokens of the squared
// error of the group's partial dot products, with the weight clamped to [r·lo0, r·hi0] (sym: [−r·max|W|, r·max|W|])
// and quantized with `wspec`'s grid. w: [out, in] any float dtype; xs: the layer's inputs, each [B, T, in]; act: the
// activation quantizer applied to the sampled inputs (nullopt = none); n_tok: tokens to sample (LLMC passes
// calib.seq_len; every Ntok/n_tok-th token is kept). Returns float32 factors in the weight quantizer's range shape on
// w's device, the same factor for both ends (`low` undefined when sym), as both references. Ties keep the larger r.
// A (row, group) range whose error is NaN/inf for every ratio keeps r = 1 (no clipping); `nonfinite` (optional)
// receives how many ranges that happened to.
ClipFactors awq_clip_search(const at::Tensor& w, const std::vector<at::Tensor>& xs, const QuantSpec& wspec,
                            const std::optional<QuantSpec>& act, bool sym, int64_t n_tok, int64_t* nonfinite = nullptr);

// AWQ clip v1: w [out, in] clamped in place to [r·lo0, r·hi0] per (row, group) with r = c.up (sym: [−r·max|W|,
// r·max|W|]).
void awq_clamp_to(at::Tensor& w, const ClipFactors& c, const QuantSpec& wspec, bool sym);

}  // namespace ptq
