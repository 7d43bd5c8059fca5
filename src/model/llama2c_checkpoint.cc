#include "model/llama2c_checkpoint.h"

#include <ATen/ATen.h>

#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "model/mapped_file.h"
#include "model/tokenizer_score_bpe.h"

namespace ptq {

namespace {

int32_t read_i32(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

}  // namespace

std::string Llama2cCheckpoint::path() const { return file_->path(); }

std::unique_ptr<Llama2cCheckpoint> Llama2cCheckpoint::open(const std::string& path, const std::string& tokenizer_path) {
  auto ck = std::unique_ptr<Llama2cCheckpoint>(new Llama2cCheckpoint());
  ck->file_ = MappedFile::open(path);
  ck->tokenizer_path_ = tokenizer_path;
  const uint8_t* p = ck->file_->data();
  const uint64_t size = ck->file_->size();
  PTQ_CHECK(size >= 28, "{}: {} bytes is too short for a llama2.c checkpoint header", path, size);

  uint64_t header = 28;
  const int32_t* h = nullptr;
  int32_t hv[7];
  bool shared = true;
  if (read_i32(p) == 0x616b3432) {  // "ak42": v1 (fp32) or v2 (Q8_0)
    PTQ_CHECK(size >= 256, "{}: truncated llama2.c v1 header", path);
    ck->version_ = read_i32(p + 4);
    PTQ_CHECK(ck->version_ == 1, "{}: llama2.c checkpoint version {} is not supported (v0 and v1 fp32 only)", path,
              ck->version_);
    std::memcpy(hv, p + 8, 28);
    shared = p[36] != 0;
    header = 256;
  } else {
    std::memcpy(hv, p, 28);
    shared = hv[5] > 0;
    hv[5] = std::abs(hv[5]);
  }
  h = hv;
  const int64_t dim = h[0], hidden = h[1], layers = h[2], heads = h[3], kv_heads = h[4], vocab = h[5], seq = h[6];
  PTQ_CHECK(dim > 0 && hidden > 0 && layers > 0 && heads > 0 && kv_heads > 0 && vocab > 0 && seq > 0 &&
                dim % heads == 0 && heads % kv_heads == 0 && dim < (1 << 20) && hidden < (1 << 22) && layers < 4096 &&
                vocab < (1 << 22) && seq < (1 << 24),
            "{}: not a llama2.c checkpoint: implausible header dim={} hidden_dim={} n_layers={} n_heads={} "
            "n_kv_heads={} vocab_size={} seq_len={}",
            path, dim, hidden, layers, heads, kv_heads, vocab, seq);

  ModelConfig& c = ck->config_;
  c.arch = Arch::kLlama;
  c.model_type = "llama";
  c.hidden_size = dim;
  c.intermediate_size = hidden;
  c.num_layers = layers;
  c.num_heads = heads;
  c.num_kv_heads = kv_heads;
  c.head_dim = dim / heads;
  c.vocab_size = vocab;
  c.max_position_embeddings = seq;
  c.rms_norm_eps = 1e-5;  // run.c hard-codes it
  c.rope_theta = 10000.0;
  c.tie_word_embeddings = shared;
  c.dtype = at::kFloat;
  c.bos_token_id = 1;
  c.eos_token_id = 2;
  c.validate(path);

  const int64_t kv_dim = kv_heads * c.head_dim;
  uint64_t off = header;
  auto take = [&](const std::string& name, int64_t floats) {
    ck->offsets_[name] = off;
    off += static_cast<uint64_t>(floats) * 4;
  };
  auto per_layer = [&](const char* suffix, int64_t floats) {
    for (int64_t i = 0; i < layers; ++i) take(fmt::format("model.layers.{}.{}", i, suffix), floats);
  };
  auto embeddings = [&] { take("model.embed_tokens.weight", vocab * dim); };
  if (ck->version_ == 0) {
    embeddings();
    per_layer("input_layernorm.weight", dim);
  } else {
    per_layer("input_layernorm.weight", dim);
    per_layer("post_attention_layernorm.weight", dim);
    take("model.norm.weight", dim);
    embeddings();
  }
  per_layer("self_attn.q_proj.weight", dim * dim);
  per_layer("self_attn.k_proj.weight", kv_dim * dim);
  per_layer("self_attn.v_proj.weight", kv_dim * dim);
  per_layer("self_attn.o_proj.weight", dim * dim);
  if (ck->version_ == 0) per_layer("post_attention_layernorm.weight", dim);
  per_layer("mlp.gate_proj.weight", hidden * dim);
  per_layer("mlp.down_proj.weight", dim * hidden);
  per_layer("mlp.up_proj.weight", hidden * dim);
  if (ck->version_ == 0) {
    take("model.norm.weight", dim);
    off += static_cast<uint64_t>(seq) * c.head_dim * 4;  // freq_cis_real + freq_cis_imag (seq x hd/2 each), unused
  }
  if (!shared) take("lm_head.weight", vocab * dim);
  PTQ_CHECK(off == size, "{}: size {} bytes does not match the header ({} expected for dim={} n_layers={} vocab={}{}): "
                         "truncated or not a llama2.c v{} checkpoint",
            path, size, off, dim, layers, vocab, shared ? "" : " with classifier", ck->version_);
  return ck;
}

at::Tensor Llama2cCheckpoint::load(const std::string& name) const {
  auto it = offsets_.find(name);
  PTQ_CHECK(it != offsets_.end(), "{}: no tensor named '{}'", path(), name);
  const auto shape = hf_tensor_shape(config_, name);
  at::Tensor t = at::empty(shape, at::kFloat);
  std::memcpy(t.data_ptr(), file_->data() + it->second, t.numel() * 4);
  if (name.find("q_proj.weight") != std::string::npos) return meta_to_hf_rope_rows(t, config_.num_heads);
  if (name.find("k_proj.weight") != std::string::npos) return meta_to_hf_rope_rows(t, config_.num_kv_heads);
  return t;
}

std::unique_ptr<Tokenizer> Llama2cCheckpoint::tokenizer() const {
  if (tokenizer_path_.empty()) return nullptr;
  // A llama2.c tokenizer.bin does not store its size: it is read with the model's vocabulary size.
  if (std::filesystem::path(tokenizer_path_).extension() == ".bin")
    return with_context(fmt::format("tokenizer for {}", path()), [&]() -> std::unique_ptr<Tokenizer> {
      return load_llama2c_tokenizer(tokenizer_path_, config_.vocab_size);
    });
  return load_tokenizer(tokenizer_path_);
}

}  // namespace ptq
