#include "model/tokenizer_hf_json.h"

#include "core/error.h"

namespace ptq {

namespace {

using ojson = nlohmann::ordered_json;

const char* const kMeta = "\xE2\x96\x81";  // U+2581, the sentencepiece space

ojson byte_level(bool use_regex) {
  return {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", use_regex}};
}

ojson normalizer(const HfBpeSpec& s) {
  using N = HfBpeSpec::Normalizer;
  switch (s.normalizer) {
    case N::kNone: return nullptr;
    case N::kNfc: return {{"type", "NFC"}};
    case N::kLlama2Legacy:
      return {{"type", "Sequence"},
              {"normalizers",
               {{{"type", "Prepend"}, {"prepend", kMeta}},
                {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", kMeta}}}}};
  }
  return nullptr;
}

ojson pre_tokenizer(const HfBpeSpec& s) {
  using P = HfBpeSpec::PreTokenizer;
  switch (s.pre_tokenizer) {
    case P::kNone: return nullptr;
    case P::kByteLevel: return byte_level(true);
    case P::kSplitByteLevel:
      return {{"type", "Sequence"},
              {"pretokenizers",
               {{{"type", "Split"}, {"pattern", {{"Regex", s.split_regex}}}, {"behavior", "Isolated"}, {"invert", false}},
                byte_level(false)}}};
    case P::kDigitsByteLevel:
      return {{"type", "Sequence"},
              {"pretokenizers", {{{"type", "Digits"}, {"individual_digits", true}}, byte_level(true)}}};
    case P::kMetaspace:
      return {{"type", "Metaspace"}, {"replacement", kMeta}, {"prepend_scheme", "first"}, {"split", false}};
  }
  return nullptr;
}

// The decoders from_spec gives each kind of vocabulary.
ojson decoder(const HfBpeSpec& s) {
  using P = HfBpeSpec::PreTokenizer;
  if (s.pre_tokenizer == P::kSplitByteLevel || s.pre_tokenizer == P::kByteLevel || s.pre_tokenizer == P::kDigitsByteLevel)
    return byte_level(true);
  ojson steps = ojson::array();
  steps.push_back({{"type", "Replace"}, {"pattern", {{"String", kMeta}}}, {"content", " "}});
  if (s.byte_fallback) steps.push_back({{"type", "ByteFallback"}});
  steps.push_back({{"type", "Fuse"}});
  if (s.normalizer == HfBpeSpec::Normalizer::kLlama2Legacy || s.pre_tokenizer == P::kMetaspace)
    steps.push_back({{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}});
  return {{"type", "Sequence"}, {"decoders", steps}};
}

}  // namespace

nlohmann::ordered_json hf_tokenizer_json(const HfBpeSpec& s, bool add_bos) {
  ojson added = ojson::array();
  for (const auto& t : s.added_tokens)
    added.push_back({{"id", t.id}, {"content", t.content}, {"single_word", t.single_word}, {"lstrip", t.lstrip},
                     {"rstrip", t.rstrip}, {"normalized", t.normalized}, {"special", t.special}});
  ojson vocab = ojson::object();
  for (size_t i = 0; i < s.vocab.size(); ++i) vocab[s.vocab[i]] = i;
  // Merges as [a, b] pairs: a sentencepiece-style token may itself hold a space.
  ojson merges = ojson::array();
  for (const auto& [a, b] : s.merges) merges.push_back({a, b});
  ojson post = nullptr;
  if (add_bos) {
    PTQ_CHECK(s.bos_id.has_value(), "add_bos: the vocabulary has no BOS token");
    const std::string& bos = s.vocab.at(static_cast<size_t>(*s.bos_id));
    post = {{"type", "TemplateProcessing"},
            {"single", {{{"SpecialToken", {{"id", bos}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
            {"pair",
             {{{"SpecialToken", {{"id", bos}, {"type_id", 0}}}},
              {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
              {{"SpecialToken", {{"id", bos}, {"type_id", 1}}}},
              {{"Sequence", {{"id", "B"}, {"type_id", 1}}}}}},
            {"special_tokens", {{bos, {{"id", bos}, {"ids", {*s.bos_id}}, {"tokens", {bos}}}}}}};
  }
  return {{"version", "1.0"},
          {"truncation", nullptr},
          {"padding", nullptr},
          {"added_tokens", added},
          {"normalizer", normalizer(s)},
          {"pre_tokenizer", pre_tokenizer(s)},
          {"post_processor", post},
          {"decoder", decoder(s)},
          {"model",
           {{"type", "BPE"},
            {"dropout", nullptr},
            {"unk_token", s.unk_token ? ojson(*s.unk_token) : ojson(nullptr)},
            {"continuing_subword_prefix", nullptr},
            {"end_of_word_suffix", nullptr},
            {"fuse_unk", s.fuse_unk},
            {"byte_fallback", s.byte_fallback},
            {"ignore_merges", s.ignore_merges},
            {"vocab", vocab},
            {"merges", merges}}}};
}

}  // namespace ptq
