// GPT-2 byte <-> character table: printable bytes map to themselves, the 68 others to U+0100.. in byte order, so
// that every byte string becomes printable text without spaces.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <unordered_map>

namespace ptq {

struct ByteLevelTable {
  std::array<std::string, 256> byte_to_str;
  std::unordered_map<uint32_t, uint8_t> cp_to_byte;
  ByteLevelTable();
};

// The table (built once).
const ByteLevelTable& byte_level_table();

}  // namespace ptq
