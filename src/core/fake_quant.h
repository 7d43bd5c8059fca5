// The integer quantizer every method shares (LLMC quant.py semantics; docs/quantizer.md):
//   symmetric:  grid [-2^(b-1), 2^(b-1)-1], absmax = max(|lo|, |hi|, 1e-5), scale = absmax / qmax, zero = 0
//   asymmetric: grid [0, 2^b-1], scale = max(hi - lo, 1e-5) / (qmax - qmin),
//               zero = clamp(qmin - round(lo / scale), qmin, qmax)
//   quant(x) = clamp(round(x / scale) + zero, qmin, qmax);  dequant(q) = (q - zero) * scale
// round is torch.round (half to even). The range [lo, hi] is min/max over the last dimension of the granularity view
// and is not widened to contain 0. Ranges, scales and zeros are computed in float32 whatever the input dtype; results
// come back in the input dtype.
//
// Range layout. A tensor x of shape [..., C] is seen as `rows` = numel / C rows of C values:
//   per_tensor              one range                              range shape [1, 1]
//   per_channel / per_token one range per row                      range shape [rows, 1]
//   per_group(G)            ceil(C / G) ranges per row; when C % G != 0 the last group of each row is partial
//                           (holds C % G values; its range covers only those)  range shape [rows, ceil(C / G)]
// Scales, zeros and clip factors all have the range shape.
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>
#include <vector>

#include "core/quant_spec.h"

namespace ptq {

// Multiplicative range factors, float32, range shape, values in (0, 1] (AWQ clip search, OmniQuant LWC after the
// sigmoid). Symmetric: absmax' = max(|lo|, |hi|, 1e-5) * up (`low` unused). Asymmetric: lo' = lo * low, hi' = hi * up.
// (LLMC quant.py calib_algo "learnable".)
struct ClipFactors {
  at::Tensor up;
  at::Tensor low;  // asymmetric only; undefined means 1
};

// Result of quantize(): integer codes plus what dequantize() needs.
struct QuantizedTensor {
  at::Tensor codes;   // input shape; int8 (symmetric) or uint8 (asymmetric); every value in [qmin, qmax]
  at::Tensor scales;  // float32, range shape
  at::Tensor zeros;   // float32, range shape; integer-valued; all 0 when symmetric
  QuantSpec spec;
  at::ScalarType dtype;  // dtype of the tensor that was quantized; dequantize() returns it
};

// Number of ranges per row for `spec` on a last dimension of `cols` (1 unless per_group).
int64_t ranges_per_row(const QuantSpec& spec, int64_t cols);
// Range shape (see above) of a tensor with `numel` elements and last dimension `cols`.
std::vector<int64_t> range_shape(const QuantSpec& spec, int64_t numel, int64_t cols);

// Q(x) = dequant(quant(x)). x: any floating dtype, any shape with at least one dimension; returns x's shape and dtype.
at::Tensor fake_quantize(const at::Tensor& x, const QuantSpec& spec, const std::optional<ClipFactors>& clip = {});

// In-place Q(x) (what RTN applies to a weight); same values as fake_quantize. Returns x.
at::Tensor& fake_quantize_(at::Tensor& x, const QuantSpec& spec, const std::optional<ClipFactors>& clip = {});

// Tests only: route CPU tensors through the tensor-op path instead of the fused loop (thread-local switch), so the
// two can be compared bit for bit.
bool fake_quant_reference_mode();
void set_fake_quant_reference_mode(bool on);

// Integer codes, scales and zeros of x (same grid as fake_quantize). dequantize(quantize(x)) equals
// fake_quantize(x) bit for bit.
QuantizedTensor quantize(const at::Tensor& x, const QuantSpec& spec, const std::optional<ClipFactors>& clip = {});
at::Tensor dequantize(const QuantizedTensor& q);

// Building blocks for methods that fix the grid themselves (GPTQ quantizes column by column with group parameters).
// lo, hi: float32 ranges of any shape; returns {scale, zero} of that shape (the formulas at the top of this file).
struct QParams {
  at::Tensor scale;
  at::Tensor zero;
};
QParams compute_qparams(const at::Tensor& lo, const at::Tensor& hi, const QuantSpec& spec,
                        const std::optional<ClipFactors>& clip = {});
// Integer values (as float32) of x on the grid given by scale/zero, which broadcast against x (float32).
at::Tensor quant_with(const at::Tensor& x, const QParams& qp, const QuantSpec& spec);
// (q - zero) * scale, float32.
at::Tensor dequant_with(const at::Tensor& q, const QParams& qp);

}  // namespace ptq
