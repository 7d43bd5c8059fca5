#include "core/fake_quant.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cmath>

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
  // amin + amax: two passes, yet 2-3x faster than aminmax on the CPU in LibTorch 2.15 (exact either way).
  out.qp = compute_qparams(out.r.v.amin(1, true), out.r.v.amax(1, true), spec, clip_for_view(clip, out.r));
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

// In-place after the first op: on large weights every fresh temporary costs a page-faulting allocation.
at::Tensor quant_with(const at::Tensor& x, const QParams& qp, const QuantSpec& spec) {
  return x.div(qp.scale).round_().add_(qp.zero).clamp_(static_cast<double>(spec.qmin()),
                                                        static_cast<double>(spec.qmax()));
}

at::Tensor dequant_with(const at::Tensor& q, const QParams& qp) { return (q - qp.zero).mul_(qp.scale); }

// Round half to even without a libm call (std::nearbyint is not inlined on baseline x86-64): adding and subtracting
// 1.5 * 2^23 rounds in the current (nearest-even) mode. Exact for |v| < 2^22; larger magnitudes come out wrong by at
// most 2 but are far outside every grid (|q| <= 255) and are clamped identically.
inline float round_half_even(float v) {
  constexpr float kMagic = 12582912.0f;
  return (v + kMagic) - kMagic;
}

// One fused pass for CPU tensors: quant and dequant per element with the same float32 operations in the same order
// as quant_with/dequant_with (IEEE division and multiplication, round half to even like torch.round, no contraction
// under -std=c++20), so the result is bit-identical to the tensor-op path; the tensor-op path stays for other devices
// and is what FakeQuant.FusedCpuPathMatchesTensorOps compares against.
// Writes into `out` (same shape as r.v, may be r.v itself).
static void fake_quantize_cpu_fused(const RangeView& r, const QParams& qp, const QuantSpec& spec, at::Tensor& out) {
  const at::Tensor& v = r.v;
  PTQ_ASSERT(v.is_contiguous() && out.is_contiguous(), "fused fake quant needs contiguous buffers");
  at::Tensor scale = qp.scale.contiguous(), zero = qp.zero.contiguous();
  const float* xs = v.data_ptr<float>();
  const float* ss = scale.data_ptr<float>();
  const float* zs = zero.data_ptr<float>();
  float* ys = out.data_ptr<float>();
  const int64_t L = v.size(1);
  const float qmin = static_cast<float>(spec.qmin()), qmax = static_cast<float>(spec.qmax());
  at::parallel_for(0, v.size(0), std::max<int64_t>(1, 16384 / L), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float s = ss[i], z = zs[i];
      const float* x = xs + i * L;
      float* y = ys + i * L;
      for (int64_t j = 0; j < L; ++j) {
        float q = round_half_even(x[j] / s) + z;
        q = q < qmin ? qmin : (q > qmax ? qmax : q);
        y[j] = (q - z) * s;
      }
    }
  });
}

at::Tensor fake_quantize(const at::Tensor& x, const QuantSpec& spec, const std::optional<ClipFactors>& clip) {
  if (x.device().is_cpu() && !fake_quant_reference_mode()) {
    RangeView r = to_ranges(x, spec);
    r.v = r.v.contiguous();
    QParams qp = compute_qparams(r.v.amin(1, true), r.v.amax(1, true), spec, clip_for_view(clip, r));
    at::Tensor out = at::empty_like(r.v);
    fake_quantize_cpu_fused(r, qp, spec, out);
    return from_ranges(out, r).to(x.scalar_type());
  }
  Quantized qz = quantize_view(x, spec, clip);
  return from_ranges(qz.q.sub_(qz.qp.zero).mul_(qz.qp.scale), qz.r).to(x.scalar_type());
}

at::Tensor& fake_quantize_(at::Tensor& x, const QuantSpec& spec, const std::optional<ClipFactors>& clip) {
  // The fused loop writes straight into x when x is a contiguous float32 CPU tensor without a partial group (the
  // range view is then x's own memory): no allocation, which dominates the cost on large weights.
  if (x.device().is_cpu() && x.scalar_type() == at::kFloat && x.is_contiguous() && !fake_quant_reference_mode()) {
    RangeView r = to_ranges(x, spec);
    if (r.pad == 0 && r.v.data_ptr() == x.data_ptr()) {
      QParams qp = compute_qparams(r.v.amin(1, true), r.v.amax(1, true), spec, clip_for_view(clip, r));
      fake_quantize_cpu_fused(r, qp, spec, r.v);
      return x;
    }
  }
  at::NoGradGuard no_grad;
  x.copy_(fake_quantize(x, spec, clip));
  return x;
}

namespace {
thread_local bool g_reference_mode = false;
}

bool fake_quant_reference_mode() { return g_reference_mode; }
void set_fake_quant_reference_mode(bool on) { g_reference_mode = on; }

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
