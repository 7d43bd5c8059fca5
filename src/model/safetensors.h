// safetensors files (docs/formats.md): [u64 LE header length N][N bytes JSON header, space padded][data].
// Header entries: "name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, offsets relative to the
// data start, end exclusive; optional "__metadata__": {string: string}.
// The reader maps the file and checks everything the reference reader checks: N within the file, valid JSON, known
// dtypes, end - begin == numel * itemsize, tensors tiling the data contiguously from 0 with no gaps or overlaps, and
// the data ending exactly at the end of the file. Each failure names the file and the tensor.
#pragma once

#include <ATen/core/Tensor.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ptq {

class MappedFile;

struct SafetensorsEntry {
  std::string name;
  std::string dtype;              // as written: "F32", "BF16", ...
  at::ScalarType scalar_type;     // LibTorch equivalent
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;    // byte offsets relative to the data start
};

class SafetensorsFile {
 public:
  static SafetensorsFile open(const std::string& path);
  // The same checks over a file already mapped or in memory (MappedFile::from_bytes); errors name file->path().
  static SafetensorsFile open(std::shared_ptr<const MappedFile> file);

  const std::string& path() const;
  // Entries in file order (ascending offsets).
  const std::vector<SafetensorsEntry>& entries() const { return entries_; }
  const SafetensorsEntry* find(std::string_view name) const;
  // An owning CPU tensor with the stored dtype and shape (copied out of the mapping, so it may be modified).
  at::Tensor load(std::string_view name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  std::shared_ptr<const MappedFile> file_;
  uint64_t data_start_ = 0;
  std::vector<SafetensorsEntry> entries_;
  std::map<std::string, size_t, std::less<>> index_;
  std::map<std::string, std::string> metadata_;
};

// Writes `tensors` (any device/layout; stored contiguous, little-endian, in their dtype) in the given order, header
// padded with spaces to a multiple of 8 bytes, `metadata` as "__metadata__" (always including "format": "pt").
// Written to a temporary file in the same directory and renamed, so a crash never leaves a half-written file.
void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                       std::map<std::string, std::string> metadata = {});

// safetensors dtype name <-> LibTorch dtype. Throws naming the dtype when there is no equivalent.
at::ScalarType scalar_type_from_safetensors(std::string_view dtype);
std::string safetensors_dtype_name(at::ScalarType t);

}  // namespace ptq
