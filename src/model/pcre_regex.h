// PCRE2 regex over valid UTF-8 with Unicode properties (\p{L}, \s), JIT-compiled when the platform allows.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

struct pcre2_real_code_8;  // pcre2.h's compiled pattern (PCRE2_CODE_UNIT_WIDTH 8), kept out of this header

namespace ptq {

// Built-in split patterns: GPT-2's (ByteLevel use_regex), and Llama 3's and Qwen2's for GGUF vocabularies, whose
// files name a pre-tokenizer type instead of carrying the pattern.
extern const char* const kGpt2Pattern;
extern const char* const kLlama3Pattern;
extern const char* const kQwen2Pattern;

class Regex {
 public:
  // Compiles `pattern`; `where` (file and key) goes into the error message when PCRE2 rejects it.
  Regex(const std::string& pattern, const std::string& where);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Calls fn(begin, end) for each non-empty match in valid UTF-8 `s`, left to right, non-overlapping. Empty matches
  // are skipped (the splitters drop empty pieces anyway).
  void for_each_match(std::string_view s, const std::function<void(size_t, size_t)>& fn) const;

 private:
  pcre2_real_code_8* code_ = nullptr;
};

}  // namespace ptq
