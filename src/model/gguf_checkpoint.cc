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

namespace {

// tokenizer.ggml.model "gpt2": a byte-level BPE vocabulary with merges; tokenizer.ggml.pre names the pre-tokenizer.
std::unique_ptr<Tokenizer> gguf_bpe_tokenizer(const GgufFile& f) {
  const auto& tokens = f.metadata()["tokenizer.ggml.tokens"];
  const auto& merges = f.metadata()["tokenizer.ggml.merges"];
  PTQ_CHECK(tokens.is_array() && !tokens.empty(), "{}: metadata key 'tokenizer.ggml.tokens' missing or empty",
            f.path());
  PTQ_CHECK(merges.is_array(), "{}: metadata key 'tokenizer.ggml.merges' missing", f.path());
  HfBpeSpec spec;
  spec.vocab.reserve(tokens.size());
  for (const auto& t : tokens) spec.vocab.push_back(t.get<std::string>());
  for (const auto& m : merges) {
    const std::string s = m.get<std::string>();
    const size_t sp = s.find(' ');
    PTQ_CHECK(sp != std::string::npos, "{}: tokenizer.ggml.merges entry '{}' is not 'a b'", f.path(), s);
    spec.merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
  }
  if (f.has_key("tokenizer.ggml.token_type")) {
    const auto& ty = f.metadata()["tokenizer.ggml.token_type"];
    PTQ_CHECK(ty.size() == tokens.size(), "{}: tokenizer.ggml.token_type has {} entries for {} tokens", f.path(),
              ty.size(), tokens.size());
    // Control (3) and user-defined (4) tokens are matched whole in the text, like tokenizer.json's added tokens.
    for (size_t i = 0; i < ty.size(); ++i)
      if (ty[i].get<int>() == 3 || ty[i].get<int>() == 4)
        spec.added_tokens.push_back({static_cast<int32_t>(i), spec.vocab[i], ty[i].get<int>() == 3});
  }
  const std::string pre = f.has_key("tokenizer.ggml.pre") ? f.get_string("tokenizer.ggml.pre") : "gpt-2";
  if (pre == "gpt-2" || pre == "default") {
    spec.pre_tokenizer = HfBpeSpec::PreTokenizer::kByteLevel;
  } else {
    spec.pre_tokenizer = HfBpeSpec::PreTokenizer::kSplitByteLevel;
    spec.split_regex = with_context(f.path() + ": tokenizer.ggml.pre",
                                    [&] { return HfBpeTokenizer::gguf_pre_regex(pre); });
  }
  if (pre == "qwen2") spec.normalizer = HfBpeSpec::Normalizer::kNfc;
  if (pre == "llama-bpe" || pre == "llama3") spec.ignore_merges = true;
  if (f.has_key("tokenizer.ggml.bos_token_id"))
    spec.bos_id = static_cast<int32_t>(f.get_int("tokenizer.ggml.bos_token_id"));
  if (f.has_key("tokenizer.ggml.eos_token_id"))
    spec.eos_id = static_cast<int32_t>(f.get_int("tokenizer.ggml.eos_token_id"));
  return HfBpeTokenizer::from_spec(spec, f.path());
}

}  // namespace

std::unique_ptr<Tokenizer> gguf_tokenizer(const GgufFile& f) {
  const std::string model = f.get_string("tokenizer.ggml.model");
  if (model == "gpt2") return gguf_bpe_tokenizer(f);
  PTQ_CHECK(model == "llama", "{}: tokenizer.ggml.model '{}' is not supported (llama, gpt2)", f.path(), model);
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
