// LibTorch modules of a Llama-family decoder. Submodules are registered under their Hugging Face names, so
// named_parameters() of a CausalLM yields exactly the HF state-dict keys (model.layers.3.mlp.down_proj.weight).
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>

#include <functional>
#include <optional>

#include "model/model_config.h"
#include "model/rope.h"

namespace ptq {

// y = x W^T + b with two optional hooks the calibration pipeline and methods attach to:
//   input_observer(x)   sees every input (activation capture, GPTQ Hessians, AWQ statistics)
//   input_transform(x)  replaces the input before the product (activation fake-quantization)
//   output_observer(x, y) sees every input and the product computed from it (the pipeline's per-layer errors)
class LinearImpl : public torch::nn::Module {
 public:
  LinearImpl(int64_t in_features, int64_t out_features, bool bias);
  // x: [..., in] -> [..., out], in the weight's dtype.
  at::Tensor forward(const at::Tensor& x);

  at::Tensor weight;  // [out, in]
  at::Tensor bias;    // [out] or undefined
  std::function<void(const at::Tensor&)> input_observer;
  std::function<at::Tensor(const at::Tensor&)> input_transform;
  std::function<void(const at::Tensor& x, const at::Tensor& y)> output_observer;
};
TORCH_MODULE(Linear);

// RMSNorm as transformers computes it: in float32 x * rsqrt(mean(x^2) + eps), cast back to x's dtype, then * weight.
class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t dim, double eps);
  at::Tensor forward(const at::Tensor& x);  // [..., dim]
  at::Tensor weight;                          // [dim]
  double eps;
};
TORCH_MODULE(RMSNorm);

// Per-layer key/value cache for incremental decoding: [B, n_kv_heads, S, head_dim] each (undefined when empty).
struct LayerCache {
  at::Tensor k, v;
};

class AttentionImpl : public torch::nn::Module {
 public:
  explicit AttentionImpl(const ModelConfig& c);
  // x: [B, T, hidden]; rope tables for the T positions (absolute positions past .. past + T - 1 where past is the
  // cached length); causal within the block and over the cache. Returns [B, T, hidden].
  at::Tensor forward(const at::Tensor& x, const RopeTables& rope, LayerCache* cache = nullptr);
  // The part after the q/k/v projections (RoPE, cache, GQA, causal attention, o_proj), for callers that compute the
  // projections themselves (AWQ's batched scale search). q_out [B, T, heads*hd], k_out/v_out [B, T, kv_heads*hd].
  at::Tensor attend(const at::Tensor& q_out, const at::Tensor& k_out, const at::Tensor& v_out, const RopeTables& rope,
                    LayerCache* cache = nullptr);

  Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  int64_t num_heads, num_kv_heads, head_dim;
};
TORCH_MODULE(Attention);

// SwiGLU feed-forward: down(silu(gate(x)) * up(x)).
class MlpImpl : public torch::nn::Module {
 public:
  explicit MlpImpl(const ModelConfig& c);
  at::Tensor forward(const at::Tensor& x);  // [..., hidden] -> [..., hidden]
  Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(Mlp);

// One decoder block: x + attn(norm(x)), then h + mlp(norm(h)). The unit the calibration pipeline processes.
class DecoderLayerImpl : public torch::nn::Module {
 public:
  explicit DecoderLayerImpl(const ModelConfig& c);
  at::Tensor forward(const at::Tensor& x, const RopeTables& rope, LayerCache* cache = nullptr);  // [B, T, hidden]
  // The block's linears by their names relative to the block ("self_attn.q_proj", ..., "mlp.down_proj").
  std::vector<std::pair<std::string, Linear>> linears() const;
  // The members forward() reads its parameters from (every linear's weight and bias when defined, both norms'
  // weights): what a caller swaps to run the block with other values without copying them.
  std::vector<at::Tensor*> parameter_slots() const;

  // The linear named `name` (block-relative, as linears() names it); an internal error for any other name.
  Linear linear(const std::string& name) const;

  Arch arch;  // which block layout (model/block_layout.h) describes this block
  RMSNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
  Attention self_attn{nullptr};
  Mlp mlp{nullptr};
};
TORCH_MODULE(DecoderLayer);

}  // namespace ptq
