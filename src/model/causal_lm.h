// A Llama-family causal language model (Llama 2/3, Qwen2, Mistral) whose parameter names are the HF names.
// Blocks are separately addressable for the block-wise calibration pipeline, and every Linear is reachable by its HF
// module name ("model.layers.3.mlp.down_proj"), so a method can wrap or modify it.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>

#include <string>
#include <vector>

#include "model/layers.h"
#include "model/model_config.h"

namespace ptq {

class Checkpoint;

class EmbeddingImpl : public torch::nn::Module {
 public:
  EmbeddingImpl(int64_t vocab, int64_t dim);
  at::Tensor forward(const at::Tensor& ids);  // int64 [B, T] -> [B, T, dim]
  at::Tensor weight;                           // [vocab, dim]
};
TORCH_MODULE(Embedding);

// The "model." prefix of the HF names: embeddings, decoder layers, final norm.
class DecoderStackImpl : public torch::nn::Module {
 public:
  explicit DecoderStackImpl(const ModelConfig& c);
  Embedding embed_tokens{nullptr};
  torch::nn::ModuleList layers{nullptr};
  RMSNorm norm{nullptr};
};
TORCH_MODULE(DecoderStack);

struct KVCache {
  std::vector<LayerCache> layers;
  int64_t length() const { return layers.empty() || !layers[0].k.defined() ? 0 : layers[0].k.size(2); }
};

class CausalLMImpl : public torch::nn::Module {
 public:
  explicit CausalLMImpl(const ModelConfig& c);

  // ids: int64 [B, T]. Returns float32 logits [B, T, vocab]; logits[:, p] predicts token p + 1. With a cache, the
  // ids continue the cached sequence and the cache is extended.
  at::Tensor forward(const at::Tensor& ids, KVCache* cache = nullptr);

  // Pieces of forward() for the block-wise pipeline.
  at::Tensor embed(const at::Tensor& ids);                      // [B, T] -> [B, T, hidden]
  RopeTables rope(int64_t start, int64_t length) const;         // tables for positions start..start+length-1
  at::Tensor block_forward(int64_t layer, const at::Tensor& x, const RopeTables& rope, LayerCache* cache = nullptr);
  at::Tensor head(const at::Tensor& hidden);                    // final norm + lm_head -> float32 logits

  int64_t num_layers() const { return config_.num_layers; }
  DecoderLayer layer(int64_t i) const;
  // The Linear registered under `hf_module_name` (e.g. "model.layers.0.self_attn.q_proj"); throws listing the
  // accepted form when there is none.
  Linear linear(const std::string& hf_module_name) const;
  const ModelConfig& config() const { return config_; }
  at::Device device() const;
  at::ScalarType dtype() const;

  // Copies every tensor of `ck` into the parameters (converting to the parameters' dtype). load_layer does one block.
  void load_weights(const Checkpoint& ck);
  void load_layer(int64_t layer, const Checkpoint& ck);

  DecoderStack model{nullptr};
  Linear lm_head{nullptr};  // null when the embeddings are tied

 private:
  void load_tensor(const std::string& name, const Checkpoint& ck);
  ModelConfig config_;
  at::Tensor inv_freq_;  // float32 [head_dim / 2]
};
TORCH_MODULE(CausalLM);

struct LoadOptions {
  std::optional<at::ScalarType> dtype;  // default: the checkpoint's dtype
  at::Device device = at::kCPU;
};

// Builds the model for `ck`'s config and loads all weights.
CausalLM load_causal_lm(const Checkpoint& ck, const LoadOptions& opt = {});

}  // namespace ptq
