// GPTQ (Frantar et al. 2023; docs/methods/gptq.md) on the block-wise pipeline: per block, accumulate each Linear's
// input Hessian, solve column by column with error compensation (methods/gptq_solver.h), write the dequantized Q into
// the layer. true_sequential (LLMC's subset order {q,k,v} -> {o} -> {gate,up} -> {down}) recomputes the Hessians of
// each subset with the earlier subsets already quantized. Linears that share an input (q/k/v, gate/up) share one
// Hessian.
// Defaults follow the original GPTQ command line (act-order and static groups opt-in); LLMC's gptq_w_only.yml sets
// actorder: True.
//
// Numerical guards (each recorded as a run event, table events in the store):
//   gptq_cholesky_retry    H + damping was not positive definite: the damping fraction is raised x10 and the
//                          factorisation retried, up to 5 times (the GPTQ reference and AutoGPTQ do the same); the
//                          layer is then solved normally with the larger damping.
//   gptq_hessian_unusable  H has NaN/inf entries (non-finite calibration activations) or no damping up to 5 retries
//                          makes it factorable: the layer falls back to round-to-nearest of its original weight on
//                          the same grid (no error compensation), and the run continues.
#include <ATen/ATen.h>

#include <algorithm>
#include <limits>
#include <map>

#include "core/error.h"
#include "core/fault_injection.h"
#include "methods/gptq_solver.h"
#include "methods/method.h"

namespace ptq {

namespace {

struct Subset {
  std::string observe;              // the linear whose input is accumulated
  std::vector<std::string> solve;   // the linears solved with that Hessian
};

class Gptq : public Method {
 public:
  Gptq(GptqOptions opt, bool true_sequential) : opt_(opt), true_sequential_(true_sequential) {}

  void apply_block(BlockContext& ctx) override {
    PTQ_CHECK(!ctx.inputs().empty(), "gptq needs calibration data (add a calib section)");
    const std::vector<Subset> seq = {{"self_attn.q_proj", {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"}},
                                     {"self_attn.o_proj", {"self_attn.o_proj"}},
                                     {"mlp.gate_proj", {"mlp.gate_proj", "mlp.up_proj"}},
                                     {"mlp.down_proj", {"mlp.down_proj"}}};
    if (true_sequential_) {
      for (const auto& s : seq) solve(ctx, {s});
    } else {
      solve(ctx, seq);  // one forward: every Hessian from the fp block
    }
  }

  nlohmann::json params() const override {
    return {{"actorder", opt_.act_order},   {"static_groups", opt_.static_groups}, {"percdamp", opt_.percdamp},
            {"blocksize", opt_.blocksize},  {"true_sequential", true_sequential_},
            {"exact_group_ranges", opt_.exact_group_ranges}};
  }

 private:
  void solve(BlockContext& ctx, const std::vector<Subset>& subsets) {
    std::map<std::string, Linear> linears;
    for (auto& [n, l] : ctx.block()->linears()) linears.emplace(n, l);
    std::map<std::string, GptqHessian> h;
    std::vector<std::string> observed;
    for (const auto& s : subsets) {
      h.emplace(s.observe, GptqHessian(linears.at(s.observe)->weight.size(1)));
      observed.push_back(s.observe);
    }
    ctx.forward_observing(observed, [&](const std::string& name, const at::Tensor& x) { h.at(name).add(x); });
    at::NoGradGuard no_grad;
    for (const auto& s : subsets) {
      at::Tensor H = h.at(s.observe).matrix();
      if (fault_injected("gptq_nan_hessian", ctx.index())) {
        H = H.clone();
        H[0][0] = std::numeric_limits<float>::quiet_NaN();
      }
      if (fault_injected("gptq_indefinite_hessian", ctx.index())) H = -H;
      for (const auto& name : s.solve) {
        Linear& l = linears.at(name);
        GptqResult r = gptq_quantize(l->weight, H, ctx.scheme().weight, opt_);
        l->weight.copy_(r.weight.to(l->weight.scalar_type()));
        ctx.notes()[name] = {{"loss", r.loss}, {"damp", r.damp_used}, {"cholesky_retries", r.cholesky_retries},
                             {"dead_columns", r.dead_columns}};
        // Guards (file comment): a Cholesky that needed more damping, or a Hessian no damping could fix.
        if (!r.fallback.empty()) {
          ctx.notes()[name]["fallback"] = r.fallback;
          ctx.event(name, "gptq_hessian_unusable",
                    "rtn: round-to-nearest of the original weight, no error compensation",
                    {{"reason", r.fallback_reason}, {"hessian_of", s.observe}});
        } else if (r.cholesky_retries > 0) {
          ctx.event(name, "gptq_cholesky_retry",
                    fmt::format("damping raised to {:.4g} x mean diag(H) after {} failed factorisation(s)",
                                r.damp_used / std::max(1e-300, H.diagonal().mean().item<double>()),
                                r.cholesky_retries),
                    {{"damp", r.damp_used}, {"retries", r.cholesky_retries}, {"percdamp", opt_.percdamp}});
        }
        if (ctx.keep_codes())
          ctx.record(name, {r.codes.cpu(), r.scales.cpu(), r.zeros.cpu(), r.g_idx.cpu(),
                            r.perm.defined() ? r.perm.cpu() : at::Tensor(), ctx.scheme().weight});
      }
    }
  }

  GptqOptions opt_;
  bool true_sequential_;
};

}  // namespace

std::unique_ptr<Method> make_gptq(const nlohmann::json& params) {
  const MethodInfo& info = find_method("gptq");
  check_known_params(info, params);
  GptqOptions o;
  o.act_order = param_value<bool>(info, params, "actorder");
  o.static_groups = param_value<bool>(info, params, "static_groups");
  o.percdamp = param_value<double>(info, params, "percdamp");
  o.blocksize = param_value<int64_t>(info, params, "blocksize");
  o.exact_group_ranges = param_value<bool>(info, params, "exact_group_ranges");
  PTQ_CHECK(o.percdamp >= 0, "method 'gptq': parameter 'percdamp' must be >= 0, got {}", o.percdamp);
  PTQ_CHECK(o.blocksize > 0, "method 'gptq': parameter 'blocksize' must be positive, got {}", o.blocksize);
  o.rtn_fallback = true;  // a layer whose Hessian cannot be factored falls back to RTN (recorded), the run goes on
  return std::make_unique<Gptq>(o, param_value<bool>(info, params, "true_sequential"));
}

}  // namespace ptq
