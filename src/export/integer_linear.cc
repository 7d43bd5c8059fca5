#include "export/integer_linear.h"

#include <ATen/ATen.h>

#include "core/error.h"

namespace ptq {

at::Tensor consecutive_g_idx(int64_t in_features, int64_t group_size) {
  return at::arange(in_features, at::kInt).div(group_size, "floor").to(at::kInt);
}

IntegerLinear to_integer_linear(const QuantizedLinear& q, int64_t group_size) {
  PTQ_ASSERT(q.codes.defined() && q.codes.dim() == 2, "codes must be [out, in]");
  const QuantSpec& spec = q.spec;
  const int64_t N = q.codes.size(0), K = q.codes.size(1);
  PTQ_CHECK(group_size > 0 && K % group_size == 0,
            "{} input channels do not split into whole groups of {} (a partial last group cannot be stored: every "
            "format derives the group count as in_features / group_size)",
            K, group_size);
  if (spec.granularity == Granularity::kPerGroup)
    PTQ_CHECK(spec.group_size == group_size, "quantized with groups of {}, exported with groups of {}", spec.group_size,
              group_size);
  const int64_t ng = K / group_size;
  const int64_t offset = spec.symmetric ? (int64_t{1} << (spec.bits - 1)) : 0;
  const int64_t qmax = (int64_t{1} << spec.bits) - 1;

  IntegerLinear out;
  out.bits = spec.bits;
  out.group_size = group_size;
  at::Tensor codes = q.codes.to(at::kShort).add(offset);
  PTQ_ASSERT(codes.min().item<int64_t>() >= 0 && codes.max().item<int64_t>() <= qmax, "codes outside [0, {}]", qmax);
  out.codes = codes.to(at::kByte).contiguous();

  // Ranges as recorded: [N, ng] per group, [N, 1] per channel, [1, 1] per tensor; the latter two repeat per group.
  at::Tensor scales = q.scales.to(at::kFloat), zeros = q.zeros.to(at::kFloat);
  PTQ_ASSERT(scales.sizes() == zeros.sizes() && scales.dim() == 2, "scales/zeros shapes differ");
  if (spec.granularity == Granularity::kPerGroup) {
    PTQ_ASSERT(scales.size(0) == N && scales.size(1) == ng, "per-group scales [{}, {}] for [{}, {}] codes",
               scales.size(0), scales.size(1), N, K);
  } else {
    scales = scales.expand({N, ng});
    zeros = zeros.expand({N, ng});
  }
  zeros = zeros.add(static_cast<double>(offset));
  PTQ_CHECK(at::equal(zeros, zeros.round()) && zeros.min().item<double>() >= 0 && zeros.max().item<double>() <= qmax,
            "zero points must be integers in [0, {}] to be stored (round_zp)", qmax);
  out.scales = scales.contiguous();
  out.zeros = zeros.to(at::kByte).contiguous();
  // Recorded g_idx (GPTQ) is meaningful only for per-group ranges; repeated per-channel ranges are consecutive.
  if (spec.granularity == Granularity::kPerGroup && q.g_idx.defined())
    out.g_idx = q.g_idx.to(at::kInt).contiguous();
  else
    out.g_idx = consecutive_g_idx(K, group_size);
  PTQ_ASSERT(out.g_idx.numel() == K, "g_idx has {} entries for {} inputs", out.g_idx.numel(), K);
  return out;
}

at::Tensor dequantize_integer_linear(const IntegerLinear& q) {
  const at::Tensor idx = q.g_idx.to(at::kLong);
  const at::Tensor z = q.zeros.to(at::kFloat).index_select(1, idx);
  const at::Tensor s = q.scales.to(at::kFloat).index_select(1, idx);
  return (q.codes.to(at::kFloat) - z) * s;
}

bool has_consecutive_groups(const IntegerLinear& q) {
  return at::equal(q.g_idx.to(at::kInt), consecutive_g_idx(q.in_features(), q.group_size));
}

}  // namespace ptq
