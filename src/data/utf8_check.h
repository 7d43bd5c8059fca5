// UTF-8 validation of data files: text datasets and calibration files must be UTF-8 (what every tokenizer here
// expects), and a file in another encoding (Latin-1, UTF-16) is a clear error naming the file and the byte offset
// rather than silently mis-tokenized text.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace ptq {

// Byte offset of the first byte that does not start a well-formed UTF-8 sequence (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF, no truncated sequence), or nullopt when all of `s` is valid.
std::optional<size_t> first_invalid_utf8(std::string_view s);

// Throws ptq::Error (user) "'<path>': not valid UTF-8 at byte N ..." when `bytes` is not UTF-8; a UTF-16 byte-order
// mark is named as such.
void check_utf8(std::string_view bytes, const std::string& path);

}  // namespace ptq
