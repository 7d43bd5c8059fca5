#include "model/pcre_regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <array>

#include "core/error.h"
#include "core/utf8.h"

namespace ptq {

const char* const kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
const char* const kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

Regex::Regex(const std::string& pattern, const std::string& where) {
  int err = 0;
  PCRE2_SIZE offset = 0;
  code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), PCRE2_UTF | PCRE2_UCP, &err,
                        &offset, nullptr);
  if (!code_) {
    std::array<PCRE2_UCHAR, 256> buf{};
    pcre2_get_error_message(err, buf.data(), buf.size());
    PTQ_FAIL("{}: regex '{}' does not compile (at offset {}): {}", where, pattern, offset,
             reinterpret_cast<const char*>(buf.data()));
  }
  // JIT is an optimisation only: interpretation gives the same matches when it is unavailable.
  pcre2_jit_compile(code_, PCRE2_JIT_COMPLETE);
}

Regex::~Regex() { pcre2_code_free(code_); }

void Regex::for_each_match(std::string_view s, const std::function<void(size_t, size_t)>& fn) const {
  // Per-thread match state: encode() is const and may run on several threads; a JIT stack larger than the 32 KiB
  // default keeps long whitespace runs (the backtracking \s+(?!\S)) from failing.
  struct State {
    pcre2_match_data* md = pcre2_match_data_create(8, nullptr);
    pcre2_jit_stack* stack = pcre2_jit_stack_create(32 * 1024, 16 * 1024 * 1024, nullptr);
    pcre2_match_context* ctx = pcre2_match_context_create(nullptr);
    State() { pcre2_jit_stack_assign(ctx, nullptr, stack); }
    ~State() {
      pcre2_match_context_free(ctx);
      pcre2_jit_stack_free(stack);
      pcre2_match_data_free(md);
    }
  };
  thread_local State st;
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(s.data());
  size_t pos = 0;
  while (pos <= s.size()) {
    // NO_UTF_CHECK: the text was validated once; checking it at every call would make splitting quadratic.
    const int rc = pcre2_match(code_, subject, s.size(), pos, PCRE2_NO_UTF_CHECK, st.md, st.ctx);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    PTQ_ASSERT(rc > 0, "pcre2_match failed with code {}", rc);
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(st.md);
    if (ov[1] == ov[0]) {
      if (ov[0] >= s.size()) break;
      pos = ov[0] + utf8_char_len(static_cast<unsigned char>(s[ov[0]]));
      continue;
    }
    fn(ov[0], ov[1]);
    pos = ov[1];
  }
}

}  // namespace ptq
