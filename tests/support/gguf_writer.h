// A small GGUF writer for tests: rewrites metadata (types inferred from JSON values) and F32/F16 tensors or raw
// blocks of any ggml type, so the reader can be exercised on F16 and quantized files and on versions the shared data
// does not ship.
#pragma once

#include <ATen/core/Tensor.h>

#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

namespace ptq::test {

// metadata: key -> value; integers are written as u32 (i32 when negative), other numbers as f32, booleans as bool,
// strings as string, arrays of strings / integers / numbers as typed arrays. tensors: F32 or F16, written in the
// given order with 32-byte alignment. version: 2 or 3.
void write_gguf(const std::string& path, uint32_t version, const std::vector<std::pair<std::string, nlohmann::json>>& metadata,
                const std::vector<std::pair<std::string, at::Tensor>>& tensors);

// A tensor given as stored bytes of any ggml type (e.g. quantized blocks); shape outermost first.
struct GgufRawTensor {
  std::string name;
  uint32_t ggml_type = 0;
  std::vector<int64_t> shape;
  std::string bytes;
};
void write_gguf_raw(const std::string& path, uint32_t version,
                    const std::vector<std::pair<std::string, nlohmann::json>>& metadata,
                    const std::vector<GgufRawTensor>& tensors);

}  // namespace ptq::test
