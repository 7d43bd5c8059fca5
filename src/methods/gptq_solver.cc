#include "methods/gptq_solver.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "core/error.h"
#include "core/fake_quant.h"

namespace ptq {

GptqHessian::GptqHessian(int64_t in_features, bool lower_only) : in_(in_features), lower_only_(lower_only) {
  PTQ_CHECK(in_features > 0, "GPTQ Hessian: in_features must be positive, got {}", in_features);
}

void GptqHessian::add(const at::Tensor& x) {
  PTQ_CHECK(x.defined() && (x.dim() == 2 || x.dim() == 3) && x.size(-1) == in_,
            "GPTQ Hessian: input must be [B, T, {0}] or [N, {0}], got [{1}]", in_,
            x.defined() ? fmt::format("{}", fmt::join(x.sizes(), ", ")) : std::string("undefined"));
  PTQ_CHECK(at::isFloatingType(x.scalar_type()), "GPTQ Hessian: input must be floating point, got {}",
            c10::toString(x.scalar_type()));
  at::NoGradGuard no_grad;
  // The reference treats a 2-D input as one sequence (it unsqueezes a batch dimension).
  const int64_t m = x.dim() == 3 ? x.size(0) : 1;
  if (m == 0) return;
  if (!h_.defined() || samples_ == 0) {
    h_ = at::zeros({in_, in_}, x.options().dtype(at::kFloat));
  } else {
    PTQ_CHECK(h_.device() == x.device(), "GPTQ Hessian: input on {} but the Hessian lives on {}",
              x.device().str(), h_.device().str());
  }
  h_.mul_(static_cast<double>(samples_) / static_cast<double>(samples_ + m));
  samples_ += m;
  const at::Tensor rows = x.reshape({-1, in_}).to(at::kFloat);
  // H += (2/n) XᵀX; the reference scales X by sqrt(2/n) first (same value up to float rounding).
  if (rows.size(0) == 0) return;
  const double alpha = 2.0 / static_cast<double>(samples_);
  if (!lower_only_ || in_ <= kTile) {
    h_.addmm_(rows.t(), rows, 1.0, alpha);
    return;
  }
  // Block column [i, i+kTile), rows i.. (class comment).
  for (int64_t i = 0; i < in_; i += kTile) {
    const int64_t w = std::min(kTile, in_ - i);
    h_.narrow(0, i, in_ - i).narrow(1, i, w).addmm_(rows.narrow(1, i, in_ - i).t(), rows.narrow(1, i, w), 1.0, alpha);
  }
  stale_ = true;
}

const at::Tensor& GptqHessian::matrix() const {
  if (!h_.defined()) h_ = at::zeros({in_, in_}, at::TensorOptions().dtype(at::kFloat));
  if (stale_) {
    // Upper triangle := lower (exact: each entry is x + 0).
    h_ = at::tril(h_).add_(at::tril(h_, -1).t());
    stale_ = false;
  }
  return h_;
}

namespace {

struct Factor {
  at::Tensor U;  // upper Cholesky factor of (H + damp I)⁻¹
  double damp = 0;
  int retries = 0;
};

// U = chol_upper(inverse(H + damp·I)) via the Cholesky factor of H (LLMC/IST-DASLab). On failure the damping
// fraction is multiplied by 10 (0.01 when it was 0), at most kMaxRetries times. nullopt (and *why) when nothing works.
std::optional<Factor> factor_hessian(const at::Tensor& H, double percdamp, std::string* why) {
  constexpr int kMaxRetries = 5;
  const double mean_diag = H.diagonal().mean().item<double>();
  if (!(std::isfinite(mean_diag) && mean_diag > 0)) {
    *why = fmt::format("the Hessian's mean diagonal is {}; a Hessian of real inputs is positive semi-definite with a "
                       "positive mean diagonal", mean_diag);
    return std::nullopt;
  }
  double frac = percdamp;
  for (int retry = 0;; ++retry) {
    const double damp = frac * mean_diag;
    at::Tensor Hd = H.clone();
    Hd.diagonal().add_(damp);
    at::Tensor L, info;
    std::tie(L, info) = at::linalg_cholesky_ex(Hd, /*upper=*/false, /*check_errors=*/false);
    bool ok = info.item<int>() == 0;
    if (ok) {
      at::Tensor Hinv = at::cholesky_inverse(L, /*upper=*/false);
      at::Tensor U;
      std::tie(U, info) = at::linalg_cholesky_ex(Hinv, /*upper=*/true, /*check_errors=*/false);
      ok = info.item<int>() == 0 && at::isfinite(U).all().item<bool>();
      if (ok) return Factor{U, damp, retry};
    }
    if (retry >= kMaxRetries) {
      *why = fmt::format("the Hessian is not positive definite: Cholesky failed even with damping {:.4g} ({} x mean "
                         "diag(H) {:.4g}, after {} retries from percdamp {}); check the calibration inputs",
                         damp, frac, mean_diag, retry, percdamp);
      return std::nullopt;
    }
    frac = frac > 0 ? frac * 10 : 0.01;
  }
}

// The fallback when H is unusable: round-to-nearest of the original weight on the same grid, in GptqResult's form.
GptqResult rtn_result(const at::Tensor& W, const QuantSpec& spec, std::string why) {
  GptqResult res;
  const int64_t in = W.size(1);
  QuantizedTensor q = quantize(W, spec);
  res.weight = dequantize(q).to(at::kFloat);
  res.compensated = W.clone();
  res.codes = q.codes;
  const int64_t n_groups = ranges_per_row(spec, in);
  res.scales = q.scales.expand({W.size(0), n_groups}).contiguous();
  res.zeros = q.zeros.expand({W.size(0), n_groups}).contiguous();
  const int64_t G = spec.granularity == Granularity::kPerGroup ? spec.group_size : in;
  res.g_idx = at::arange(in, at::TensorOptions().dtype(at::kLong).device(W.device())).div(G, "floor").to(at::kInt);
  res.fallback = "rtn";
  res.fallback_reason = std::move(why);
  return res;
}

}  // namespace

GptqResult gptq_quantize(const at::Tensor& weight, const at::Tensor& hessian, const QuantSpec& spec,
                         const GptqOptions& opt) {
  spec.validate(TensorRole::kWeight);
  PTQ_CHECK(weight.defined() && weight.dim() == 2 && weight.numel() > 0, "GPTQ: weight must be a non-empty [out, in]");
  PTQ_CHECK(at::isFloatingType(weight.scalar_type()), "GPTQ: weight must be floating point, got {}",
            c10::toString(weight.scalar_type()));
  const int64_t out = weight.size(0), in = weight.size(1);
  PTQ_CHECK(hessian.defined() && hessian.dim() == 2 && hessian.size(0) == in && hessian.size(1) == in,
            "GPTQ: Hessian must be [{0}, {0}] for a weight [{1}, {0}]", in, out);
  PTQ_CHECK(hessian.device() == weight.device(), "GPTQ: weight on {} but Hessian on {}", weight.device().str(),
            hessian.device().str());
  PTQ_CHECK(std::isfinite(opt.percdamp) && opt.percdamp >= 0, "GPTQ: percdamp must be >= 0, got {}", opt.percdamp);
  PTQ_CHECK(opt.blocksize > 0, "GPTQ: blocksize must be positive, got {}", opt.blocksize);
  at::NoGradGuard no_grad;

  const bool grouped = spec.granularity == Granularity::kPerGroup;
  const bool static_groups = grouped && opt.static_groups;
  const bool dynamic_groups = grouped && !opt.static_groups;
  const int64_t G = grouped ? spec.group_size : in;
  const int64_t n_groups = ranges_per_row(spec, in);

  at::Tensor W = weight.to(at::kFloat, /*non_blocking=*/false, /*copy=*/true).contiguous();
  at::Tensor H = hessian.to(at::kFloat, /*non_blocking=*/false, /*copy=*/true).contiguous();
  PTQ_CHECK(at::isfinite(W).all().item<bool>(), "GPTQ: the weight has non-finite values");
  if (!at::isfinite(H).all().item<bool>()) {
    const std::string why = fmt::format("the Hessian has {} non-finite values (NaN or inf in the calibration inputs)",
                                        (~at::isfinite(H)).sum().item<int64_t>());
    PTQ_CHECK(opt.rtn_fallback, "GPTQ: {}", why);
    return rtn_result(W, spec, why);
  }

  // Start-up qparams from the original weight, before dead columns are zeroed (LLMC). Rows of *_t: one range each,
  // [ranges, out]; per_tensor's single range is repeated for every row.
  at::Tensor start_scales_t, start_zeros_t;
  {
    QuantizedTensor start = quantize(W, spec);
    start_scales_t = start.scales.expand({out, n_groups}).t().contiguous();
    start_zeros_t = start.zeros.expand({out, n_groups}).t().contiguous();
  }

  GptqResult res;
  at::Tensor diag = H.diagonal();
  const at::Tensor dead = diag.eq(0);
  res.dead_columns = dead.sum().item<int64_t>();

  // act_order: sorted on the raw diagonal (LLMC sorts before fixing dead columns, so they come last); stable, so
  // ties keep the original order.
  at::Tensor perm, invperm;
  std::vector<int64_t> perm_host;
  if (opt.act_order) {
    perm = at::argsort(diag, /*stable=*/true, /*dim=*/0, /*descending=*/true);
    invperm = at::argsort(perm);
    at::Tensor p = perm.cpu();
    perm_host.assign(p.data_ptr<int64_t>(), p.data_ptr<int64_t>() + in);
  }
  if (res.dead_columns > 0) {
    diag.masked_fill_(dead, 1.0);
    W.masked_fill_(dead.unsqueeze(0), 0.0);
  }
  if (opt.act_order) {
    W = W.index_select(1, perm);
    H = H.index_select(0, perm).index_select(1, perm);
  }

  std::string why;
  std::optional<Factor> factored = factor_hessian(H, opt.percdamp, &why);
  if (!factored) {
    PTQ_CHECK(opt.rtn_fallback, "GPTQ: {}", why);
    return rtn_result(weight.to(at::kFloat), spec, why);
  }
  const Factor& f = *factored;
  H = at::Tensor();
  const at::Tensor& U = f.U;
  res.damp_used = f.damp;
  res.cholesky_retries = f.retries;

  // Column j of W is row j of Wt: every per-column operation reads and writes contiguous memory.
  at::Tensor Wt = W.t().contiguous();
  W = at::Tensor();
  at::Tensor Ct = at::empty_like(Wt);     // compensated columns, processing order
  at::Tensor codes_t = at::empty_like(Wt);  // integer values as float32, processing order
  at::Tensor scales_t = dynamic_groups ? at::empty({n_groups, out}, Wt.options()) : start_scales_t;
  at::Tensor zeros_t = dynamic_groups ? at::empty({n_groups, out}, Wt.options()) : start_zeros_t;
  QParams qp{start_scales_t[0], start_zeros_t[0]};

  for (int64_t i1 = 0; i1 < in; i1 += opt.blocksize) {
    const int64_t i2 = std::min(i1 + opt.blocksize, in), cnt = i2 - i1;
    at::Tensor W1 = Wt.narrow(0, i1, cnt).clone();
    at::Tensor E1 = at::empty({cnt, out}, Wt.options());
    at::Tensor U1 = U.narrow(0, i1, cnt).narrow(1, i1, cnt);
    for (int64_t i = 0; i < cnt; ++i) {
      const int64_t j = i1 + i;
      if (dynamic_groups && j % G == 0) {
        const int64_t e = std::min(j + G, in);
        at::Tensor cols;
        if (!opt.exact_group_ranges) {
          cols = Wt.narrow(0, j, e - j);  // as of the start of this block (reference behaviour)
        } else {
          cols = W1.narrow(0, i, std::min(e, i2) - j);  // updated by this block's earlier columns
          if (e > i2) {
            at::Tensor rest = Wt.narrow(0, i2, e - i2);
            if (i > 0) rest = rest.addmm(U.narrow(0, i1, i).narrow(1, i2, e - i2).t(), E1.narrow(0, 0, i), 1, -1);
            cols = at::cat({cols, rest}, 0);
          }
        }
        qp = compute_qparams(cols.amin(0), cols.amax(0), spec);
        scales_t[j / G].copy_(qp.scale);
        zeros_t[j / G].copy_(qp.zero);
      } else if (static_groups) {
        const int64_t g = (opt.act_order ? perm_host[j] : j) / G;
        qp = {start_scales_t[g], start_zeros_t[g]};
      }
      at::Tensor w = W1[i];
      at::Tensor qi = quant_with(w, qp, spec);
      codes_t[j].copy_(qi);
      at::Tensor err = E1[i];
      at::sub_out(err, w, dequant_with(qi, qp)).div_(U1[i][i]);
      if (i + 1 < cnt) W1.narrow(0, i + 1, cnt - i - 1).addr_(U1[i].narrow(0, i + 1, cnt - i - 1), err, 1, -1);
    }
    Ct.narrow(0, i1, cnt).copy_(W1);  // row i of W1 is final once column i is processed
    if (i2 < in) Wt.narrow(0, i2, in - i2).addmm_(U.narrow(0, i1, cnt).narrow(1, i2, in - i2).t(), E1, 1, -1);
  }
  Wt = at::Tensor();

  // Group of every column in processing order, then of every original column.
  const at::TensorOptions i64 = at::TensorOptions().dtype(at::kLong).device(weight.device());
  at::Tensor group_of_pos;  // [in] int64, processing order
  if (!grouped) {
    group_of_pos = at::zeros({in}, i64);
  } else if (static_groups && opt.act_order) {
    group_of_pos = at::floor_divide(perm, G);
  } else {
    group_of_pos = at::floor_divide(at::arange(in, i64), G);
  }
  at::Tensor group_of_col = opt.act_order ? group_of_pos.index_select(0, invperm) : group_of_pos;

  res.scales = scales_t.t().contiguous();
  res.zeros = zeros_t.t().contiguous();
  // Q in processing order from the codes: the same float ops as inside the loop, so the same values.
  at::Tensor Qt = dequant_with(codes_t, {scales_t.index_select(0, group_of_pos), zeros_t.index_select(0, group_of_pos)});
  {
    at::Tensor d = U.diagonal().to(at::kDouble);
    at::Tensor sq = (Ct.to(at::kDouble) - Qt.to(at::kDouble)).pow_(2).sum(1);
    res.loss = (sq / (2 * d * d)).sum().item<double>();
  }
  at::Tensor codes = codes_t.t();
  at::Tensor Q = Qt.t();
  at::Tensor C = Ct.t();
  if (opt.act_order) {
    codes = codes.index_select(1, invperm);
    Q = Q.index_select(1, invperm);
    C = C.index_select(1, invperm);
    res.perm = perm;
  }
  res.codes = codes.to(spec.symmetric ? at::kChar : at::kByte).contiguous();
  res.weight = Q.contiguous();
  res.compensated = C.contiguous();
  res.g_idx = group_of_col.to(at::kInt);
  return res;
}

}  // namespace ptq
