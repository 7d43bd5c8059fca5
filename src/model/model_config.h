// Architecture hyper-parameters of a Llama-family decoder (Llama 2/3, Qwen2, Mistral), read from an HF config.json
// (both the legacy rope_theta/rope_scaling keys and the newer rope_parameters; torch_dtype or dtype) or filled in by
// the llama2.c and GGUF readers. Defaults follow transformers when a key is absent (docs/formats.md, config.json).
#pragma once

#include <c10/core/ScalarType.h>

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace ptq {

enum class Arch { kLlama, kQwen2, kMistral };

struct RopeScaling {
  std::string type = "default";  // "default" (none), "llama3", "linear"
  double factor = 1.0;
  double low_freq_factor = 1.0;             // llama3
  double high_freq_factor = 4.0;            // llama3
  int64_t original_max_position_embeddings = 8192;  // llama3
};

struct ModelConfig {
  Arch arch = Arch::kLlama;
  std::string model_type = "llama";  // as in config.json
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t vocab_size = 0;
  int64_t max_position_embeddings = 2048;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  bool tie_word_embeddings = false;
  bool qkv_bias = false;  // Qwen2: always true
  bool o_bias = false;
  bool mlp_bias = false;
  at::ScalarType dtype = at::kFloat;  // dtype of the stored weights
  std::optional<int64_t> bos_token_id, eos_token_id;

  // `where` names the file for error messages ("models/x/config.json"). Throws naming the key on bad values.
  static ModelConfig from_hf_json(const nlohmann::json& j, const std::string& where);
  nlohmann::json to_hf_json() const;  // what the writer stores as config.json
  void validate(const std::string& where) const;
};

std::string arch_name(Arch a);  // "llama", "qwen2", "mistral"

}  // namespace ptq
