// A GGUF model file (general.architecture "llama" or "qwen2", F32/F16/BF16 tensors) seen through HF names, with the
// tokenizer from its metadata. llama-architecture q/k rows are in Meta's interleaved RoPE layout in GGUF and are
// converted to rotate-half on load.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "model/checkpoint.h"
#include "model/gguf_file.h"
#include "model/tokenizer_hf.h"

namespace ptq {

class GgufCheckpoint : public Checkpoint {
 public:
  static std::unique_ptr<GgufCheckpoint> open(const std::string& path);
  // From a parsed file (e.g. GgufFile::open over bytes in memory, as the fuzz harness does).
  static std::unique_ptr<GgufCheckpoint> open(GgufFile file);

  const ModelConfig& config() const override { return config_; }
  std::vector<std::string> names() const override { return hf_tensor_names(config_); }
  bool has(const std::string& name) const override { return hf_to_gguf_.count(name) > 0; }
  at::Tensor load(const std::string& name) const override;
  std::unique_ptr<Tokenizer> tokenizer() const override;
  std::string format() const override { return "gguf"; }
  std::string path() const override { return file_.path(); }
  const GgufFile& file() const { return file_; }

 private:
  explicit GgufCheckpoint(GgufFile f) : file_(std::move(f)) {}
  GgufFile file_;
  ModelConfig config_;
  bool meta_rope_layout_ = true;
  std::map<std::string, std::string> hf_to_gguf_;
};

// Tokenizer stored in GGUF metadata (tokenizer.ggml.*): "llama" (sentencepiece vocabulary with scores) or "gpt2"
// (byte-level BPE with merges; tokenizer.ggml.pre picks the pre-tokenizer). Throws
// naming the file and key when absent or of another model type.
std::unique_ptr<Tokenizer> gguf_tokenizer(const GgufFile& f);

// The parts of a "gpt2" GGUF vocabulary (what gguf_tokenizer builds from; `ptq convert` writes them as
// tokenizer.json). Throws naming the file and key for another model type or malformed metadata.
HfBpeSpec gguf_bpe_spec(const GgufFile& f);

}  // namespace ptq
