#include "methods/awq_clip.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <limits>

#include "core/error.h"

namespace ptq {

ClipFactors awq_clip_search(const at::Tensor& w, const std::vector<at::Tensor>& xs, const QuantSpec& wspec,
                            const std::optional<QuantSpec>& act, bool sym, int64_t n_tok, int64_t* nonfinite) {
  PTQ_CHECK(wspec.granularity != Granularity::kPerTensor, "awq weight_clip supports per_group and per_channel weights");
  PTQ_CHECK(!xs.empty() && n_tok > 0, "the clip search needs calibration inputs");
  at::NoGradGuard no_grad;
  if (nonfinite != nullptr) *nonfinite = 0;
  std::vector<at::Tensor> flat;
  for (const auto& x : xs) flat.push_back(x.reshape({-1, x.size(-1)}));
  at::Tensor X = at::cat(flat, 0).to(at::kFloat);  // [Ntok, in]
  const int64_t step = std::max<int64_t>(1, X.size(0) / n_tok);
  X = X.slice(0, 0, X.size(0), step);
  at::Tensor W = w.to(at::kFloat);
  const int64_t out = W.size(0), in = W.size(1);
  const int64_t G = wspec.granularity == Granularity::kPerGroup ? wspec.group_size : in;
  const int64_t groups = (in + G - 1) / G;
  at::Tensor best_r = at::ones({out, groups}, W.options());
  const QuantSpec row_spec{wspec.bits, wspec.symmetric, Granularity::kPerChannel, 0};
  for (int64_t g = 0; g < groups; ++g) {
    const int64_t g0 = g * G, len = std::min(G, in - g0);
    at::Tensor Wg = W.narrow(1, g0, len);  // [out, len]
    at::Tensor Xg = X.narrow(1, g0, len);  // [tok, len]
    at::Tensor Xq = act ? fake_quantize(Xg, *act) : Xg;
    at::Tensor ref = at::matmul(Xg, Wg.t());  // [tok, out]
    at::Tensor hi0 = sym ? Wg.abs().amax(1, true) : Wg.amax(1, true);
    at::Tensor lo0 = sym ? -hi0 : Wg.amin(1, true);
    at::Tensor best_err = at::full({out}, std::numeric_limits<float>::infinity(), W.options());
    for (int i = 0; i < 10; ++i) {
      const double r = 1.0 - i / 20.0;
      at::Tensor Wq = fake_quantize(at::clamp(Wg, lo0 * r, hi0 * r), row_spec);
      at::Tensor err = (at::matmul(Xq, Wq.t()) - ref).pow(2).mean(0);  // [out]
      at::Tensor better = err < best_err;  // ties keep the earlier, larger r
      best_err = at::where(better, err, best_err);
      best_r.select(1, g).masked_fill_(better, r);
    }
    if (nonfinite != nullptr) *nonfinite += (~at::isfinite(best_err)).sum().item<int64_t>();
  }
  const auto shape = range_shape(wspec, w.numel(), in);
  at::Tensor f = best_r.reshape(shape).to(w.device());
  return {f, sym ? at::Tensor() : f};
}

void awq_clamp_to(at::Tensor& w, const ClipFactors& c, const QuantSpec& wspec, bool sym) {
  at::NoGradGuard no_grad;
  const int64_t in = w.size(1);
  const int64_t G = wspec.granularity == Granularity::kPerGroup ? wspec.group_size : in;
  for (int64_t g0 = 0, g = 0; g0 < in; g0 += G, ++g) {
    const int64_t len = std::min(G, in - g0);
    at::Tensor Wg = w.narrow(1, g0, len);
    at::Tensor r = c.up.select(1, g).unsqueeze(1).to(w.scalar_type());
    at::Tensor hi = (sym ? Wg.abs().amax(1, true) : Wg.amax(1, true)) * r;
    at::Tensor lo = sym ? -hi : Wg.amin(1, true) * r;
    Wg.copy_(at::clamp(Wg, lo, hi));
  }
}

}  // namespace ptq
