#include "model/gguf_checkpoint.h"

#include <ATen/ATen.h>

#include "core/error.h"
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

std::unique_ptr<GgufCheckpoint> GgufCheckpoint::open(const std::string& path) {
  auto ck = std::unique_ptr<GgufCheckpoint>(new GgufCheckpoint(GgufFile::open(path)));
  const GgufFile& f = ck->file_;
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

std::unique_ptr<Tokenizer> gguf_tokenizer(const GgufFile& f) {
  const std::string model = f.get_string("tokenizer.ggml.model");
  PTQ_CHECK(model == "llama", "{}: tokenizer.ggml.model '{}' is not supported yet (llama)", f.path(), model);
  const auto& tokens = f.metadata()["tokenizer.ggml.tokens"];
  PTQ_CHECK(tokens.is_array() && !tokens.empty(), "{}: metadata key 'tokenizer.ggml.tokens' missing or empty",
            f.path());
  const size_t n = tokens.size();
  std::vector<std::string> pieces;
  std::vector<float> scores(n, 0.0f);
  std::vector<bool> mergeable(n, true);
  pieces.reserve(n);
  for (const auto& t : tokens) pieces.push_back(spm_to_spaces(t.get<std::string>()));
  if (f.has_key("tokenizer.ggml.scores")) {
    const auto& s = f.metadata()["tokenizer.ggml.scores"];
    PTQ_CHECK(s.size() == n, "{}: tokenizer.ggml.scores has {} entries for {} tokens", f.path(), s.size(), n);
    for (size_t i = 0; i < n; ++i) scores[i] = s[i].get<float>();
  }
  if (f.has_key("tokenizer.ggml.token_type")) {
    const auto& ty = f.metadata()["tokenizer.ggml.token_type"];
    PTQ_CHECK(ty.size() == n, "{}: tokenizer.ggml.token_type has {} entries for {} tokens", f.path(), ty.size(), n);
    // 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte: only normal and user-defined pieces match text.
    for (size_t i = 0; i < n; ++i) mergeable[i] = ty[i].get<int>() == 1 || ty[i].get<int>() == 4;
  }
  std::optional<int32_t> bos, eos;
  if (f.has_key("tokenizer.ggml.bos_token_id")) bos = static_cast<int32_t>(f.get_int("tokenizer.ggml.bos_token_id"));
  if (f.has_key("tokenizer.ggml.eos_token_id")) eos = static_cast<int32_t>(f.get_int("tokenizer.ggml.eos_token_id"));
  return std::make_unique<ScoreBpeTokenizer>(std::move(pieces), std::move(scores), std::move(mergeable), bos, eos,
                                             "gguf-llama");
}

}  // namespace ptq
