#include "core/fake_quant_ste.h"

#include <ATen/ATen.h>

#include "core/error.h"
#include "core/fake_quant.h"

namespace ptq {

at::Tensor round_ste(const at::Tensor& v) { return v + (at::round(v) - v).detach(); }

namespace {

// Rows of `v` ([R, L], float32) each quantized with their own range; up/low: [R, 1] logits or undefined.
at::Tensor qdq_rows(const at::Tensor& v, const QuantSpec& spec, const at::Tensor& up, const at::Tensor& low) {
  const double qmin = static_cast<double>(spec.qmin()), qmax = static_cast<double>(spec.qmax());
  at::Tensor lo = v.amin(-1, true), hi = v.amax(-1, true);
  at::Tensor scale, zero;
  if (spec.symmetric) {
    at::Tensor absmax = at::maximum(lo.abs(), hi.abs()).clamp_min(1e-5);
    if (up.defined()) absmax = absmax * at::sigmoid(up);
    scale = absmax / qmax;
    zero = at::zeros_like(scale);
  } else {
    if (low.defined()) lo = lo * at::sigmoid(low);
    if (up.defined()) hi = hi * at::sigmoid(up);
    scale = (hi - lo).clamp_min(1e-5) / (qmax - qmin);
    zero = (qmin - at::round(lo / scale)).clamp(qmin, qmax).detach();
  }
  at::Tensor q = at::clamp(round_ste(v / scale) + zero, qmin, qmax);
  return (q - zero) * scale;
}

}  // namespace

at::Tensor fake_quantize_ste(const at::Tensor& x, const QuantSpec& spec, const at::Tensor& up_logit,
                             const at::Tensor& low_logit) {
  PTQ_ASSERT(x.dim() >= 1 && x.numel() > 0, "fake_quantize_ste: empty input");
  const int64_t C = x.size(-1), rows = x.numel() / C;
  const auto shape = range_shape(spec, x.numel(), C);
  auto check = [&](const at::Tensor& t, const char* what) {
    PTQ_ASSERT(!t.defined() || t.sizes().vec() == shape, "fake_quantize_ste: {} has shape {}, range shape is {}",
               what, c10::str(t.sizes()), c10::str(at::IntArrayRef(shape)));
  };
  check(up_logit, "up");
  check(low_logit, "low");
  const at::Tensor low = spec.symmetric ? at::Tensor() : low_logit;
  at::Tensor v = x.to(at::kFloat).reshape({rows, C});
  at::Tensor out;
  switch (spec.granularity) {
    case Granularity::kPerTensor: {
      auto flat = [](const at::Tensor& t) { return t.defined() ? t.reshape({1, 1}) : t; };
      out = qdq_rows(v.reshape({1, -1}), spec, flat(up_logit), flat(low));
      break;
    }
    case Granularity::kPerChannel:
    case Granularity::kPerToken:
      out = qdq_rows(v, spec, up_logit, low);
      break;
    case Granularity::kPerGroup: {
      // Full groups as rows of G (row-major: (row, group)), then the partial last group of every row, if any.
      const int64_t G = spec.group_size, full = C / G, tail = C % G, n = full + (tail ? 1 : 0);
      auto part = [&](const at::Tensor& t, int64_t g0, int64_t len) {
        return t.defined() ? t.reshape({rows, n}).narrow(1, g0, len).reshape({-1, 1}) : t;
      };
      std::vector<at::Tensor> pieces;
      if (full > 0)
        pieces.push_back(qdq_rows(v.narrow(1, 0, full * G).reshape({rows * full, G}), spec, part(up_logit, 0, full),
                                  part(low, 0, full))
                             .reshape({rows, full * G}));
      if (tail > 0)
        pieces.push_back(qdq_rows(v.narrow(1, full * G, tail), spec, part(up_logit, full, 1), part(low, full, 1)));
      out = pieces.size() == 1 ? pieces[0] : at::cat(pieces, 1);
      break;
    }
  }
  return out.reshape(x.sizes());
}

}  // namespace ptq
