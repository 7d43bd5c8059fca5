#include "export/transpose_words.h"

#include <ATen/Parallel.h>

#include <algorithm>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace ptq {

namespace {

constexpr int64_t kTile = 32;  // 32 x 32 words: source and destination lines of one tile stay in L1

void transpose_tile(const uint32_t* src, int64_t cols, int64_t rows, int64_t r0, int64_t r1, int64_t c0, int64_t c1,
                    uint32_t* dst) {
  int64_t r = r0;
#if defined(__SSE2__)
  for (; r + 4 <= r1; r += 4) {
    int64_t c = c0;
    for (; c + 4 <= c1; c += 4) {
      const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + r * cols + c));
      const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + (r + 1) * cols + c));
      const __m128i d = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + (r + 2) * cols + c));
      const __m128i e = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + (r + 3) * cols + c));
      const __m128i ab_lo = _mm_unpacklo_epi32(a, b), ab_hi = _mm_unpackhi_epi32(a, b);
      const __m128i de_lo = _mm_unpacklo_epi32(d, e), de_hi = _mm_unpackhi_epi32(d, e);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + c * rows + r), _mm_unpacklo_epi64(ab_lo, de_lo));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + (c + 1) * rows + r), _mm_unpackhi_epi64(ab_lo, de_lo));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + (c + 2) * rows + r), _mm_unpacklo_epi64(ab_hi, de_hi));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + (c + 3) * rows + r), _mm_unpackhi_epi64(ab_hi, de_hi));
    }
    for (; c < c1; ++c)
      for (int64_t i = 0; i < 4; ++i) dst[c * rows + r + i] = src[(r + i) * cols + c];
  }
#endif
  for (; r < r1; ++r)
    for (int64_t c = c0; c < c1; ++c) dst[c * rows + r] = src[r * cols + c];
}

}  // namespace

void transpose_words(const uint32_t* src, int64_t rows, int64_t cols, uint32_t* dst) {
  at::parallel_for(0, (rows + kTile - 1) / kTile, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t r0 = t * kTile, r1 = std::min(rows, r0 + kTile);
      for (int64_t c0 = 0; c0 < cols; c0 += kTile) transpose_tile(src, cols, rows, r0, r1, c0, std::min(cols, c0 + kTile), dst);
    }
  });
}

}  // namespace ptq
