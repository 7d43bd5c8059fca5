// SmoothQuant (Xiao et al. 2023; LLMC smoothquant.py), the weight-activation baseline: per input channel j of the
// linears fed by a norm, s_j = max|X_j|^alpha / max|W_j|^(1-alpha) (clamped to >= 1e-5; max|W_j| over the rows of
// every linear in the subset), folded as norm ÷ s and columns × s, which moves activation outliers into the weights
// before both are quantized. Subsets: input_layernorm -> {q,k,v}, post_attention_layernorm -> {gate,up} (LLMC, norm ->
// linear only). Then every block linear is fake-quantized; activation quantization is attached by the pipeline.
#include <ATen/ATen.h>

#include "core/error.h"
#include "core/fake_quant.h"
#include "methods/method.h"

namespace ptq {

namespace {

struct SmoothQuantOptions {
  double alpha = 0.5;
  bool quantize_weights = true;
};

const OptionTable<SmoothQuantOptions>& options() {
  static const OptionTable<SmoothQuantOptions> t(
      "smoothquant",
      {{"alpha", &SmoothQuantOptions::alpha, "migration strength: s = max|X|^alpha / max|W|^(1-alpha)",
        in_range(0.0, 1.0)},
       {"quantize_weights", &SmoothQuantOptions::quantize_weights,
        "false: keep the smoothed fp weights (evaluate the transform alone)"}});
  return t;
}

class SmoothQuant : public MethodWithOptions<SmoothQuantOptions> {
 public:
  using MethodWithOptions::MethodWithOptions;

  void apply_block(BlockContext& ctx) override {
    at::NoGradGuard no_grad;
    DecoderLayer& block = ctx.block();
    std::map<std::string, at::Tensor> act_max;  // per input channel max |x| over every calibration token, float32
    ctx.forward_observing({"self_attn.q_proj", "mlp.gate_proj"}, [&](const std::string& n, const at::Tensor& x) {
      at::Tensor m = x.abs().to(at::kFloat).reshape({-1, x.size(-1)}).amax(0);
      act_max[n] = act_max.count(n) ? at::maximum(act_max[n], m) : m;
    });
    auto& attn = block->self_attn;
    auto& mlp = block->mlp;
    smooth(block->input_layernorm->weight, act_max.at("self_attn.q_proj"), {attn->q_proj, attn->k_proj, attn->v_proj});
    smooth(block->post_attention_layernorm->weight, act_max.at("mlp.gate_proj"), {mlp->gate_proj, mlp->up_proj});
    for (auto& [name, l] : block->linears()) ctx.set_reference_weight(name, l->weight.clone());
    if (!opt_.quantize_weights) return;
    for (auto& [name, l] : block->linears()) {
      if (ctx.keep_codes()) {
        QuantizedTensor q = quantize(l->weight, ctx.scheme().weight);
        ctx.record(name, {q.codes.cpu(), q.scales.cpu(), q.zeros.cpu(), {}, {}, q.spec});
      }
      fake_quantize_(l->weight, ctx.scheme().weight);
    }
  }

 private:
  void smooth(at::Tensor& norm_weight, const at::Tensor& act_max, std::vector<Linear> layers) const {
    std::vector<at::Tensor> ws;
    for (auto& l : layers) ws.push_back(l->weight.to(at::kFloat));
    at::Tensor w_max = at::cat(ws, 0).abs().amax(0);
    at::Tensor s = (act_max.pow(opt_.alpha) / w_max.pow(1 - opt_.alpha)).clamp_min(1e-5);
    s = at::where(at::isfinite(s), s, at::ones_like(s));  // a dead channel (0/0) is left unscaled
    norm_weight.div_(s.to(norm_weight.scalar_type()));
    for (auto& l : layers) l->weight.mul_(s.to(l->weight.scalar_type()));
  }
};

}  // namespace

MethodInfo smoothquant_method() {
  return method_info<SmoothQuant>(
      "smoothquant", "SmoothQuant: migrate activation outliers into the weights, norm -> linear (Xiao et al. 2023)",
      true, false, {"SmoothQuant"}, options());
}

}  // namespace ptq
