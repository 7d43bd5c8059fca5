#include "core/fake_quant.h"

#include <ATen/ATen.h>

#include "core/error.h"

namespace ptq {

namespace {

// x seen as [R, L] rows of one range each (R = prod(range shape)); partial last groups are padded with the row's
// last value, which leaves that group's min and max unchanged, and removed again by from_ranges().
struct RangeView {
  at::Tensor v;  // [R, L], float32
  std::vector<int64_t> shape;
  int64_t rows = 0, cols = 0, pad = 0;
  Granularity gran = Granularity::kPerTensor;
};

RangeView to_ranges(const at::Tensor& x, const QuantSpec& spec) {
  PTQ_CHECK(x.dim() >= 1 && x.numel() > 0, "cannot quantize an empty tensor of shape {}", fmt::join(x.sizes(), "x"));
  PTQ_CHECK(at::isFloatingType(x.scalar_type()), "quantizer input must be floating point, got {}",
            c10::toString(x.scalar_type()));
  RangeView r;
  r.shape = x.sizes().vec();
  r.cols = x.size(-1);
  r.rows = x.numel() / r.cols;
  r.gran = spec.granularity;
  at::Tensor x32 = x.to(at::kFloat).reshape({r.rows, r.cols});
  switch (spec.granularity) {
    case Granularity::kPerTensor:
      r.v = x32.reshape({1, -1});
      break;
    case Granularity::kPerChannel:
    case Granularity::kPerToken:
      r.v = x32;
      break;
    case Granularity::kPerGroup: {
      PTQ_CHECK(spec.group_size > 0, "group size must be positive, got {}", spec.group_size);
      const int64_t groups = ranges_per_row(spec, r.cols);
      r.pad = groups * spec.group_size - r.cols;
      if (r.pad > 0) x32 = at::cat({x32, x32.narrow(1, r.cols - 1, 1).expand({r.rows, r.pad})}, 1);
      r.v = x32.reshape({-1, spec.group_size});
      break;
    }
  }
  return r;
}

// Inverse of to_ranges for a tensor laid out like r.v; returns the original shape.
at::Tensor from_ranges(const at::Tensor& v, const RangeView& r) {
  at::Tensor t = v.reshape({r.rows, -1});
  if (r.pad > 0) t = t.narrow(1, 0, r.cols);
  return t.reshape(r.shape);
}

at::Tensor clip_as_column(const at::Tensor& f, const RangeView& r, const char* which) {
  PTQ_CHECK(f.numel() == r.v.size(0), "clip factor '{}' has {} values, the quantizer has {} ranges", which, f.numel(),
            r.v.size(0));
  return f.to(at::kFloat).reshape({-1, 1});
}

std::optional<ClipFactors> clip_for_view(const std::optional<ClipFactors>& clip, const RangeView& r) {
  if (!clip) return std::nullopt;
  ClipFactors c;
  if (clip->up.defined()) c.up = clip_as_column(clip->up, r, "up");
  if (clip->low.defined()) c.low = clip_as_column(clip->low, r, "low");
  return c;
}

struct Quantized {
  RangeView r;
  QParams qp;      // [R, 1]
  at::Tensor q;    // [R, L] float32 integer values
};

Quantized quantize_view(const at::Tensor& x, const QuantSpec& spec, const std::optional<ClipFactors>& clip) {
  Quantized out{to_ranges(x, spec), {}, {}};
  auto [lo, hi] = out.r.v.aminmax(1, /*keepdim=*/true);
  out.qp = compute_qparams(lo, hi, spec, clip_for_view(clip, out.r));
  out.q = quant_with(out.r.v, out.qp, spec);
  return out;
}

}  // namespace

int64_t ranges_per_row(const QuantSpec& spec, int64_t cols) {
  if (spec.granularity != Granularity::kPerGroup) return 1;
  return (cols + spec.group_size - 1) / spec.group_size;
}

std::vector<int64_t> range_shape(const QuantSpec& spec, int64_t numel, int64_t cols) {
  if (spec.granularity == Granularity::kPerTensor) return {1, 1};
  return {numel / cols, ranges_per_row(spec, cols)};
}

QParams compute_qparams(const at::Tensor& lo_in, const at::Tensor& hi_in, const QuantSpec& spec,
                        const std::optional<ClipFactors>& clip) {
  const double qmin = static_cast<double>(spec.qmin()), qmax = static_cast<double>(spec.qmax());
  at::Tensor lo = lo_in, hi = hi_in;
  QParams qp;
  if (spec.symmetric) {
    at::Tensor absmax = at::maximum(lo.abs(), hi.abs()).clamp_min(1e-5);
    if (clip && clip->up.defined()) absmax = absmax * clip->up;
    qp.scale = absmax / qmax;
    qp.zero = at::zeros_like(qp.scale);
  } else {
    if (clip && clip->low.defined()) lo = lo * clip->low;
    if (clip && clip->up.defined()) hi = hi * clip->up;
    qp.scale = (hi - lo).clamp_min(1e-5) / (qmax - qmin);
    qp.zero = (qmin - at::round(lo / qp.scale)).clamp(qmin, qmax);
  }
  return qp;
}

at::Tensor quant_with(const at::Tensor& x, const QParams& qp, const QuantSpec& spec) {
  return (at::round(x / qp.scale) + qp.zero).clamp(static_cast<double>(spec.qmin()), static_cast<double>(spec.qmax()));
}

at::Tensor dequant_with(const at::Tensor& q, const QParams& qp) { return (q - qp.zero) * qp.scale; }

at::Tensor fake_quantize(const at::Tensor& x, const QuantSpec& spec, const std::optional<ClipFactors>& clip) {
  Quantized qz = quantize_view(x, spec, clip);
  return from_ranges(dequant_with(qz.q, qz.qp), qz.r).to(x.scalar_type());
}

QuantizedTensor quantize(const at::Tensor& x, const QuantSpec& spec, const std::optional<ClipFactors>& clip) {
  Quantized qz = quantize_view(x, spec, clip);
  const auto rshape = range_shape(spec, x.numel(), x.size(-1));
  QuantizedTensor out;
  out.codes = from_ranges(qz.q, qz.r).to(spec.symmetric ? at::kChar : at::kByte);
  out.scales = qz.qp.scale.reshape(rshape);
  out.zeros = qz.qp.zero.reshape(rshape);
  out.spec = spec;
  out.dtype = x.scalar_type();
  return out;
}

at::Tensor dequantize(const QuantizedTensor& q) {
  RangeView r = to_ranges(q.codes.to(at::kFloat), q.spec);
  QParams qp{q.scales.reshape({-1, 1}), q.zeros.reshape({-1, 1})};
  PTQ_CHECK(qp.scale.size(0) == r.v.size(0), "dequantize: {} scales for {} ranges", qp.scale.size(0), r.v.size(0));
  return from_ranges(dequant_with(r.v, qp), r).to(q.dtype);
}

}  // namespace ptq
