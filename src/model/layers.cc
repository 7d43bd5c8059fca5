#include "model/layers.h"

#include <ATen/ATen.h>

#include <cmath>

#include "core/error.h"

namespace ptq {

LinearImpl::LinearImpl(int64_t in_features, int64_t out_features, bool has_bias) {
  weight = register_parameter("weight", at::zeros({out_features, in_features}), /*requires_grad=*/false);
  if (has_bias) bias = register_parameter("bias", at::zeros({out_features}), /*requires_grad=*/false);
}

at::Tensor LinearImpl::forward(const at::Tensor& x_in) {
  if (input_observer) input_observer(x_in);
  const at::Tensor& x = input_transform ? input_transform(x_in) : x_in;
  at::Tensor y = at::linear(x, weight, bias.defined() ? std::optional<at::Tensor>(bias) : std::nullopt);
  if (output_observer) output_observer(x_in, y);
  return y;
}

RMSNormImpl::RMSNormImpl(int64_t dim, double eps_) : eps(eps_) {
  weight = register_parameter("weight", at::ones({dim}), /*requires_grad=*/false);
}

at::Tensor RMSNormImpl::forward(const at::Tensor& x) {
  at::Tensor x32 = x.to(at::kFloat);
  at::Tensor normed = x32 * at::rsqrt(x32.pow(2).mean(-1, /*keepdim=*/true) + eps);
  return weight * normed.to(x.scalar_type());
}

AttentionImpl::AttentionImpl(const ModelConfig& c)
    : num_heads(c.num_heads), num_kv_heads(c.num_kv_heads), head_dim(c.head_dim) {
  const int64_t H = c.hidden_size, q = c.num_heads * c.head_dim, kv = c.num_kv_heads * c.head_dim;
  q_proj = register_module("q_proj", Linear(H, q, c.qkv_bias));
  k_proj = register_module("k_proj", Linear(H, kv, c.qkv_bias));
  v_proj = register_module("v_proj", Linear(H, kv, c.qkv_bias));
  o_proj = register_module("o_proj", Linear(q, H, c.o_bias));
}

at::Tensor AttentionImpl::forward(const at::Tensor& x, const RopeTables& rope, LayerCache* cache) {
  return attend(q_proj(x), k_proj(x), v_proj(x), rope, cache);
}

at::Tensor AttentionImpl::attend(const at::Tensor& q_out, const at::Tensor& k_out, const at::Tensor& v_out,
                                 const RopeTables& rope, LayerCache* cache) {
  const int64_t B = q_out.size(0), T = q_out.size(1);
  at::Tensor q = q_out.view({B, T, num_heads, head_dim}).transpose(1, 2);
  at::Tensor k = k_out.view({B, T, num_kv_heads, head_dim}).transpose(1, 2);
  at::Tensor v = v_out.view({B, T, num_kv_heads, head_dim}).transpose(1, 2);
  q = apply_rope(q, rope);
  k = apply_rope(k, rope);
  const int64_t past = cache && cache->k.defined() ? cache->k.size(2) : 0;
  if (cache) {
    if (past > 0) {
      k = at::cat({cache->k, k}, 2);
      v = at::cat({cache->v, v}, 2);
    }
    cache->k = k;
    cache->v = v;
  }
  // Grouped-query attention: query head h reads KV head h / (num_heads / num_kv_heads).
  const int64_t groups = num_heads / num_kv_heads;
  if (groups > 1) {
    k = k.repeat_interleave(groups, 1);
    v = v.repeat_interleave(groups, 1);
  }
  at::Tensor out;
  if (past == 0) {
    out = at::scaled_dot_product_attention(q, k, v, /*attn_mask=*/std::nullopt, /*dropout_p=*/0.0, /*is_causal=*/true);
  } else {
    // Query i sits at absolute position past + i and sees keys 0 .. past + i.
    at::Tensor mask = at::ones({T, past + T}, at::TensorOptions().dtype(at::kBool).device(q_out.device()))
                          .tril(past);
    out = at::scaled_dot_product_attention(q, k, v, mask);
  }
  return o_proj(out.transpose(1, 2).reshape({B, T, num_heads * head_dim}));
}

MlpImpl::MlpImpl(const ModelConfig& c) {
  gate_proj = register_module("gate_proj", Linear(c.hidden_size, c.intermediate_size, c.mlp_bias));
  up_proj = register_module("up_proj", Linear(c.hidden_size, c.intermediate_size, c.mlp_bias));
  down_proj = register_module("down_proj", Linear(c.intermediate_size, c.hidden_size, c.mlp_bias));
}

at::Tensor MlpImpl::forward(const at::Tensor& x) { return down_proj(at::silu(gate_proj(x)) * up_proj(x)); }

DecoderLayerImpl::DecoderLayerImpl(const ModelConfig& c) : arch(c.arch) {
  input_layernorm = register_module("input_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps));
  self_attn = register_module("self_attn", Attention(c));
  post_attention_layernorm = register_module("post_attention_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps));
  mlp = register_module("mlp", Mlp(c));
}

at::Tensor DecoderLayerImpl::forward(const at::Tensor& x, const RopeTables& rope, LayerCache* cache) {
  at::Tensor h = x + self_attn(input_layernorm(x), rope, cache);
  return h + mlp(post_attention_layernorm(h));
}

std::vector<std::pair<std::string, Linear>> DecoderLayerImpl::linears() const {
  return {{"self_attn.q_proj", self_attn->q_proj}, {"self_attn.k_proj", self_attn->k_proj},
          {"self_attn.v_proj", self_attn->v_proj}, {"self_attn.o_proj", self_attn->o_proj},
          {"mlp.gate_proj", mlp->gate_proj},       {"mlp.up_proj", mlp->up_proj},
          {"mlp.down_proj", mlp->down_proj}};
}

Linear DecoderLayerImpl::linear(const std::string& name) const {
  for (auto& [n, l] : linears())
    if (n == name) return l;
  PTQ_ASSERT(false, "decoder block has no linear '{}'", name);
  return nullptr;
}

std::vector<at::Tensor*> DecoderLayerImpl::parameter_slots() const {
  std::vector<at::Tensor*> slots;
  for (auto& [name, l] : linears()) {
    slots.push_back(&l->weight);
    if (l->bias.defined()) slots.push_back(&l->bias);
  }
  slots.push_back(&input_layernorm.ptr()->weight);
  slots.push_back(&post_attention_layernorm.ptr()->weight);
  return slots;
}

}  // namespace ptq
