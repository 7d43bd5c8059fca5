// Presets of `ptq train`: the default model's architecture and its training schedule. Shapes meet the AutoAWQ kernel
// constraints (export_target.h: N % 64 == 0 and N % G == 0, K % G == 0 for every linear): hidden, intermediate and the
// key/value width (kv heads x head_dim) are multiples of 128, so groups of 128 and 64 export. Attention is grouped-query
// (2 query heads per key/value head, as in Llama 3), which with K/V width 128 puts the hidden size at 256.
//   tiny     CI's model: about 2 minutes on 2 cores
//   default  the demo's model: at most 15 minutes on 2 cores
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "model/model_config.h"

namespace ptq {

struct TrainPreset {
  std::string name;
  ModelConfig model;             // hidden, intermediate, layers, heads, kv heads, vocab, tied embeddings
  int64_t seq_len = 256;         // training window (tokens)
  int64_t batch_size = 16;       // windows per step
  int64_t steps = 1000;
  int64_t warmup_steps = 50;     // linear warm-up, then cosine decay to min_lr
  double lr = 3e-3, min_lr = 3e-4;
  double weight_decay = 0.1;     // AdamW, on matrices only (not norms)
  double beta1 = 0.9, beta2 = 0.95;
  double grad_clip = 1.0;        // global L2 norm
  int64_t tokenizer_sentences = 200000;

  nlohmann::json to_json() const;  // every field, for the cache key and the model card
};

const std::vector<std::string>& train_preset_names();
// Throws a user error listing the presets for an unknown name.
TrainPreset train_preset(const std::string& name);

}  // namespace ptq
