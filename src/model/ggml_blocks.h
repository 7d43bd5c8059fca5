// ggml tensor types as GGUF stores them: plain floats (F32, F16, BF16) and the block-quantized types whose values
// llama.cpp's reference dequantize_row_* functions define (docs/formats.md, "GGUF quantized blocks"). A row of a
// block type is a whole number of blocks, each block_elems values in block_bytes bytes.
#pragma once

#include <cstdint>

namespace ptq {

struct GgmlType {
  uint32_t id;
  const char* name;
  int64_t block_elems;  // values per block (1 for plain floats)
  int64_t block_bytes;  // bytes per block
  bool quantized;       // loads as float32 through ggml_dequantize
};

// The type with ggml id `id`, or nullptr when ptq does not know it (the caller names the id in its error).
const GgmlType* ggml_type(uint32_t id);

// Dequantizes n_blocks consecutive blocks of quantized type `t` from src (n_blocks * t.block_bytes bytes) into dst
// (n_blocks * t.block_elems float32 values), bit for bit as the reference does (products in float32, in the
// reference's order; this file is built without floating-point contraction).
void ggml_dequantize(const GgmlType& t, const uint8_t* src, int64_t n_blocks, float* dst);

}  // namespace ptq
