// Hugging Face tokenizer.json with a BPE model (the schema of the `tokenizers` library), reimplemented in C++ so
// that ids match
// the `tokenizers` library: byte-level vocabularies (GPT-2, Llama 3, Qwen2/3) and sentencepiece conversions (Llama 2
// legacy Prepend+Replace normalizer, Metaspace pre-tokenizer, byte fallback, <unk>).
//
// Encoding: added tokens matched in the raw text (leftmost-longest) -> normalizer on the rest -> added tokens marked
// `normalized` matched in the normalized text -> pre-tokenizer splits -> BPE merges per piece. Decoding: id -> token
// text -> the file's decoder chain. Regexes come from the file and run on PCRE2 (UTF + Unicode properties).
//
// Supported components (anything else is rejected at load time with the file and the JSON key in the message):
//   normalizer    null, NFC, Prepend, Replace (String or Regex pattern), Sequence
//   pre_tokenizer null, ByteLevel (use_regex: the built-in GPT-2 pattern), Split (Regex or String; Isolated or
//                 Removed; invert false), Digits (individual_digits true/false), Metaspace (prepend_scheme
//                 first/always/never, split), Sequence
//   model         BPE (merges as "a b" strings or [a, b] pairs, ignore_merges, byte_fallback, unk_token, fuse_unk);
//                 continuing_subword_prefix / end_of_word_suffix must be null or empty; dropout null or 0
//   decoder       null, ByteLevel, Replace (String), ByteFallback, Fuse, Strip, Metaspace, Sequence
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "model/tokenizer.h"

namespace ptq {

// An entry of tokenizer.json `added_tokens`, or a control token of a GGUF vocabulary.
struct HfAddedToken {
  int32_t id = 0;
  std::string content;
  bool special = true;       // special tokens are what a caller may skip when decoding; both kinds bypass the model
  bool lstrip = false;       // the match swallows whitespace on its left
  bool rstrip = false;       // ... and on its right
  bool single_word = false;  // matches only between word boundaries
  bool normalized = false;   // matched in the normalized text instead of the raw text
};

// A BPE tokenizer described by already-parsed parts: what a GGUF file's tokenizer.ggml.* keys (model "gpt2") give.
struct HfBpeSpec {
  enum class Normalizer {
    kNone,
    kNfc,                // Qwen2
    kLlama2Legacy,       // Sequence[Prepend "▁", Replace " " -> "▁"] (converted sentencepiece, legacy)
  };
  enum class PreTokenizer {
    kNone,               // the whole (normalized) piece goes to the model
    kSplitByteLevel,     // Sequence[Split{split_regex, Isolated}, ByteLevel{use_regex false}] (Llama 3, Qwen2)
    kByteLevel,          // ByteLevel{use_regex true}: the built-in GPT-2 pattern (GPT-2)
    kDigitsByteLevel,    // Sequence[Digits{individual_digits true}, ByteLevel{use_regex true}] (StarCoder, SmolLM)
    kMetaspace,          // Metaspace{"▁", prepend_scheme first, split false} (non-legacy sentencepiece conversions)
  };

  std::vector<std::string> vocab;  // token text by id (byte-level vocabularies: in the GPT-2 byte-to-char encoding)
  std::vector<std::pair<std::string, std::string>> merges;  // by rank (index 0 merges first)
  std::vector<HfAddedToken> added_tokens;  // their ids may lie inside or beyond `vocab`
  Normalizer normalizer = Normalizer::kNone;
  PreTokenizer pre_tokenizer = PreTokenizer::kSplitByteLevel;
  std::string split_regex;  // for kSplitByteLevel; see HfBpeTokenizer::set_gguf_pre_tokenizer()
  bool ignore_merges = false;
  bool byte_fallback = false;  // pieces missing from the vocabulary become <0xHH> tokens
  std::optional<std::string> unk_token;
  bool fuse_unk = false;
  std::optional<int32_t> bos_id, eos_id;
};

class HfBpeTokenizer : public Tokenizer {
 public:
  // Reads a tokenizer.json (and, beside it, tokenizer_config.json when present, for bos_token / eos_token).
  // Throws ptq::Error naming the file and the JSON key on a missing or malformed file or an unsupported component.
  static std::unique_ptr<HfBpeTokenizer> from_file(const std::string& tokenizer_json_path);
  // The same from the file's text; `path` names it in messages and, when read_config, locates tokenizer_config.json
  // beside it. (from_file reads the file and calls this; the fuzz harness feeds bytes directly.)
  static std::unique_ptr<HfBpeTokenizer> from_json_text(const std::string& text, const std::string& path,
                                                        bool read_config = true);
  // Builds one from parsed parts. `origin` names where they came from in error messages (e.g. the GGUF path).
  static std::unique_ptr<HfBpeTokenizer> from_spec(const HfBpeSpec& spec, const std::string& origin);
  // The pre-tokenizer for a GGUF tokenizer.ggml.pre value, as llama.cpp maps it: "gpt-2"/"default" (ByteLevel),
  // "llama-bpe"/"llama3" and "qwen2" (their split regex, kSplitByteLevel), and "smollm", "starcoder", "refact",
  // "command-r", "codeshell", "exaone", "minerva" (single digits, then the GPT-2 pattern). Sets spec.pre_tokenizer,
  // spec.split_regex and what goes with them (NFC for qwen2, ignore_merges for Llama 3); throws naming the supported
  // values for any other.
  static void set_gguf_pre_tokenizer(const std::string& pre, HfBpeSpec& spec);

  ~HfBpeTokenizer() override;

  std::vector<int32_t> encode(std::string_view text, bool add_bos) const override;
  std::string decode(const std::vector<int32_t>& ids) const override;
  int64_t vocab_size() const override;
  std::optional<int32_t> bos_id() const override;
  std::optional<int32_t> eos_id() const override;
  std::string kind() const override { return "hf-bpe"; }

  // The token text of `id` (model vocabulary or added token); nullopt for an unknown id.
  std::optional<std::string> id_to_token(int32_t id) const;
  // The id of token text `token` (added tokens first, then the model vocabulary).
  std::optional<int32_t> token_to_id(std::string_view token) const;

  struct Impl;

 private:
  explicit HfBpeTokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ptq
