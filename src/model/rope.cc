#include "model/rope.h"

#include <ATen/ATen.h>

#include <cmath>

namespace ptq {

at::Tensor rope_inv_freq(const ModelConfig& c) {
  const int64_t d = c.head_dim;
  // theta^(-2j/d) computed as transformers does: 1 / theta^(arange(0, d, 2) / d), in float32.
  at::Tensor exponent = at::arange(0, d, 2, at::kLong).to(at::kFloat) / static_cast<double>(d);
  at::Tensor inv = 1.0 / at::pow(c.rope_theta, exponent);
  if (c.rope_scaling.type == "llama3") {
    // Llama 3.1 frequency-dependent scaling: long wavelengths divided by `factor`, short ones kept, a smooth blend
    // between (transformers _compute_llama3_parameters).
    const auto& s = c.rope_scaling;
    const double L = static_cast<double>(s.original_max_position_embeddings);
    const double low_wavelen = L / s.low_freq_factor, high_wavelen = L / s.high_freq_factor;
    at::Tensor wavelen = 2 * M_PI / inv;
    at::Tensor scaled = at::where(wavelen > low_wavelen, inv / s.factor, inv);
    at::Tensor smooth = (L / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
    at::Tensor smoothed = (1 - smooth) * scaled / s.factor + smooth * scaled;
    at::Tensor medium = (wavelen >= high_wavelen).logical_and(wavelen <= low_wavelen);
    inv = at::where(medium, smoothed, scaled);
  }
  return inv.to(at::kFloat);
}

RopeTables rope_tables(const ModelConfig& c, const at::Tensor& inv_freq, int64_t start, int64_t length,
                       const at::Device& device) {
  at::Tensor pos = at::arange(start, start + length, at::kLong).to(at::kFloat);
  if (c.rope_scaling.type == "linear") pos = pos / c.rope_scaling.factor;
  at::Tensor angles = at::outer(pos, inv_freq);  // [T, d/2], float32
  at::Tensor emb = at::cat({angles, angles}, -1);
  return {emb.cos().to(device), emb.sin().to(device)};
}

at::Tensor apply_rope(const at::Tensor& x, const RopeTables& t) {
  const int64_t half = x.size(-1) / 2;
  at::Tensor cos = t.cos.to(x.scalar_type()), sin = t.sin.to(x.scalar_type());
  at::Tensor rotated = at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
  return x * cos + rotated * sin;
}

}  // namespace ptq
