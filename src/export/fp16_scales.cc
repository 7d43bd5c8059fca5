#include "export/fp16_scales.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "core/error.h"
#include "model/causal_lm.h"

namespace ptq {

at::Tensor dequantize_recorded(const QuantizedLinear& q) {
  const int64_t K = q.codes.size(1);
  at::Tensor s = q.scales.to(at::kFloat), z = q.zeros.to(at::kFloat);
  if (q.spec.granularity == Granularity::kPerGroup) {
    const at::Tensor idx =
        q.g_idx.defined() ? q.g_idx.to(at::kLong) : at::arange(K, at::kLong).div(q.spec.group_size, "floor");
    s = s.index_select(1, idx);
    z = z.index_select(1, idx);
  }  // per_channel [out, 1] and per_tensor [1, 1] broadcast
  return (q.codes.to(at::kFloat) - z) * s;
}

double round_scales_to_fp16(CausalLMImpl& model, std::map<std::string, QuantizedLinear>& codes) {
  at::NoGradGuard no_grad;
  double worst = 0;
  for (auto& [name, q] : codes) {
    const at::Tensor s32 = q.scales.to(at::kFloat);
    const at::Tensor s16 = s32.to(at::kHalf).to(at::kFloat);
    PTQ_CHECK(at::isfinite(s16).all().item<bool>() && (s16 > 0).all().item<bool>(),
              "{}: a scale ({} .. {}) is outside the fp16 range every export format stores scales in", name,
              s32.min().item<double>(), s32.max().item<double>());
    worst = std::max(worst, ((s16 - s32).abs() / s32).max().item<double>());
    q.scales = s16;
    Linear l = model.linear(name);
    l->weight.copy_(dequantize_recorded(q).to(l->weight.scalar_type()));
  }
  return worst;
}

}  // namespace ptq
