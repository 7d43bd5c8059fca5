// SmoothQuant (Xiao et al. 2023; LLMC smoothquant.py), the weight-activation baseline: per input channel j of the
// linears fed by a norm, s_j = max|X_j|^alpha / max|W_j|^(1-alpha) (clamped to >= 1e-5; max|W_j| over the rows of
// every linear in the subset), folded as norm ÷ s and columns × s, which moves activation outliers into the weights
// before both are quantized. Subsets: the norm-fed ones of model/block_layout.h (LLMC smooths norm -> linear only;
// Llama: input_layernorm -> {q,k,v}, post_attention_layernorm -> {gate,up}). Then every block linear is
// fake-quantized; activation quantization is attached by the pipeline.
#include <ATen/ATen.h>

#include "core/error.h"
#include "methods/method.h"
#include "model/block_layout.h"

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
    // LLMC smooths norm -> linear pairs only.
    std::vector<const BlockSubset*> pairs;
    std::vector<std::string> observed;
    for (const auto& sub : block_layout(block).subsets)
      if (sub.prev_is_norm) {
        pairs.push_back(&sub);
        observed.push_back(sub.input_of());
      }
    std::map<std::string, at::Tensor> act_max;  // per input channel max |x| over every calibration token, float32
    ctx.forward_observing(observed, [&](const std::string& n, const at::Tensor& x) {
      at::Tensor m = x.abs().to(at::kFloat).reshape({-1, x.size(-1)}).amax(0);
      act_max[n] = act_max.count(n) ? at::maximum(act_max[n], m) : m;
    });
    for (const BlockSubset* sub : pairs) fold_scale(block, *sub, scale(block, *sub, act_max.at(sub->input_of())));
    for (auto& [name, l] : block->linears()) ctx.set_reference_weight(name, l->weight.clone());
    if (!opt_.quantize_weights) return;
    for (const auto& [name, l] : block->linears()) ctx.quantize(name);
  }

 private:
  // s [in] float32 for one norm -> linears subset (file comment).
  at::Tensor scale(DecoderLayer& block, const BlockSubset& sub, const at::Tensor& act_max) const {
    std::vector<at::Tensor> ws;
    for (const auto& n : sub.linears) ws.push_back(block->linear(n)->weight.to(at::kFloat));
    at::Tensor w_max = at::cat(ws, 0).abs().amax(0);
    at::Tensor s = (act_max.pow(opt_.alpha) / w_max.pow(1 - opt_.alpha)).clamp_min(1e-5);
    return at::where(at::isfinite(s), s, at::ones_like(s));  // a dead channel (0/0) is left unscaled
  }
};

}  // namespace

MethodInfo smoothquant_method() {
  return method_info<SmoothQuant>(
      "smoothquant", "SmoothQuant: migrate activation outliers into the weights, norm -> linear (Xiao et al. 2023)",
      true, false, {"SmoothQuant"}, options());
}

}  // namespace ptq
