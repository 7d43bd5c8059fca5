// NFC (canonical decomposition, canonical ordering, canonical composition) on the tables generated from Python's
// unicodedata into unicode_nfc_table.h; Hangul syllables are computed. Complete for the Unicode version of the table.
#pragma once

#include <string>
#include <string_view>

namespace ptq {

// NFC of valid UTF-8 `s`. Text whose code points are all below U+0300 is returned unchanged: nothing there
// decomposes into something that recomposes differently (all combining marks and Hangul jamo lie above).
std::string nfc(std::string_view s);

}  // namespace ptq
