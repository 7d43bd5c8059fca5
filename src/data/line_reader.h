// Line-by-line reading of data files (jsonl corpora), plain or Zstandard-compressed: a file that starts with the zstd
// frame magic (28 b5 2f fd) is decompressed on the fly with ZSTD_decompressStream, whatever its name, so the Pile
// validation sample AWQ calibrates on (val.jsonl.zst, ~0.5 GB compressed) is read without a decompressed copy on disk
// and without holding the compressed and decompressed bytes in memory at once.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace ptq {

// True when the file begins with a zstd frame.
bool is_zstd_file(const std::string& path);

// Calls fn(line, line_number) for each line (1-based numbers; the '\n' removed, a final line without '\n' included).
// Throws a user error naming the file for a missing or unreadable file, corrupt compressed data or a truncated frame.
void for_each_line(const std::string& path, const std::function<void(std::string_view line, int64_t number)>& fn);

}  // namespace ptq
