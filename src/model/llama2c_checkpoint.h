// llama2.c checkpoints (docs/formats.md): legacy v0 (7 int32 header: dim, hidden_dim, n_layers, n_heads, n_kv_heads,
// vocab_size (negative = separate classifier), seq_len; then fp32 arrays grouped by kind across layers, freq_cis, and
// wcls when not shared) and v1 (256-byte header with magic "ak42", version 1, a shared-classifier flag; no freq_cis).
// q/k rows are stored in Meta's interleaved-pair RoPE layout and are converted to HF's rotate-half layout on load.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "model/checkpoint.h"

namespace ptq {

class MappedFile;

class Llama2cCheckpoint : public Checkpoint {
 public:
  // tokenizer_path: the tokenizer.bin to use (optional; tokenizer() returns nullptr without one).
  static std::unique_ptr<Llama2cCheckpoint> open(const std::string& path, const std::string& tokenizer_path);

  const ModelConfig& config() const override { return config_; }
  std::vector<std::string> names() const override { return hf_tensor_names(config_); }
  bool has(const std::string& name) const override { return offsets_.count(name) > 0; }
  at::Tensor load(const std::string& name) const override;
  std::unique_ptr<Tokenizer> tokenizer() const override;
  std::string format() const override { return "llama2c"; }
  std::string path() const override;
  int version() const { return version_; }

 private:
  std::shared_ptr<const MappedFile> file_;
  std::string tokenizer_path_;
  ModelConfig config_;
  int version_ = 0;
  std::map<std::string, uint64_t> offsets_;  // HF name -> byte offset of its fp32 data (shape from the config)
};

}  // namespace ptq
