// GPTQ (Frantar et al. 2023; docs/methods/gptq.md) on the block-wise pipeline: per block, accumulate each Linear's
// input Hessian, solve column by column with error compensation (methods/gptq_solver.h), write the dequantized Q into
// the layer. true_sequential (the block subsets of model/block_layout.h in order, LLMC's {q,k,v} -> {o} -> {gate,up} ->
// {down} for Llama) recomputes the Hessians of each subset with the earlier subsets already quantized. The linears of a
// subset share its input and so one Hessian.
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
#include "model/block_layout.h"

namespace ptq {

namespace {

// The method's parameters (LLMC quant.special keys); GptqOptions (gptq_solver.h) is what the solver takes.
struct GptqParams {
  bool actorder = false;
  bool static_groups = false;
  double percdamp = 0.01;
  int64_t blocksize = 128;
  bool true_sequential = true;
  bool exact_group_ranges = false;
};

const OptionTable<GptqParams>& options() {
  static const OptionTable<GptqParams> t(
      "gptq",
      {{"actorder", &GptqParams::actorder, "process columns in descending Hessian-diagonal order"},
       {"static_groups", &GptqParams::static_groups,
        "per_group: group ranges from the original weight in original column order"},
       {"percdamp", &GptqParams::percdamp, "damping, as a fraction of the mean Hessian diagonal", at_least(0.0)},
       {"blocksize", &GptqParams::blocksize, "columns per lazy-update block", above<int64_t>(0)},
       {"true_sequential", &GptqParams::true_sequential,
        "quantize {q,k,v}, {o}, {gate,up}, {down} in turn, each on inputs of the already quantized earlier subsets"},
       {"exact_group_ranges", &GptqParams::exact_group_ranges,
        "dynamic groups: ranges from fully updated columns (reference: block start)"}});
  return t;
}

GptqOptions solver_options(const GptqParams& p) {
  GptqOptions o;
  o.act_order = p.actorder;
  o.static_groups = p.static_groups;
  o.percdamp = p.percdamp;
  o.blocksize = p.blocksize;
  o.exact_group_ranges = p.exact_group_ranges;
  o.rtn_fallback = true;  // a layer whose Hessian cannot be factored falls back to RTN (recorded), the run goes on
  return o;
}

class Gptq : public MethodWithOptions<GptqParams> {
 public:
  Gptq(GptqParams p, const OptionTable<GptqParams>& t)
      : MethodWithOptions(p, t), solver_(solver_options(p)), true_sequential_(p.true_sequential) {}

  void apply_block(BlockContext& ctx) override {
    const std::vector<BlockSubset>& subsets = block_layout(ctx.block()).subsets;
    if (true_sequential_) {
      for (const auto& s : subsets) solve(ctx, {&s});
    } else {
      std::vector<const BlockSubset*> all;
      for (const auto& s : subsets) all.push_back(&s);
      solve(ctx, all);  // one forward: every Hessian from the fp block
    }
  }

 private:
  // One Hessian per subset (its linears share the input), then every linear of the subsets solved with it.
  void solve(BlockContext& ctx, const std::vector<const BlockSubset*>& subsets) {
    DecoderLayer& block = ctx.block();
    std::map<std::string, GptqHessian> h;
    std::vector<std::string> observed;
    for (const BlockSubset* s : subsets) {
      h.emplace(s->input_of(),
                GptqHessian(block->linear(s->input_of())->weight.size(1), /*lower_only=*/!solver_.act_order));
      observed.push_back(s->input_of());
    }
    ctx.forward_observing(observed, [&](const std::string& name, const at::Tensor& x) { h.at(name).add(x); });
    at::NoGradGuard no_grad;
    for (const BlockSubset* s : subsets) {
      at::Tensor H = h.at(s->input_of()).matrix();
      if (fault_injected("gptq_nan_hessian", ctx.index())) {
        H = H.clone();
        H[0][0] = std::numeric_limits<float>::quiet_NaN();
      }
      if (fault_injected("gptq_indefinite_hessian", ctx.index())) H = -H;
      for (const auto& name : s->linears) {
        GptqResult r = gptq_quantize(block->linear(name)->weight, H, ctx.scheme().weight, solver_);
        ctx.set_quantized(name, r.weight, {r.codes, r.scales, r.zeros, r.g_idx, r.perm, ctx.scheme().weight});
        ctx.notes()[name] = {{"loss", r.loss}, {"damp", r.damp_used}, {"cholesky_retries", r.cholesky_retries},
                             {"dead_columns", r.dead_columns}};
        // Guards (file comment): a Cholesky that needed more damping, or a Hessian no damping could fix.
        if (!r.fallback.empty()) {
          ctx.notes()[name]["fallback"] = r.fallback;
          ctx.event(name, "gptq_hessian_unusable",
                    "rtn: round-to-nearest of the original weight, no error compensation",
                    {{"reason", r.fallback_reason}, {"hessian_of", s->input_of()}});
        } else if (r.cholesky_retries > 0) {
          ctx.event(name, "gptq_cholesky_retry",
                    fmt::format("damping raised to {:.4g} x mean diag(H) after {} failed factorisation(s)",
                                r.damp_used / std::max(1e-300, H.diagonal().mean().item<double>()),
                                r.cholesky_retries),
                    {{"damp", r.damp_used}, {"retries", r.cholesky_retries}, {"percdamp", solver_.percdamp}});
        }
      }
    }
  }

  GptqOptions solver_;
  bool true_sequential_;
};

}  // namespace

MethodInfo gptq_method() {
  MethodInfo m = method_info<Gptq>(
      "gptq", "GPTQ: column-wise quantization with Hessian-based error compensation (Frantar et al. 2023)", true, false,
      {"GPTQ"}, options());
  // AutoAWQ stores no g_idx: its groups must be consecutive input columns.
  m.export_problem = [](const nlohmann::json& p, const QuantScheme& scheme, bool autoawq) {
    const bool out_of_order = scheme.weight.granularity == Granularity::kPerGroup && p.at("actorder").get<bool>() &&
                              !p.at("static_groups").get<bool>();
    return autoawq && out_of_order ? std::string("actorder without static_groups forms groups out of input order and "
                                                 "AutoAWQ stores no g_idx (set quant.special.static_groups: True, or "
                                                 "export with save.save_gptq)")
                                   : std::string();
  };
  return m;
}

}  // namespace ptq
