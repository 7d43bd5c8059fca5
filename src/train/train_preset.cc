#include "train/train_preset.h"

#include <fmt/format.h>

#include "core/error.h"

namespace ptq {
namespace {

ModelConfig llama(int64_t hidden, int64_t intermediate, int64_t layers, int64_t heads, int64_t kv_heads, int64_t vocab,
                  bool tied) {
  ModelConfig c;
  c.arch = Arch::kLlama;
  c.model_type = "llama";
  c.hidden_size = hidden;
  c.intermediate_size = intermediate;
  c.num_layers = layers;
  c.num_heads = heads;
  c.num_kv_heads = kv_heads;
  c.head_dim = hidden / heads;
  c.vocab_size = vocab;
  c.max_position_embeddings = 1024;
  c.rms_norm_eps = 1e-5;
  c.rope_theta = 10000.0;
  c.tie_word_embeddings = tied;
  c.dtype = at::kFloat;
  c.bos_token_id = 1;
  c.eos_token_id = 2;
  return c;
}

}  // namespace

nlohmann::json TrainPreset::to_json() const {
  return {{"name", name},
          {"model", model.to_hf_json()},
          {"seq_len", seq_len},
          {"batch_size", batch_size},
          {"steps", steps},
          {"warmup_steps", warmup_steps},
          {"lr", lr},
          {"min_lr", min_lr},
          {"weight_decay", weight_decay},
          {"beta1", beta1},
          {"beta2", beta2},
          {"grad_clip", grad_clip},
          {"tokenizer_sentences", tokenizer_sentences}};
}

const std::vector<std::string>& train_preset_names() {
  static const std::vector<std::string> names = {"tiny", "default"};
  return names;
}

TrainPreset train_preset(const std::string& name) {
  TrainPreset p;
  p.name = name;
  if (name == "tiny") {
    p.model = llama(256, 512, 2, 4, 2, 2048, /*tied=*/true);
    p.seq_len = 128;
    p.batch_size = 16;
    p.steps = 400;
    p.warmup_steps = 30;
    p.lr = 3e-3;
    p.min_lr = 3e-4;
    p.tokenizer_sentences = 60000;
  } else if (name == "default") {
    p.model = llama(256, 768, 4, 4, 2, 4096, /*tied=*/true);
    p.seq_len = 256;
    p.batch_size = 16;
    p.steps = 900;
    p.warmup_steps = 60;
    p.lr = 3e-3;
    p.min_lr = 3e-4;
    p.tokenizer_sentences = 200000;
  } else {
    PTQ_CHECK(false, "unknown training preset '{}' (known: {})", name, fmt::join(train_preset_names(), ", "));
  }
  return p;
}

}  // namespace ptq
