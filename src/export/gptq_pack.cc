#include "export/gptq_pack.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <vector>

#include "core/error.h"
#include "export/transpose_words.h"

namespace ptq {

namespace {

// Writes value i of `count` b-bit values into a little-endian stream of 32-bit words spaced `stride` apart.
void put_bits(uint32_t* words, int64_t stride, int64_t i, int bits, uint32_t value) {
  const int64_t pos = i * bits, w = pos / 32;
  const int off = static_cast<int>(pos % 32);
  words[w * stride] |= value << off;
  if (off + bits > 32) words[(w + 1) * stride] |= value >> (32 - off);
}

uint32_t get_bits(const uint32_t* words, int64_t stride, int64_t i, int bits) {
  const int64_t pos = i * bits, w = pos / 32;
  const int off = static_cast<int>(pos % 32);
  uint32_t v = words[w * stride] >> off;
  if (off + bits > 32) v |= words[(w + 1) * stride] << (32 - off);
  return v & ((1u << bits) - 1u);
}

// The 8 bytes of x (codes, masked to b bits here) as 8 b-bit values, byte j at bits [b j, b j + b): three rounds that
// each merge neighbouring lanes, instead of 8 shifts per value.
inline uint64_t compress8(uint64_t x, int b) {
  x &= ((uint64_t{1} << b) - 1) * 0x0101010101010101ull;
  x = (x | (x >> (8 - b))) & (((uint64_t{1} << (2 * b)) - 1) * 0x0001000100010001ull);
  x = (x | (x >> (16 - 2 * b))) & (((uint64_t{1} << (4 * b)) - 1) * 0x0000000100000001ull);
  x = x | (x >> (32 - 4 * b));
  return b == 8 ? x : x & ((uint64_t{1} << (8 * b)) - 1);
}

inline uint64_t load8(const uint8_t* p) {
  uint64_t x;
  std::memcpy(&x, p, 8);  // little-endian hosts only (checked in gptq_pack): byte j is code j
  return x;
}

// One output's codes c[0..K-1] as its b-bit stream of R = K b / 32 words: 32 codes (b words) at a time from four
// 8-byte loads, the tail (K not a multiple of 32) value by value.
void pack_stream(const uint8_t* c, int64_t K, int b, uint32_t* out) {
  int64_t k = 0, w = 0;
#if defined(__SSE2__)
  if (b == 4) {  // 32 codes in two 16-byte loads: nibble pairs merged per 16-bit lane, then narrowed to bytes
    const __m128i low4 = _mm_set1_epi8(0x0F), low8 = _mm_set1_epi16(0x00FF);
    for (; k + 32 <= K; k += 32, w += 4) {
      __m128i a = _mm_and_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(c + k)), low4);
      __m128i d = _mm_and_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(c + k + 16)), low4);
      a = _mm_and_si128(_mm_or_si128(a, _mm_srli_epi16(a, 4)), low8);
      d = _mm_and_si128(_mm_or_si128(d, _mm_srli_epi16(d, 4)), low8);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + w), _mm_packus_epi16(a, d));
    }
  }
#endif
  for (; k + 32 <= K; k += 32, w += b) {
    const uint64_t a = compress8(load8(c + k), b), bb = compress8(load8(c + k + 8), b),
                   cc = compress8(load8(c + k + 16), b), d = compress8(load8(c + k + 24), b);
    switch (b) {
      case 2:
        out[w] = static_cast<uint32_t>(a | bb << 16);
        out[w + 1] = static_cast<uint32_t>(cc | d << 16);
        break;
      case 3:
        out[w] = static_cast<uint32_t>(a | bb << 24);
        out[w + 1] = static_cast<uint32_t>(bb >> 8 | cc << 16);
        out[w + 2] = static_cast<uint32_t>(cc >> 16 | d << 8);
        break;
      case 4:
        out[w] = static_cast<uint32_t>(a);
        out[w + 1] = static_cast<uint32_t>(bb);
        out[w + 2] = static_cast<uint32_t>(cc);
        out[w + 3] = static_cast<uint32_t>(d);
        break;
      default:  // 8
        for (int i = 0; i < 2; ++i) {
          out[w + i] = static_cast<uint32_t>(a >> (32 * i));
          out[w + 2 + i] = static_cast<uint32_t>(bb >> (32 * i));
          out[w + 4 + i] = static_cast<uint32_t>(cc >> (32 * i));
          out[w + 6 + i] = static_cast<uint32_t>(d >> (32 * i));
        }
    }
  }
  const uint32_t mask = (1u << b) - 1u;
  if (k < K) std::memset(out + w, 0, static_cast<size_t>(K * b / 32 - w) * sizeof(uint32_t));
  for (; k < K; ++k) put_bits(out, 1, k, b, static_cast<uint32_t>(c[k]) & mask);
}

void check_bits(int bits) {
  PTQ_CHECK(bits == 2 || bits == 3 || bits == 4 || bits == 8, "GPTQ stores 2, 3, 4 or 8-bit codes, not {}", bits);
}

const uint32_t* words_of(const at::Tensor& t, const char* what) {
  PTQ_CHECK(t.scalar_type() == at::kInt && t.dim() == 2, "{} must be a 2-D int32 (I32) tensor, got {} with {} dims",
            what, c10::toString(t.scalar_type()), t.dim());
  PTQ_ASSERT(t.is_contiguous() && t.device().is_cpu(), "{} must be a contiguous CPU tensor", what);
  return reinterpret_cast<const uint32_t*>(t.data_ptr<int32_t>());
}

}  // namespace

GptqTensors gptq_pack(const IntegerLinear& q, GptqZeros zeros) {
  check_bits(q.bits);
  PTQ_ASSERT(q.codes.scalar_type() == at::kByte && q.zeros.scalar_type() == at::kByte, "codes/zeros must be uint8");
  const int b = q.bits;
  const uint32_t mask = (1u << b) - 1u;
  const int64_t N = q.out_features(), K = q.in_features(), ng = q.groups();
  PTQ_ASSERT(K * b % 32 == 0 && N * b % 32 == 0, "K = {} and N = {} must fill whole words at {} bits", K, N, b);
  const int64_t R = K * b / 32, Wz = N * b / 32;
  const at::Tensor codes = q.codes.contiguous(), zs = q.zeros.contiguous();
  const uint8_t* c = codes.data_ptr<uint8_t>();
  const uint8_t* z = zs.data_ptr<uint8_t>();
  // Each output's stream is packed in order into [N, R] (sequential reads and writes), then the words are
  // transposed once into qweight [R, N]: writing [R, N] directly touches a new cache line per word.
  at::Tensor qweight_t = at::empty({N, R}, at::kInt), qweight = at::empty({R, N}, at::kInt);
  at::Tensor qzeros = at::zeros({ng, Wz}, at::kInt);
  uint32_t* qw = reinterpret_cast<uint32_t*>(qweight_t.data_ptr<int32_t>());
  uint32_t* qz = reinterpret_cast<uint32_t*>(qzeros.data_ptr<int32_t>());
  static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "pack_stream reads codes as little-endian words");
  at::parallel_for(0, N, 16, [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) pack_stream(c + n * K, K, b, qw + n * R);
  });
  transpose_words(qw, N, R, reinterpret_cast<uint32_t*>(qweight.data_ptr<int32_t>()));
  for (int64_t g = 0; g < ng; ++g)
    for (int64_t n = 0; n < N; ++n) {
      uint32_t v = z[n * ng + g];
      if (zeros == GptqZeros::kV1) {
        // A v1 zero of 0 is stored as -1; vLLM reads 16, GPTQModel carries into the next nibble.
        PTQ_CHECK(v >= 1,
                  "output {} group {} has zero point 0, which GPTQ v1 (checkpoint_format \"gptq\") stores as "
                  "-1 and readers decode differently; export with gptq_v2 or symmetric weights",
                  n, g);
        v -= 1;
      }
      put_bits(qz + g * Wz, 1, n, b, v & mask);
    }
  return {qweight, qzeros, q.scales.t().to(at::kHalf).contiguous(), q.g_idx.to(at::kInt).contiguous()};
}

IntegerLinear gptq_unpack(const at::Tensor& qweight, const at::Tensor& qzeros, const at::Tensor& scales,
                          const at::Tensor& g_idx, int bits, GptqZeros zeros) {
  check_bits(bits);
  const int b = bits;
  const uint32_t* qw = words_of(qweight, "qweight");
  const uint32_t* qz = words_of(qzeros, "qzeros");
  const int64_t R = qweight.size(0), N = qweight.size(1), K = R * 32 / b;
  PTQ_CHECK(R * 32 % b == 0, "qweight has {} rows, not a whole number of {}-bit rows", R, b);
  PTQ_CHECK(N * b % 32 == 0, "{} outputs do not fill whole qzeros words at {} bits", N, b);
  const int64_t ng = qzeros.size(0), Wz = N * b / 32;
  PTQ_CHECK(qzeros.size(1) == Wz, "qzeros has {} columns, expected {} for {} outputs", qzeros.size(1), Wz, N);
  PTQ_CHECK(scales.scalar_type() == at::kHalf, "scales must be F16, got {}", c10::toString(scales.scalar_type()));
  PTQ_CHECK(scales.sizes().vec() == std::vector<int64_t>({ng, N}), "scales has shape [{}], expected [{}, {}]",
            fmt::join(scales.sizes(), ", "), ng, N);
  PTQ_CHECK(g_idx.dim() == 1 && g_idx.numel() == K, "g_idx must have {} entries, has {}", K, g_idx.numel());
  PTQ_CHECK(ng > 0 && K % ng == 0, "{} input channels do not split into {} equal groups", K, ng);
  const at::Tensor gi = g_idx.to(at::kInt).contiguous();
  PTQ_CHECK(gi.min().item<int>() >= 0 && gi.max().item<int>() < ng, "g_idx values must lie in [0, {}]", ng - 1);

  IntegerLinear out;
  out.bits = b;
  out.group_size = K / ng;
  out.codes = at::empty({N, K}, at::kByte);
  out.zeros = at::empty({N, ng}, at::kByte);
  uint8_t* c = out.codes.data_ptr<uint8_t>();
  uint8_t* z = out.zeros.data_ptr<uint8_t>();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k) c[n * K + k] = static_cast<uint8_t>(get_bits(qw + n, N, k, b));
  const uint32_t maxq = (1u << b) - 1u;
  for (int64_t g = 0; g < ng; ++g)
    for (int64_t n = 0; n < N; ++n) {
      uint32_t v = get_bits(qz + g * Wz, 1, n, b);
      if (zeros == GptqZeros::kV1) {
        PTQ_CHECK(v != maxq,
                  "qzeros group {} output {}: stored {} is a v1 zero of 0 written as -1, which readers "
                  "decode differently (docs/formats.md, GPTQ zero points)",
                  g, n, v);
        v += 1;
      }
      z[n * ng + g] = static_cast<uint8_t>(v);
    }
  out.scales = scales.t().to(at::kFloat).contiguous();
  out.g_idx = gi;
  return out;
}

}  // namespace ptq
