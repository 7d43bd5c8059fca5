#include "model/byte_level.h"

#include "core/utf8.h"

namespace ptq {

ByteLevelTable::ByteLevelTable() {
  uint32_t next = 0x100;
  for (int b = 0; b < 256; ++b) {
    const bool same = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    const uint32_t cp = same ? b : next++;
    append_utf8(byte_to_str[b], cp);
    cp_to_byte[cp] = static_cast<uint8_t>(b);
  }
}

const ByteLevelTable& byte_level_table() {
  static const ByteLevelTable table;
  return table;
}

}  // namespace ptq
