// HQQ, Half-Quadratic Quantization (Badri & Shaji 2023; docs/methods/hqq.md): calibration-free. Each range (a group of
// G consecutive input weights of one row, or a whole row per channel) starts from the min/max grid with the scale kept
// fixed, and its zero point is fitted by a half-quadratic proximal loop against an l_p error (p < 1 promotes sparse
// residuals, so a few outliers may stay badly quantized while the bulk fits better):
//   inv = qmax / (max - min) (1 where max - min <= 1e-4), at most 2e4; z = -min * inv   (hqq keeps the inverse scale)
//   repeat: Wq = clamp(round(W * inv + z), 0, qmax); Wr = (Wq - z) / inv
//           We = shrink_p(W - Wr, beta)   shrink_p(x) = sign(x) relu(|x| - |x|^(p-1) / beta)   (p = 1: soft threshold)
//           z = mean over the range of (Wq - (W - We) * inv)
//           stop when mean |W - Wr| stops decreasing (the zero of that step is kept, as the hqq package does)
//   codes = clamp(round(W * inv + z), 0, qmax), scale = 1 / inv, W' = (codes - z) * scale
// This is the hqq package's Quantizer.quantize(optimize=True, round_zero=False, axis=1) in float32 (its CPU path),
// pinned at hqq 0.2.8.post1: tests/fixtures/hqq holds its outputs on real weights. The paper grows beta by kappa each
// iteration; hqq 0.2.8 keeps beta fixed (and so does LLMC, whose shrink reads the initial beta), so `kappa` is
// accepted for LLMC configs and, as in both, has no effect. A row whose length is not a multiple of the group size ends
// in a partial group with its own range (as ptq's quantizer does; hqq itself requires whole groups); the stopping test
// then takes the mean over the whole weight. Zero points are real numbers, so the integer-zero export
// formats (AutoAWQ, GPTQ) cannot hold an HQQ model; save the fake-quantized one instead.
#include <ATen/ATen.h>

#include <limits>
#include <vector>

#include "core/error.h"
#include "methods/method.h"

namespace ptq {

namespace {

struct HqqOptions {
  double lp_norm = 0.7;
  double beta = 10.0;
  double kappa = 1.01;
  int64_t iters = 20;
  int64_t axis = 1;
};

const OptionTable<HqqOptions>& options() {
  using O = HqqOptions;
  static const OptionTable<HqqOptions> t(
      "hqq",
      {{"lp_norm", &O::lp_norm, "p of the l_p error the zero points are fitted against (p <= 1)", in_range(0.0, 1.0)},
       {"beta", &O::beta, "initial half-quadratic penalty weight", above(0.0)},
       {"kappa", &O::kappa, "LLMC key: the paper's beta growth; no effect (beta stays fixed, as in hqq 0.2.8)",
        at_least(1.0)},
       {"iters", &O::iters, "at most this many proximal iterations (stops early when the error rises)",
        at_least<int64_t>(1)},
       {"axis", &O::axis, "1: ranges along the input features (the grid ptq's quantizer and exports use)",
        [](const int64_t& a) { return a == 1 ? std::string() : fmt::format("must be 1 (got {}; hqq's axis 0 "
                                                                           "groups along output rows)", a); }}});
  return t;
}

// "" when HQQ can quantize weights on spec's grid, else why not.
std::string scheme_problem(const QuantSpec& spec) {
  if (spec.symmetric) return "hqq fits each range's zero point, so it needs an asymmetric grid (weight.symmetric: False)";
  if (spec.granularity != Granularity::kPerGroup && spec.granularity != Granularity::kPerChannel)
    return "hqq quantizes per group or per channel";
  return "";
}

// x: float32 residuals; the proximal operator of |x|^p / beta.
at::Tensor shrink(const at::Tensor& x, double beta, double p) {
  if (p == 1.0) return at::sign(x) * at::relu(x.abs() - 1.0 / beta);
  return at::sign(x) * at::relu(x.abs() - (1.0 / beta) * x.abs().pow(p - 1.0));
}

class Hqq : public MethodWithOptions<HqqOptions> {
 public:
  using MethodWithOptions::MethodWithOptions;

  void apply_block(BlockContext& ctx) override {
    at::NoGradGuard no_grad;
    const QuantSpec& spec = ctx.scheme().weight;
    const std::string why = scheme_problem(spec);
    PTQ_CHECK(why.empty(), "method 'hqq': {}", why);
    for (auto& [name, linear] : ctx.block()->linears()) {
      at::Tensor& w = linear->weight;
      const int64_t in = w.size(1);
      const int64_t G = spec.granularity == Granularity::kPerGroup ? std::min(spec.group_size, in) : in;
      const int64_t full = in / G * G;  // columns in whole groups; a partial last group is its own range
      std::vector<Range> parts;
      const at::Tensor wf = w.to(at::kFloat);
      parts.push_back(start(wf.narrow(1, 0, full).reshape({-1, G}), qmax(spec)));
      if (full < in) parts.push_back(start(wf.narrow(1, full, in - full).contiguous(), qmax(spec)));
      solve(parts, qmax(spec));
      // W' = (codes - z) * scale, as the hqq package dequantizes; codes and ranges back in [out, ...] layout.
      const int64_t out = w.size(0);
      std::vector<at::Tensor> deq, codes, scales, zeros;
      for (const Range& p : parts) {
        const at::Tensor q = at::round(p.W * p.inv + p.z).clamp(0, qmax(spec));
        const at::Tensor scale = p.inv.reciprocal();  // hqq: 1.0 / scale
        deq.push_back(((q - p.z) * scale).reshape({out, -1}));
        codes.push_back(q.to(at::kByte).reshape({out, -1}));
        scales.push_back(scale.reshape({out, -1}));
        zeros.push_back(p.z.reshape({out, -1}));
      }
      ctx.set_quantized(name, at::cat(deq, 1),
                        {at::cat(codes, 1), at::cat(scales, 1), at::cat(zeros, 1), {}, {}, spec});
    }
  }

 private:
  // Ranges of equal length: W [n, len] float32 (one range per row), the inverse scale and zero [n, 1].
  struct Range {
    at::Tensor W, inv, z;
  };
  static double qmax(const QuantSpec& spec) { return static_cast<double>((int64_t{1} << spec.bits) - 1); }

  static Range start(const at::Tensor& W, double top) {
    const at::Tensor mn = std::get<0>(W.min(1, /*keepdim=*/true));
    const at::Tensor mx = std::get<0>(W.max(1, /*keepdim=*/true));
    const at::Tensor denom = mx - mn;
    // reciprocal() * top: how Python evaluates `int / tensor` (C++'s `top / denom` divides, which can differ by a ulp).
    const at::Tensor inv =
        at::where(denom.abs() <= 1e-4, at::ones_like(denom), denom.reciprocal() * top).clamp_max(2e4);
    return {W, inv, -mn * inv};
  }

  // The proximal loop over every range of one weight; the stopping test is on the mean |W - Wr| of the whole weight,
  // as in hqq (with whole groups only, that mean is the one hqq computes, in the same order).
  void solve(std::vector<Range>& parts, double top) const {
    double best = std::numeric_limits<double>::infinity();
    for (int64_t i = 0; i < opt_.iters; ++i) {
      double abs_sum = 0, err = 0;
      int64_t n = 0;
      for (Range& p : parts) {
        const at::Tensor q = at::round(p.W * p.inv + p.z).clamp(0, top);
        const at::Tensor r = (q - p.z) / p.inv;
        const at::Tensor e = shrink(p.W - r, opt_.beta, opt_.lp_norm);
        p.z = at::mean(q - (p.W - e) * p.inv, 1, /*keepdim=*/true);
        const at::Tensor d = (p.W - r).abs();
        if (parts.size() == 1) err = d.mean().item<float>();
        abs_sum += d.sum().item<double>();
        n += d.numel();
      }
      if (parts.size() > 1) err = abs_sum / static_cast<double>(n);
      if (err < best) {
        best = err;
      } else {
        break;
      }
    }
  }
};

}  // namespace

MethodInfo hqq_method() {
  MethodInfo m = method_info<Hqq>("hqq",
                                  "HQQ: half-quadratic fit of each range's zero point against an l_p error, "
                                  "calibration-free (Badri & Shaji 2023)",
                                  false, false, {"HQQ"}, options());
  m.scheme_problem = [](const QuantScheme& scheme) { return scheme_problem(scheme.weight); };
  m.export_problem = [](const nlohmann::json&, const QuantScheme&, bool) {
    return std::string("hqq's zero points are real numbers, which the AutoAWQ and GPTQ formats (integer zero points) "
                       "cannot store; save the fake-quantized model (save.save_fake) instead");
  };
  return m;
}

}  // namespace ptq
