// Score-driven BPE as llama2.c's run.c `encode` does it (and as sentencepiece BPE models behave): optional BOS, a
// dummy-prefix " " token when the text is non-empty, one symbol per UTF-8 code point (bytes of unknown code points
// become byte tokens <0xXX>), then repeatedly merge the adjacent pair whose concatenation is a vocabulary piece with
// the highest score, leftmost on ties; byte tokens never merge. Used for llama2.c tokenizer.bin files and for GGUF
// files whose tokenizer.ggml.model is "llama" (sentencepiece vocabulary with scores).
#pragma once

#include <array>
#include <string>
#include <unordered_map>
#include <vector>

#include "model/tokenizer.h"

namespace ptq {

class ScoreBpeTokenizer : public Tokenizer {
 public:
  // pieces[id] with "▁" already replaced by " " (llama2.c stores it so); scores[id]; `mergeable[id]` false for
  // control, unknown and byte tokens (they are never produced by a lookup of text). Byte tokens are found by their
  // "<0xXX>" spelling. `kind` is recorded with results ("llama2c" or "gguf-llama").
  ScoreBpeTokenizer(std::vector<std::string> pieces, std::vector<float> scores, std::vector<bool> mergeable,
                    std::optional<int32_t> bos, std::optional<int32_t> eos, std::string kind);

  std::vector<int32_t> encode(std::string_view text, bool add_bos) const override;
  std::string decode(const std::vector<int32_t>& ids) const override;
  int64_t vocab_size() const override { return static_cast<int64_t>(pieces_.size()); }
  std::optional<int32_t> bos_id() const override { return bos_; }
  std::optional<int32_t> eos_id() const override { return eos_; }
  std::string kind() const override { return kind_; }
  const std::string& piece(int32_t id) const { return pieces_.at(static_cast<size_t>(id)); }

 private:
  std::vector<std::string> pieces_;
  std::vector<float> scores_;
  std::unordered_map<std::string, int32_t> lookup_;
  std::array<int32_t, 256> byte_ids_{};
  std::optional<int32_t> bos_, eos_;
  std::string kind_;
};

// llama2.c tokenizer.bin: int32 max_token_length, then per id: float32 score, int32 length, raw bytes.
// `vocab_size` comes from the model header (the file does not store it). BOS 1, EOS 2 as in run.c.
std::unique_ptr<ScoreBpeTokenizer> load_llama2c_tokenizer(const std::string& path, int64_t vocab_size);

}  // namespace ptq
