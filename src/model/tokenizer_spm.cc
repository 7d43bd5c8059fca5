#include "model/tokenizer_spm.h"

#include <sentencepiece_processor.h>

#include "core/error.h"

namespace ptq {

SentencePieceTokenizer::SentencePieceTokenizer() : sp_(std::make_unique<sentencepiece::SentencePieceProcessor>()) {}
SentencePieceTokenizer::~SentencePieceTokenizer() = default;

std::unique_ptr<SentencePieceTokenizer> SentencePieceTokenizer::open(const std::string& path) {
  auto t = std::unique_ptr<SentencePieceTokenizer>(new SentencePieceTokenizer());
  t->path_ = path;
  const auto status = t->sp_->Load(path);
  PTQ_CHECK(status.ok(), "{}: not a sentencepiece model: {}", path, status.ToString());
  return t;
}

std::vector<int32_t> SentencePieceTokenizer::encode(std::string_view text, bool add_bos) const {
  std::vector<int> ids;
  const auto status = sp_->Encode(absl::string_view(text.data(), text.size()), &ids);
  PTQ_CHECK(status.ok(), "{}: encode failed: {}", path_, status.ToString());
  std::vector<int32_t> out;
  out.reserve(ids.size() + 1);
  if (add_bos && sp_->bos_id() >= 0) out.push_back(sp_->bos_id());
  out.insert(out.end(), ids.begin(), ids.end());
  return out;
}

std::string SentencePieceTokenizer::decode(const std::vector<int32_t>& ids) const {
  std::vector<int> v(ids.begin(), ids.end());
  for (int id : v) PTQ_CHECK(id >= 0 && id < sp_->GetPieceSize(), "token id {} outside the vocabulary of {}", id, sp_->GetPieceSize());
  std::string out;
  const auto status = sp_->Decode(v, &out);
  PTQ_CHECK(status.ok(), "{}: decode failed: {}", path_, status.ToString());
  return out;
}

int64_t SentencePieceTokenizer::vocab_size() const { return sp_->GetPieceSize(); }

std::optional<int32_t> SentencePieceTokenizer::bos_id() const {
  return sp_->bos_id() >= 0 ? std::optional<int32_t>(sp_->bos_id()) : std::nullopt;
}

std::optional<int32_t> SentencePieceTokenizer::eos_id() const {
  return sp_->eos_id() >= 0 ? std::optional<int32_t>(sp_->eos_id()) : std::nullopt;
}

}  // namespace ptq
