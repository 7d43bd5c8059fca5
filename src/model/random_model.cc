#include "model/random_model.h"

#include <ATen/ATen.h>

#include <cmath>
#include <utility>

#include "core/error.h"
#include "model/checkpoint.h"
#include "model/hf_checkpoint.h"

namespace ptq {

namespace {

ModelConfig llama_shape(int64_t hidden, int64_t inter, int64_t layers, int64_t heads, int64_t kv_heads, int64_t vocab,
                        double rope_theta, int64_t max_pos) {
  ModelConfig c;
  c.hidden_size = hidden;
  c.intermediate_size = inter;
  c.num_layers = layers;
  c.num_heads = heads;
  c.num_kv_heads = kv_heads;
  c.head_dim = hidden / heads;
  c.vocab_size = vocab;
  c.rope_theta = rope_theta;
  c.max_position_embeddings = max_pos;
  c.rms_norm_eps = 1e-5;
  c.bos_token_id = 1;
  c.eos_token_id = 2;
  return c;
}

}  // namespace

std::vector<std::string> random_model_shape_names() { return {"llama2-7b", "llama2-13b", "llama3-8b"}; }

ModelConfig random_model_shape(const std::string& name) {
  // Published config.json values of these models (hidden, intermediate, layers, heads, KV heads, vocab, rope_theta).
  if (name == "llama2-7b") return llama_shape(4096, 11008, 32, 32, 32, 32000, 10000.0, 4096);
  if (name == "llama2-13b") return llama_shape(5120, 13824, 40, 40, 40, 32000, 10000.0, 4096);
  if (name == "llama3-8b") return llama_shape(4096, 14336, 32, 32, 8, 128256, 500000.0, 8192);
  std::string known;
  for (const auto& n : random_model_shape_names()) known += (known.empty() ? "" : ", ") + n;
  PTQ_FAIL("unknown model shape '{}' (known: {})", name, known);
}

double gpt2_init_std(const std::string& hf_name, int64_t num_layers) {
  const bool resid = hf_name.find("o_proj") != std::string::npos || hf_name.find("down_proj") != std::string::npos;
  return resid ? 0.02 / std::sqrt(2.0 * static_cast<double>(num_layers)) : 0.02;
}

uint64_t write_random_checkpoint(const std::string& dir, ModelConfig c, at::ScalarType dtype, uint64_t seed,
                                 uint64_t max_shard_bytes) {
  c.validate(dir + "/config.json");
  c.dtype = dtype;
  at::Generator gen = at::detail::createCPUGenerator(seed);
  const auto opts = at::TensorOptions().dtype(dtype);
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  uint64_t bytes = 0;
  auto add = [&](const std::string& name, std::vector<int64_t> shape) {
    at::Tensor t = shape.size() == 1 ? at::ones(shape, opts)
                                     : at::empty(shape, opts).normal_(0.0, gpt2_init_std(name, c.num_layers), gen);
    bytes += static_cast<uint64_t>(t.numel()) * t.element_size();
    tensors.emplace_back(name, std::move(t));
  };
  for (const std::string& name : hf_tensor_names(c)) add(name, hf_tensor_shape(c, name));
  write_hf_checkpoint(dir, c, tensors, max_shard_bytes,
                      {{"format", "pt"}, {"ptq_random_init", "gpt2 normal(0, 0.02), seed " + std::to_string(seed)}});
  return bytes;
}

}  // namespace ptq
