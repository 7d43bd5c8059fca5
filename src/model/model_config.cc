#include "model/model_config.h"

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace ptq {

namespace {

template <class T>
T get_or(const nlohmann::json& j, const char* key, T fallback, const std::string& where) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  try {
    return j[key].get<T>();
  } catch (const nlohmann::json::exception&) {
    PTQ_FAIL("{}: key '{}' has the wrong type ({})", where, key, j[key].dump());
  }
}

int64_t require_int(const nlohmann::json& j, const char* key, const std::string& where) {
  PTQ_CHECK(j.contains(key) && j[key].is_number_integer(), "{}: key '{}' is missing or not an integer", where, key);
  return j[key].get<int64_t>();
}

at::ScalarType parse_dtype(const std::string& s, const std::string& where, const char* key) {
  if (s == "float32" || s == "float") return at::kFloat;
  if (s == "float16" || s == "half") return at::kHalf;
  if (s == "bfloat16") return at::kBFloat16;
  PTQ_FAIL("{}: key '{}': unsupported dtype '{}' (float32, float16, bfloat16)", where, key, s);
}

std::optional<int64_t> first_id(const nlohmann::json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  if (j[key].is_number_integer()) return j[key].get<int64_t>();
  if (j[key].is_array() && !j[key].empty() && j[key][0].is_number_integer()) return j[key][0].get<int64_t>();
  return std::nullopt;
}

void read_rope(const nlohmann::json& r, ModelConfig& c, const std::string& where, const std::string& key) {
  PTQ_CHECK(r.is_object(), "{}: key '{}' is not an object", where, key);
  const std::string ctx = where + ": key '" + key + "'";
  c.rope_scaling.type = get_or<std::string>(r, "rope_type", get_or<std::string>(r, "type", "default", ctx), ctx);
  if (r.contains("rope_theta")) c.rope_theta = get_or<double>(r, "rope_theta", c.rope_theta, ctx);
  c.rope_scaling.factor = get_or<double>(r, "factor", 1.0, ctx);
  c.rope_scaling.low_freq_factor = get_or<double>(r, "low_freq_factor", 1.0, ctx);
  c.rope_scaling.high_freq_factor = get_or<double>(r, "high_freq_factor", 4.0, ctx);
  c.rope_scaling.original_max_position_embeddings =
      get_or<int64_t>(r, "original_max_position_embeddings", 8192, ctx);
  const auto& t = c.rope_scaling.type;
  PTQ_CHECK(t == "default" || t == "llama3" || t == "linear",
            "{}: rope type '{}' is not supported (default, llama3, linear)", ctx, t);
}

}  // namespace

std::string arch_name(Arch a) {
  switch (a) {
    case Arch::kLlama: return "llama";
    case Arch::kQwen2: return "qwen2";
    case Arch::kMistral: return "mistral";
  }
  return "?";
}

ModelConfig ModelConfig::from_hf_json(const nlohmann::json& j, const std::string& where) {
  PTQ_CHECK(j.is_object(), "{}: not a JSON object", where);
  ModelConfig c;
  c.model_type = get_or<std::string>(j, "model_type", "", where);
  if (c.model_type == "llama") c.arch = Arch::kLlama;
  else if (c.model_type == "qwen2") c.arch = Arch::kQwen2;
  else if (c.model_type == "mistral") c.arch = Arch::kMistral;
  else PTQ_FAIL("{}: key 'model_type': '{}' is not supported (llama, qwen2, mistral)", where, c.model_type);

  c.hidden_size = require_int(j, "hidden_size", where);
  c.intermediate_size = require_int(j, "intermediate_size", where);
  c.num_layers = require_int(j, "num_hidden_layers", where);
  c.num_heads = require_int(j, "num_attention_heads", where);
  c.num_kv_heads = get_or<int64_t>(j, "num_key_value_heads", c.num_heads, where);
  c.head_dim = get_or<int64_t>(j, "head_dim", c.num_heads > 0 ? c.hidden_size / c.num_heads : 0, where);
  c.vocab_size = require_int(j, "vocab_size", where);
  c.max_position_embeddings = get_or<int64_t>(j, "max_position_embeddings", 2048, where);
  c.rms_norm_eps = get_or<double>(j, "rms_norm_eps", 1e-6, where);
  c.rope_theta = get_or<double>(j, "rope_theta", 10000.0, where);
  if (j.contains("rope_scaling") && !j["rope_scaling"].is_null()) read_rope(j["rope_scaling"], c, where, "rope_scaling");
  // transformers 5.x: one rope_parameters dict replaces rope_theta + rope_scaling; it wins when present.
  if (j.contains("rope_parameters") && !j["rope_parameters"].is_null())
    read_rope(j["rope_parameters"], c, where, "rope_parameters");
  c.tie_word_embeddings = get_or<bool>(j, "tie_word_embeddings", false, where);
  c.qkv_bias = c.arch == Arch::kQwen2 ? true : get_or<bool>(j, "attention_bias", false, where);
  c.o_bias = c.arch == Arch::kQwen2 ? false : get_or<bool>(j, "attention_bias", false, where);
  c.mlp_bias = get_or<bool>(j, "mlp_bias", false, where);
  const std::string act = get_or<std::string>(j, "hidden_act", "silu", where);
  PTQ_CHECK(act == "silu", "{}: key 'hidden_act': '{}' is not supported (silu)", where, act);
  // dtype wins over torch_dtype (transformers >= 4.56 writes dtype).
  if (j.contains("dtype") && j["dtype"].is_string()) c.dtype = parse_dtype(j["dtype"].get<std::string>(), where, "dtype");
  else if (j.contains("torch_dtype") && j["torch_dtype"].is_string())
    c.dtype = parse_dtype(j["torch_dtype"].get<std::string>(), where, "torch_dtype");
  c.bos_token_id = first_id(j, "bos_token_id");
  c.eos_token_id = first_id(j, "eos_token_id");
  c.validate(where);
  return c;
}

void ModelConfig::validate(const std::string& where) const {
  PTQ_CHECK(hidden_size > 0 && intermediate_size > 0 && num_layers > 0 && num_heads > 0 && vocab_size > 0,
            "{}: hidden_size, intermediate_size, num_hidden_layers, num_attention_heads and vocab_size must be "
            "positive",
            where);
  PTQ_CHECK(num_kv_heads > 0 && num_heads % num_kv_heads == 0,
            "{}: num_attention_heads ({}) must be a multiple of num_key_value_heads ({})", where, num_heads,
            num_kv_heads);
  PTQ_CHECK(head_dim > 0 && head_dim % 2 == 0, "{}: head_dim must be positive and even, got {}", where, head_dim);
  PTQ_CHECK(rms_norm_eps > 0, "{}: rms_norm_eps must be positive", where);
  // Far beyond any real model (the largest have widths ~1e5, vocabularies ~1e6, ~1e2 layers), and small enough that
  // the products forming tensor shapes (heads x head_dim, vocab x hidden) cannot overflow int64.
  constexpr int64_t kMaxDim = int64_t{1} << 24;
  PTQ_CHECK(hidden_size <= kMaxDim && intermediate_size <= kMaxDim && num_layers <= kMaxDim && num_heads <= kMaxDim &&
                num_kv_heads <= kMaxDim && head_dim <= kMaxDim && vocab_size <= (int64_t{1} << 28),
            "{}: implausible sizes (hidden_size {}, intermediate_size {}, num_hidden_layers {}, num_attention_heads "
            "{}, num_key_value_heads {}, head_dim {}, vocab_size {}): not a model configuration ptq can hold",
            where, hidden_size, intermediate_size, num_layers, num_heads, num_kv_heads, head_dim, vocab_size);
}

nlohmann::json ModelConfig::to_hf_json() const {
  static const char* arch_class[] = {"LlamaForCausalLM", "Qwen2ForCausalLM", "MistralForCausalLM"};
  nlohmann::json j = {
      {"architectures", {arch_class[static_cast<int>(arch)]}},
      {"model_type", model_type},
      {"hidden_size", hidden_size},
      {"intermediate_size", intermediate_size},
      {"num_hidden_layers", num_layers},
      {"num_attention_heads", num_heads},
      {"num_key_value_heads", num_kv_heads},
      {"head_dim", head_dim},
      {"vocab_size", vocab_size},
      {"max_position_embeddings", max_position_embeddings},
      {"rms_norm_eps", rms_norm_eps},
      {"rope_theta", rope_theta},
      {"tie_word_embeddings", tie_word_embeddings},
      {"hidden_act", "silu"},
      {"mlp_bias", mlp_bias},
      {"torch_dtype", dtype == at::kHalf ? "float16" : dtype == at::kBFloat16 ? "bfloat16" : "float32"},
  };
  if (arch != Arch::kQwen2) j["attention_bias"] = qkv_bias;
  if (rope_scaling.type != "default") {
    j["rope_scaling"] = {{"rope_type", rope_scaling.type}, {"factor", rope_scaling.factor}};
    if (rope_scaling.type == "llama3") {
      j["rope_scaling"]["low_freq_factor"] = rope_scaling.low_freq_factor;
      j["rope_scaling"]["high_freq_factor"] = rope_scaling.high_freq_factor;
      j["rope_scaling"]["original_max_position_embeddings"] = rope_scaling.original_max_position_embeddings;
    }
  }
  if (bos_token_id) j["bos_token_id"] = *bos_token_id;
  if (eos_token_id) j["eos_token_id"] = *eos_token_id;
  return j;
}

}  // namespace ptq
