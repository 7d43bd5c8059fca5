// sentencepiece .model files through the sentencepiece library (Debian's libsentencepiece): the reference
// implementation itself, so ids match by construction (dummy prefix and normalization as the model specifies).
#pragma once

#include <memory>
#include <string>

#include "model/tokenizer.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace ptq {

class SentencePieceTokenizer : public Tokenizer {
 public:
  static std::unique_ptr<SentencePieceTokenizer> open(const std::string& path);
  ~SentencePieceTokenizer() override;

  std::vector<int32_t> encode(std::string_view text, bool add_bos) const override;
  std::string decode(const std::vector<int32_t>& ids) const override;
  int64_t vocab_size() const override;
  std::optional<int32_t> bos_id() const override;
  std::optional<int32_t> eos_id() const override;
  std::string kind() const override { return "sentencepiece"; }

 private:
  SentencePieceTokenizer();
  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
  std::string path_;
};

}  // namespace ptq
