// Rotary position embedding in the HF rotate-half convention (docs/formats.md): inv_freq[j] = theta^(-2j/d) for
// j < d/2, angle = position * inv_freq[j] in float32, and element j pairs with element j + d/2:
//   x'_j = x_j cos - x_{j+d/2} sin,   x'_{j+d/2} = x_{j+d/2} cos + x_j sin.
// llama3 and linear rope scaling adjust inv_freq (llama3) or the positions (linear).
#pragma once

#include <ATen/core/Tensor.h>

#include "model/model_config.h"

namespace ptq {

// inv_freq for head dimension c.head_dim with c's theta and scaling: float32 [head_dim / 2].
at::Tensor rope_inv_freq(const ModelConfig& c);

struct RopeTables {
  at::Tensor cos, sin;  // float32 [T, head_dim] (the half-size table repeated twice, as HF builds it)
};
// Tables for positions start .. start + length - 1 on `device`.
RopeTables rope_tables(const ModelConfig& c, const at::Tensor& inv_freq, int64_t start, int64_t length,
                       const at::Device& device);

// x: [B, heads, T, head_dim] any float dtype; tables for those T positions. Returns x rotated, in x's dtype
// (tables cast to x's dtype first, as transformers does).
at::Tensor apply_rope(const at::Tensor& x, const RopeTables& t);

}  // namespace ptq
