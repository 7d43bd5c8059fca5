#include "model/causal_lm.h"

#include <ATen/ATen.h>
#include <torch/nn/utils.h>

#include "core/error.h"
#include "model/checkpoint.h"

namespace ptq {

EmbeddingImpl::EmbeddingImpl(int64_t vocab, int64_t dim) {
  weight = register_parameter("weight", at::zeros({vocab, dim}), /*requires_grad=*/false);
}

at::Tensor EmbeddingImpl::forward(const at::Tensor& ids) { return at::embedding(weight, ids); }

DecoderStackImpl::DecoderStackImpl(const ModelConfig& c) {
  embed_tokens = register_module("embed_tokens", Embedding(c.vocab_size, c.hidden_size));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_layers; ++i) layers->push_back(DecoderLayer(c));
  norm = register_module("norm", RMSNorm(c.hidden_size, c.rms_norm_eps));
}

CausalLMImpl::CausalLMImpl(const ModelConfig& c) : config_(c) {
  model = register_module("model", DecoderStack(c));
  if (!c.tie_word_embeddings) lm_head = register_module("lm_head", Linear(c.hidden_size, c.vocab_size, false));
  inv_freq_ = rope_inv_freq(c);
}

at::Device CausalLMImpl::device() const { return model->embed_tokens->weight.device(); }
at::ScalarType CausalLMImpl::dtype() const { return model->embed_tokens->weight.scalar_type(); }

DecoderLayer CausalLMImpl::layer(int64_t i) const {
  PTQ_CHECK(i >= 0 && i < config_.num_layers, "layer {} out of range (model has {})", i, config_.num_layers);
  return DecoderLayer(model->layers->ptr<DecoderLayerImpl>(static_cast<size_t>(i)));
}

Linear CausalLMImpl::linear(const std::string& name) const {
  if (name == "lm_head" && lm_head) return lm_head;
  const std::string prefix = "model.layers.";
  if (name.rfind(prefix, 0) == 0) {
    size_t dot = name.find('.', prefix.size());
    if (dot != std::string::npos) {
      const std::string idx = name.substr(prefix.size(), dot - prefix.size());
      const std::string rest = name.substr(dot + 1);
      if (!idx.empty() && idx.find_first_not_of("0123456789") == std::string::npos) {
        const int64_t i = std::stoll(idx);
        if (i < config_.num_layers)
          for (auto& [n, l] : layer(i)->linears())
            if (n == rest) return l;
      }
    }
  }
  PTQ_FAIL("no linear named '{}' (expected model.layers.<0..{}>.self_attn.{{q,k,v,o}}_proj, "
           "model.layers.<i>.mlp.{{gate,up,down}}_proj or lm_head)",
           name, config_.num_layers - 1);
}

at::Tensor CausalLMImpl::embed(const at::Tensor& ids) { return model->embed_tokens(ids.to(device())); }

RopeTables CausalLMImpl::rope(int64_t start, int64_t length) const {
  return rope_tables(config_, inv_freq_, start, length, device());
}

at::Tensor CausalLMImpl::block_forward(int64_t i, const at::Tensor& x, const RopeTables& r, LayerCache* cache) {
  return layer(i)->forward(x, r, cache);
}

at::Tensor CausalLMImpl::head(const at::Tensor& hidden) {
  at::Tensor h = model->norm(hidden);
  at::Tensor logits = lm_head ? lm_head(h) : at::linear(h, model->embed_tokens->weight);
  return logits.to(at::kFloat);
}

at::Tensor CausalLMImpl::forward(const at::Tensor& ids, KVCache* cache) {
  PTQ_CHECK(ids.dim() == 2, "token ids must be [batch, time], got {} dimensions", ids.dim());
  const int64_t past = cache ? cache->length() : 0;
  if (cache && cache->layers.empty()) cache->layers.resize(static_cast<size_t>(config_.num_layers));
  at::Tensor x = embed(ids);
  const RopeTables r = rope(past, ids.size(1));
  for (int64_t i = 0; i < config_.num_layers; ++i)
    x = block_forward(i, x, r, cache ? &cache->layers[static_cast<size_t>(i)] : nullptr);
  return head(x);
}

void CausalLMImpl::load_tensor(const std::string& name, const Checkpoint& ck) {
  auto params = named_parameters();
  at::Tensor* param = params.find(name);
  PTQ_ASSERT(param != nullptr, "model has no parameter '{}'", name);
  at::Tensor src = ck.load(name);
  PTQ_CHECK(src.sizes() == param->sizes(), "{}: tensor '{}' has shape [{}], the model expects [{}]", ck.path(), name,
            fmt::join(src.sizes(), ", "), fmt::join(param->sizes(), ", "));
  at::NoGradGuard no_grad;
  param->copy_(src);
}

void CausalLMImpl::load_layer(int64_t i, const Checkpoint& ck) {
  for (const auto& name : hf_layer_tensor_names(config_, i)) load_tensor(name, ck);
}

void CausalLMImpl::load_weights(const Checkpoint& ck) {
  for (const auto& name : hf_tensor_names(config_)) load_tensor(name, ck);
}

CausalLM load_causal_lm(const Checkpoint& ck, const LoadOptions& opt) {
  CausalLM m(ck.config());
  m->to(opt.dtype.value_or(ck.config().dtype));
  m->load_weights(ck);
  m->to(opt.device);
  m->eval();
  return m;
}

}  // namespace ptq
