#include "model/checkpoint.h"

#include <ATen/ATen.h>

#include <filesystem>

#include "core/error.h"
#include "model/gguf_checkpoint.h"
#include "model/hf_checkpoint.h"
#include "model/llama2c_checkpoint.h"

namespace ptq {

std::vector<std::string> hf_layer_tensor_names(const ModelConfig& c, int64_t layer) {
  const std::string p = fmt::format("model.layers.{}.", layer);
  std::vector<std::string> n = {p + "input_layernorm.weight"};
  for (const char* proj : {"q_proj", "k_proj", "v_proj"}) {
    n.push_back(p + "self_attn." + proj + ".weight");
    if (c.qkv_bias) n.push_back(p + "self_attn." + proj + ".bias");
  }
  n.push_back(p + "self_attn.o_proj.weight");
  if (c.o_bias) n.push_back(p + "self_attn.o_proj.bias");
  n.push_back(p + "post_attention_layernorm.weight");
  for (const char* proj : {"gate_proj", "up_proj", "down_proj"}) {
    n.push_back(p + "mlp." + proj + ".weight");
    if (c.mlp_bias) n.push_back(p + "mlp." + proj + ".bias");
  }
  return n;
}

std::vector<std::string> hf_tensor_names(const ModelConfig& c) {
  std::vector<std::string> n = {"model.embed_tokens.weight"};
  for (int64_t i = 0; i < c.num_layers; ++i)
    for (auto& s : hf_layer_tensor_names(c, i)) n.push_back(std::move(s));
  n.push_back("model.norm.weight");
  if (!c.tie_word_embeddings) n.push_back("lm_head.weight");
  return n;
}

std::vector<int64_t> hf_tensor_shape(const ModelConfig& c, const std::string& name) {
  const int64_t H = c.hidden_size, I = c.intermediate_size, q = c.num_heads * c.head_dim,
                kv = c.num_kv_heads * c.head_dim;
  if (name == "model.embed_tokens.weight" || name == "lm_head.weight") return {c.vocab_size, H};
  if (name == "model.norm.weight") return {H};
  auto ends = [&](const char* suffix) {
    const std::string s(suffix);
    return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
  };
  if (ends("layernorm.weight")) return {H};
  if (ends("q_proj.weight")) return {q, H};
  if (ends("k_proj.weight") || ends("v_proj.weight")) return {kv, H};
  if (ends("q_proj.bias")) return {q};
  if (ends("k_proj.bias") || ends("v_proj.bias")) return {kv};
  if (ends("o_proj.weight")) return {H, q};
  if (ends("o_proj.bias") || ends("down_proj.bias")) return {H};
  if (ends("gate_proj.weight") || ends("up_proj.weight")) return {I, H};
  if (ends("gate_proj.bias") || ends("up_proj.bias")) return {I};
  if (ends("down_proj.weight")) return {H, I};
  PTQ_FAIL("unknown tensor name '{}'", name);
}

at::Tensor meta_to_hf_rope_rows(const at::Tensor& w, int64_t n_heads) {
  const int64_t rows = w.size(0), in = w.numel() / rows, hd = rows / n_heads;
  PTQ_ASSERT(hd * n_heads == rows && hd % 2 == 0, "rope rows {} for {} heads", rows, n_heads);
  return w.reshape({n_heads, hd / 2, 2, in}).transpose(1, 2).reshape(w.sizes()).contiguous();
}

namespace {

std::vector<DirectoryReader>& directory_readers() {
  static std::vector<DirectoryReader> readers;
  return readers;
}

}  // namespace

void register_directory_reader(DirectoryReader reader) {
  auto& readers = directory_readers();
  for (auto& r : readers)
    if (r.name == reader.name) {
      r = std::move(reader);
      return;
    }
  readers.push_back(std::move(reader));
}

std::unique_ptr<Checkpoint> open_checkpoint(const std::string& path, const std::string& tokenizer_path) {
  namespace fs = std::filesystem;
  PTQ_CHECK(fs::exists(path), "{}: no such file or directory", path);
  if (fs::is_directory(path)) {
    PTQ_CHECK(tokenizer_path.empty(), "{}: --tokenizer is only for llama2.c checkpoints (an HF directory carries its "
                                      "tokenizer)", path);
    for (const auto& r : directory_readers())
      if (r.recognises(path)) return r.open(path);
    return HfCheckpoint::open(path);
  }
  if (fs::path(path).extension() == ".gguf") return GgufCheckpoint::open(path);
  return Llama2cCheckpoint::open(path, tokenizer_path);
}

}  // namespace ptq
