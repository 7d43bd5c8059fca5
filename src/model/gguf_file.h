// GGUF files (v1, v2, v3; little-endian): "GGUF", u32 version, tensor and key-value counts (u32 in v1, u64 after),
// key-value metadata (typed values, arrays), tensor infos (name, dims innermost first, ggml type, offset), padding to
// general.alignment (default 32), then tensor data. Every offset and length is checked against the file size.
// F32, F16 and BF16 tensors load as stored; the block-quantized types of model/ggml_blocks.h load dequantized to
// float32.
#pragma once

#include <ATen/core/Tensor.h>

#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace ptq {

class MappedFile;

struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> shape;  // LibTorch order (outermost first): the reverse of GGUF's dims
  uint32_t ggml_type = 0;
  uint64_t offset = 0;  // relative to the data section
  uint64_t bytes = 0;
};

class GgufFile {
 public:
  static GgufFile open(const std::string& path);
  // The same checks over a file already mapped or in memory (MappedFile::from_bytes); errors name file->path().
  static GgufFile open(std::shared_ptr<const MappedFile> file);

  const std::string& path() const;
  uint32_t version() const { return version_; }
  // Metadata values as JSON (integers, floats, bools, strings, arrays).
  const nlohmann::json& metadata() const { return metadata_; }
  bool has_key(const std::string& key) const { return metadata_.contains(key); }
  // Throws naming the file and the key when absent or of another type.
  int64_t get_int(const std::string& key) const;
  double get_float(const std::string& key) const;
  std::string get_string(const std::string& key) const;
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* find(const std::string& name) const;
  // An owning CPU tensor: F32/F16/BF16 as stored, quantized types dequantized to float32.
  at::Tensor load(const std::string& name) const;

 private:
  std::shared_ptr<const MappedFile> file_;
  uint32_t version_ = 0;
  uint64_t data_start_ = 0;
  nlohmann::json metadata_ = nlohmann::json::object();
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t> index_;
};

}  // namespace ptq
