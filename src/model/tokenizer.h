// Text <-> token ids, the way a model's own tokenizer does it. Implementations:
//   sentencepiece .model (through the sentencepiece library)     tokenizer_spm.*
//   HF tokenizer.json BPE (byte-level and sentencepiece-style)   tokenizer_hf.*
//   llama2.c tokenizer.bin                                       tokenizer_llama2c.*
// load_tokenizer() picks one from a path.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ptq {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Token ids of `text` encoded as one string, exactly as the reference library does it (sentencepiece: with the
  // dummy-prefix space; tokenizer.json: normalizer, pre-tokenizer, model, added/special tokens matched in the text).
  // add_bos: prepend the BOS id when the tokenizer has one (no other post-processing, no EOS).
  virtual std::vector<int32_t> encode(std::string_view text, bool add_bos) const = 0;
  // Text of `ids` (the reference decoder's rules: byte fallback, byte-level mapping, leading-space strip).
  virtual std::string decode(const std::vector<int32_t>& ids) const = 0;
  // Number of ids the tokenizer can produce (model vocabulary plus added tokens): the embedding needs >= this many rows.
  virtual int64_t vocab_size() const = 0;
  virtual std::optional<int32_t> bos_id() const = 0;
  virtual std::optional<int32_t> eos_id() const = 0;
  // "sentencepiece", "hf-bpe", "llama2c": recorded with every result (protocol).
  virtual std::string kind() const = 0;
};

// `path`: a tokenizer.model (sentencepiece), a tokenizer.json, a llama2.c tokenizer .bin, or a directory holding
// tokenizer.json or tokenizer.model (tokenizer.json preferred). Throws ptq::Error naming the file on any problem.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path);

}  // namespace ptq
