#include "model/gguf_checkpoint.h"

#include <ATen/ATen.h>

#include "core/error.h"
#include "model/tokenizer_hf.h"
#include "model/tokenizer_score_bpe.h"

namespace ptq {

namespace {

// GGUF tensor-name stems (llama.cpp's naming) -> HF names within a layer.
constexpr std::pair<const char*, const char*> kLayerNames[] = {
    {"attn_norm.weight", "input_layernorm.weight"},
    {"attn_q.weight", "self_attn.q_proj.weight"},
    {"attn_q.bias", "self_attn.q_proj.bias"},
    {"attn_k.weight", "self_attn.k_proj.weight"},
    {"attn_k.bias", "self_attn.k_proj.bias"},
    {"attn_v.weight", "self_attn.v_proj.weight"},
    {"attn_v.bias", "self_attn.v_proj.bias"},
    {"attn_output.weight", "self_attn.o_proj.weight"},
    {"attn_output.bias", "self_attn.o_proj.bias"},
    {"ffn_norm.weight", "post_attention_layernorm.weight"},
    {"ffn_gate.weight", "mlp.gate_proj.weight"},
    {"ffn_up.weight", "mlp.up_proj.weight"},
    {"ffn_down.weight", "mlp.down_proj.weight"},
};

// Replaces every "▁" (U+2581) by a space.
std::string spm_to_spaces(const std::string& s) {
  static const std::string kMeta = "\xE2\x96\x81";
  std::string out;
  for (size_t i = 0; i < s.size();) {
    if (s.compare(i, 3, kMeta) == 0) {
      out += ' ';
      i += 3;
    } else {
      out += s[i++];
    }
  }
  return out;
}

}  // namespace

std::unique_ptr<GgufCheckpoint> GgufCheckpoint::open(const std::string& path) { return open(GgufFile::open(path)); }

std::unique_ptr<GgufCheckpoint> GgufCheckpoint::open(GgufFile file) {
  auto ck = std::unique_ptr<GgufCheckpoint>(new GgufCheckpoint(std::move(file)));
  const GgufFile& f = ck->file_;
  const std::string path = f.path();
  const std::string arch = f.get_string("general.architecture");
  ModelConfig& c = ck->config_;
  if (arch == "llama") {
    c.arch = Arch::kLlama;
  } else if (arch == "qwen2") {
    c.arch = Arch::kQwen2;
    c.qkv_bias = true;
    ck->meta_rope_layout_ = false;  // llama.cpp runs qwen2 with NEOX (rotate-half) RoPE: rows are in HF order
  } else {
    PTQ_FAIL("{}: general.architecture '{}' is not supported (llama, qwen2)", path, arch);
  }
  c.model_type = arch;
  c.hidden_size = f.get_int(arch + ".embedding_length");
  c.intermediate_size = f.get_int(arch + ".feed_forward_length");
  c.num_layers = f.get_int(arch + ".block_count");
  c.num_heads = f.get_int(arch + ".attention.head_count");
  c.num_kv_heads = f.has_key(arch + ".attention.head_count_kv") ? f.get_int(arch + ".attention.head_count_kv")
                                                                 : c.num_heads;
  PTQ_CHECK(c.num_heads > 0, "{}: metadata key '{}.attention.head_count' must be positive, got {}", path, arch,
            c.num_heads);
  c.head_dim = f.has_key(arch + ".attention.key_length") ? f.get_int(arch + ".attention.key_length")
                                                          : c.hidden_size / c.num_heads;
  c.rms_norm_eps = f.get_float(arch + ".attention.layer_norm_rms_epsilon");
  c.rope_theta = f.has_key(arch + ".rope.freq_base") ? f.get_float(arch + ".rope.freq_base") : 10000.0;
  c.max_position_embeddings = f.has_key(arch + ".context_length") ? f.get_int(arch + ".context_length") : 2048;
  const GgufTensorInfo* emb = f.find("token_embd.weight");
  PTQ_CHECK(emb != nullptr, "{}: tensor 'token_embd.weight' is missing", path);
  c.vocab_size = emb->shape[0];
  c.tie_word_embeddings = f.find("output.weight") == nullptr;
  if (f.has_key("tokenizer.ggml.bos_token_id")) c.bos_token_id = f.get_int("tokenizer.ggml.bos_token_id");
  if (f.has_key("tokenizer.ggml.eos_token_id")) c.eos_token_id = f.get_int("tokenizer.ggml.eos_token_id");
  c.dtype = emb->ggml_type == 1 ? at::kHalf : emb->ggml_type == 30 ? at::kBFloat16 : at::kFloat;
  c.validate(path);
  // Every block has at least 9 tensors: a block count beyond the file's tensors is corrupt metadata (and would
  // otherwise build millions of names before the first one is found missing).
  PTQ_CHECK(static_cast<uint64_t>(c.num_layers) * 9 <= f.tensors().size(), "{}: {}.block_count is {} but the file "
            "holds only {} tensors", path, arch, c.num_layers, f.tensors().size());

  ck->hf_to_gguf_["model.embed_tokens.weight"] = "token_embd.weight";
  ck->hf_to_gguf_["model.norm.weight"] = "output_norm.weight";
  if (!c.tie_word_embeddings) ck->hf_to_gguf_["lm_head.weight"] = "output.weight";
  for (int64_t i = 0; i < c.num_layers; ++i)
    for (const auto& [g, h] : kLayerNames)
      ck->hf_to_gguf_[fmt::format("model.layers.{}.{}", i, h)] = fmt::format("blk.{}.{}", i, g);
  // Every tensor the architecture needs must be present with its HF shape.
  for (const auto& name : hf_tensor_names(c)) {
    const GgufTensorInfo* t = f.find(ck->hf_to_gguf_.at(name));
    PTQ_CHECK(t != nullptr, "{}: tensor '{}' (HF '{}') is missing", path, ck->hf_to_gguf_.at(name), name);
    const auto want = hf_tensor_shape(c, name);
    PTQ_CHECK(t->shape == want, "{}: tensor '{}' has shape [{}], the metadata implies [{}]", path, t->name,
              fmt::join(t->shape, ", "), fmt::join(want, ", "));
  }
  for (auto it = ck->hf_to_gguf_.begin(); it != ck->hf_to_gguf_.end();)
    it = f.find(it->second) == nullptr ? ck->hf_to_gguf_.erase(it) : std::next(it);
  return ck;
}

at::Tensor GgufCheckpoint::load(const std::string& name) const {
  auto it = hf_to_gguf_.find(name);
  PTQ_CHECK(it != hf_to_gguf_.end(), "{}: no tensor for HF name '{}'", path(), name);
  at::Tensor t = file_.load(it->second);
  if (meta_rope_layout_ && name.find("q_proj.weight") != std::string::npos)
    return meta_to_hf_rope_rows(t, config_.num_heads);
  if (meta_rope_layout_ && name.find("k_proj.weight") != std::string::npos)
    return meta_to_hf_rope_rows(t, config_.num_kv_heads);
  return t;
}

std::unique_ptr<Tokenizer> GgufCheckpoint::tokenizer() const { return gguf_tokenizer(file_); }

namespace {

// Typed access to metadata arrays (the file is untrusted: every key may be absent and every element of another type).
const nlohmann::json* meta_array(const GgufFile& f, const std::string& key) {
  if (!f.has_key(key)) return nullptr;
  const nlohmann::json& v = f.metadata().at(key);
  PTQ_CHECK(v.is_array(), "{}: metadata key '{}' is not an array", f.path(), key);
  return &v;
}
std::string meta_string(const GgufFile& f, const nlohmann::json& a, size_t i, const char* key) {
  PTQ_CHECK(a[i].is_string(), "{}: metadata key '{}' entry {} is not a string", f.path(), key, i);
  return a[i].get<std::string>();
}
int64_t meta_int(const GgufFile& f, const nlohmann::json& a, size_t i, const char* key) {
  PTQ_CHECK(a[i].is_number_integer(), "{}: metadata key '{}' entry {} is not an integer", f.path(), key, i);
  return a[i].get<int64_t>();
}
// A token id from the metadata (bos/eos): inside the vocabulary of n tokens.
std::optional<int32_t> meta_token_id(const GgufFile& f, const char* key, size_t n) {
  if (!f.has_key(key)) return std::nullopt;
  const int64_t id = f.get_int(key);
  PTQ_CHECK(id >= 0 && static_cast<uint64_t>(id) < n, "{}: metadata key '{}' is {}, outside the {} tokens", f.path(),
            key, id, n);
  return static_cast<int32_t>(id);
}

}  // namespace

// tokenizer.ggml.model "gpt2": a byte-level BPE vocabulary with merges; tokenizer.ggml.pre names the pre-tokenizer.
HfBpeSpec gguf_bpe_spec(const GgufFile& f) {
  PTQ_CHECK(f.get_string("tokenizer.ggml.model") == "gpt2", "{}: tokenizer.ggml.model '{}' is not a BPE vocabulary "
            "('gpt2')", f.path(), f.get_string("tokenizer.ggml.model"));
  const nlohmann::json* tokens_p = meta_array(f, "tokenizer.ggml.tokens");
  const nlohmann::json* merges_p = meta_array(f, "tokenizer.ggml.merges");
  PTQ_CHECK(tokens_p && !tokens_p->empty(), "{}: metadata key 'tokenizer.ggml.tokens' missing or empty", f.path());
  PTQ_CHECK(merges_p, "{}: metadata key 'tokenizer.ggml.merges' missing", f.path());
  const nlohmann::json& tokens = *tokens_p;
  const nlohmann::json& merges = *merges_p;
  HfBpeSpec spec;
  spec.vocab.reserve(tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) spec.vocab.push_back(meta_string(f, tokens, i, "tokenizer.ggml.tokens"));
  for (size_t i = 0; i < merges.size(); ++i) {
    const std::string s = meta_string(f, merges, i, "tokenizer.ggml.merges");
    const size_t sp = s.find(' ');
    PTQ_CHECK(sp != std::string::npos, "{}: tokenizer.ggml.merges entry '{}' is not 'a b'", f.path(), s);
    spec.merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
  }
  if (const nlohmann::json* ty = meta_array(f, "tokenizer.ggml.token_type")) {
    PTQ_CHECK(ty->size() == tokens.size(), "{}: tokenizer.ggml.token_type has {} entries for {} tokens", f.path(),
              ty->size(), tokens.size());
    // Control (3) and user-defined (4) tokens are matched whole in the text, like tokenizer.json's added tokens.
    for (size_t i = 0; i < ty->size(); ++i) {
      const int64_t t = meta_int(f, *ty, i, "tokenizer.ggml.token_type");
      if (t == 3 || t == 4) spec.added_tokens.push_back({static_cast<int32_t>(i), spec.vocab[i], t == 3});
    }
  }
  const std::string pre = f.has_key("tokenizer.ggml.pre") ? f.get_string("tokenizer.ggml.pre") : "gpt-2";
  with_context(f.path(), [&] { HfBpeTokenizer::set_gguf_pre_tokenizer(pre, spec); });
  spec.bos_id = meta_token_id(f, "tokenizer.ggml.bos_token_id", tokens.size());
  spec.eos_id = meta_token_id(f, "tokenizer.ggml.eos_token_id", tokens.size());
  return spec;
}

std::unique_ptr<Tokenizer> gguf_tokenizer(const GgufFile& f) {
  const std::string model = f.get_string("tokenizer.ggml.model");
  if (model == "gpt2") return HfBpeTokenizer::from_spec(gguf_bpe_spec(f), f.path());
  PTQ_CHECK(model == "llama", "{}: tokenizer.ggml.model '{}' is not supported (llama, gpt2)", f.path(), model);
  const nlohmann::json* tokens_p = meta_array(f, "tokenizer.ggml.tokens");
  PTQ_CHECK(tokens_p && !tokens_p->empty(), "{}: metadata key 'tokenizer.ggml.tokens' missing or empty", f.path());
  const nlohmann::json& tokens = *tokens_p;
  const size_t n = tokens.size();
  std::vector<std::string> pieces;
  std::vector<float> scores(n, 0.0f);
  std::vector<bool> mergeable(n, true);
  pieces.reserve(n);
  for (size_t i = 0; i < n; ++i) pieces.push_back(spm_to_spaces(meta_string(f, tokens, i, "tokenizer.ggml.tokens")));
  if (const nlohmann::json* s = meta_array(f, "tokenizer.ggml.scores")) {
    PTQ_CHECK(s->size() == n, "{}: tokenizer.ggml.scores has {} entries for {} tokens", f.path(), s->size(), n);
    for (size_t i = 0; i < n; ++i) {
      PTQ_CHECK((*s)[i].is_number(), "{}: metadata key 'tokenizer.ggml.scores' entry {} is not a number", f.path(), i);
      scores[i] = (*s)[i].get<float>();
    }
  }
  if (const nlohmann::json* ty = meta_array(f, "tokenizer.ggml.token_type")) {
    PTQ_CHECK(ty->size() == n, "{}: tokenizer.ggml.token_type has {} entries for {} tokens", f.path(), ty->size(), n);
    // 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte: only normal and user-defined pieces match text.
    for (size_t i = 0; i < n; ++i) {
      const int64_t t = meta_int(f, *ty, i, "tokenizer.ggml.token_type");
      mergeable[i] = t == 1 || t == 4;
    }
  }
  const std::optional<int32_t> bos = meta_token_id(f, "tokenizer.ggml.bos_token_id", n);
  const std::optional<int32_t> eos = meta_token_id(f, "tokenizer.ggml.eos_token_id", n);
  return std::make_unique<ScoreBpeTokenizer>(std::move(pieces), std::move(scores), std::move(mergeable), bos, eos,
                                             "gguf-llama");
}

}  // namespace ptq
