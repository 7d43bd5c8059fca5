// `ptq train`: trains a Llama-architecture model from scratch on the Debian corpus (src/train/corpus.h) and writes it
// as a Hugging Face checkpoint, so every ptq command loads it through the same path as a downloaded model:
//   <out>/config.json, model.safetensors, tokenizer.model   the model (fp32)
//   <out>/data/valid.txt, data/calib.txt                     held-out evaluation and calibration text
//   <out>/ptq_train.json                                     model card: corpus recipe and sha256, preset, seed, loss
//                                                            curve, time, held-out and unigram perplexity, cache key
// Steps, in order: corpus (cached), sentencepiece BPE tokenizer, tokenization (one BOS per document), training
// (AdamW, warm-up + cosine, global-norm clipping; windows drawn uniformly from the token stream with mt19937_64(seed)),
// held-out perplexity with ptq eval's protocol (text dataset, seq_len = the preset's), then an atomic rename of the
// finished folder over <out>. Deterministic given seed and thread count.
// The corpus's package files are read under $PTQ_CORPUS_ROOT (default /).
// Cache: when <out>/ptq_train.json holds the same key (corpus sha256, preset, seed, steps, trainer version) and the
// files are present, nothing is trained.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "train/train_preset.h"

namespace ptq {

struct TrainOptions {
  std::string preset = "default";
  std::string out_dir;             // default results/models/<preset>
  std::string corpus_dir = "results/corpus";
  uint64_t seed = 0;
  int64_t steps = 0;               // > 0: overrides the preset's step count (the schedule follows)
  bool force = false;              // train even when the cache matches
  bool verbose = true;             // progress lines on stderr
  double log_every_seconds = 10.0;
};

struct TrainResult {
  std::string out_dir;
  bool cached = false;
  nlohmann::json card;             // ptq_train.json
};

TrainResult train_model(const TrainOptions& opt);

// The cache key train_model uses (exposed for tests and `ptq train --dry-run`).
std::string train_cache_key(const std::string& corpus_sha256, const TrainPreset& preset, uint64_t seed);

}  // namespace ptq
