// Transpose of a matrix of 32-bit words, for the packers (AutoAWQ GEMM and GPTQ both store their words input-major,
// [K, N/8] and [K b/32, N], while the codes arrive output-major): each output's words are packed in order first and
// the whole matrix transposed once.
#pragma once

#include <cstdint>

namespace ptq {

// dst[c * rows + r] = src[r * cols + c] for r < rows, c < cols; src and dst do not overlap. 32 x 32 tiles of 4 x 4
// register transposes (SSE2 where available): ATen's generic transposing copy runs element by element.
void transpose_words(const uint32_t* src, int64_t rows, int64_t cols, uint32_t* dst);

}  // namespace ptq
