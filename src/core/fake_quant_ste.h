// A differentiable fake quantizer for learned methods (OmniQuant's LWC/LET training, LLMC's calib_algo
// "learnable"): the same grid, scale and zero point as fake_quant.h, written with autograd-tracked tensor ops.
//   round      straight-through (forward round half to even, backward identity), LLMC `ste: True`
//   zero       rounded with a plain round and clamped: no gradient reaches it (LLMC; docs/pitfalls.md #4)
//   clipping   sym:  absmax' = max(|lo|, |hi|, 1e-5) · σ(up)          asym: lo' = σ(low) · lo, hi' = σ(up) · hi
//              gradients reach `up`/`low` through the scale and the clamp bounds
// With the same factors its forward values equal fake_quantize(x, spec, ClipFactors{σ(up), σ(low)}) up to float
// rounding of the sigmoid; the final weights of a learned method are always produced by fake_quantize itself.
#pragma once

#include <ATen/core/Tensor.h>

#include "core/quant_spec.h"

namespace ptq {

// x: [..., C] floating, may require grad; returns Q(x) with x's shape, computed and returned in float32.
// up_logit / low_logit: float32 logits in fake_quant.h's range shape of x (range_shape(spec, numel, C)), may require
// grad; undefined = no clipping on that end (`low_logit` is ignored when spec.symmetric).
at::Tensor fake_quantize_ste(const at::Tensor& x, const QuantSpec& spec, const at::Tensor& up_logit = {},
                             const at::Tensor& low_logit = {});

// Straight-through round: forward round(v), backward identity. v: any floating tensor.
at::Tensor round_ste(const at::Tensor& v);

}  // namespace ptq
