// UTF-8 helpers shared by the tokenizers and the text cleaners: encoding a code point, the well-formedness rule of
// Unicode (maximal subparts, as Python's errors="replace" and Rust's from_utf8_lossy), decoding, and Unicode
// White_Space.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ptq {

// Appends code point `cp` to `out` as UTF-8 (nothing for values above U+10FFFF).
void append_utf8(std::string& out, uint32_t cp);

// Length of the well-formed UTF-8 sequence starting at s[i] (1..4), or -(bytes of its maximal invalid prefix, >= 1)
// when it is ill-formed: the unit Unicode (and Rust's from_utf8_lossy, Python's errors="replace") replaces by one
// U+FFFD. Second-byte ranges exclude overlongs (E0, F0), surrogates (ED) and code points above U+10FFFF (F4).
int utf8_sequence(std::string_view s, size_t i);

// Whether every byte of `s` belongs to a well-formed sequence.
bool is_valid_utf8(std::string_view s);

// `s` with every ill-formed part replaced by U+FFFD ("lossy" decoding, as the reference decoders do).
std::string utf8_lossy(std::string_view s);

// Decodes the code point at s[i] (s must be valid UTF-8) and advances i past it.
uint32_t next_cp(std::string_view s, size_t& i);

// Byte length of the UTF-8 character starting with byte `b0` (valid input).
int utf8_char_len(unsigned char b0);

// Rust's char::is_whitespace (Unicode White_Space), which lstrip/rstrip of added tokens use.
bool is_unicode_whitespace(uint32_t c);

}  // namespace ptq
