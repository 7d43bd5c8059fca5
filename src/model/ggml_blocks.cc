#include "model/ggml_blocks.h"

#include <c10/util/Half.h>

#include <cstring>

#include "core/error.h"

namespace ptq {

namespace {

constexpr int64_t kQK = 256;  // values per K-quant super-block

float f16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return c10::detail::fp16_ieee_to_fp32_value(h);
}

// Blocks of 32: Q4_0 {f16 d; u8 qs[16]}, Q4_1 {d, m; qs[16]}, Q5_0 {d; u32 qh; qs[16]}, Q5_1 {d, m; qh; qs[16]},
// Q8_0 {d; i8 qs[32]}. Value j < 16 takes the low nibble of qs[j], value j + 16 the high one; Q5's fifth bit j is
// bit j of qh. Symmetric types subtract the midpoint (8, 16) and scale; asymmetric ones compute q * d + m.
void q4_0(const uint8_t* b, float* y) {
  const float d = f16(b);
  const uint8_t* qs = b + 2;
  for (int j = 0; j < 16; ++j) {
    y[j] = static_cast<float>((qs[j] & 0x0F) - 8) * d;
    y[j + 16] = static_cast<float>((qs[j] >> 4) - 8) * d;
  }
}

void q4_1(const uint8_t* b, float* y) {
  const float d = f16(b), m = f16(b + 2);
  const uint8_t* qs = b + 4;
  for (int j = 0; j < 16; ++j) {
    y[j] = static_cast<float>(qs[j] & 0x0F) * d + m;
    y[j + 16] = static_cast<float>(qs[j] >> 4) * d + m;
  }
}

uint32_t u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

void q5_0(const uint8_t* b, float* y) {
  const float d = f16(b);
  const uint32_t qh = u32(b + 2);
  const uint8_t* qs = b + 6;
  for (int j = 0; j < 16; ++j) {
    const int lo = (qs[j] & 0x0F) | static_cast<int>(((qh >> j) & 1u) << 4);
    const int hi = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
    y[j] = static_cast<float>(lo - 16) * d;
    y[j + 16] = static_cast<float>(hi - 16) * d;
  }
}

void q5_1(const uint8_t* b, float* y) {
  const float d = f16(b), m = f16(b + 2);
  const uint32_t qh = u32(b + 4);
  const uint8_t* qs = b + 8;
  for (int j = 0; j < 16; ++j) {
    const int lo = (qs[j] & 0x0F) | static_cast<int>(((qh >> j) & 1u) << 4);
    const int hi = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
    y[j] = static_cast<float>(lo) * d + m;
    y[j + 16] = static_cast<float>(hi) * d + m;
  }
}

void q8_0(const uint8_t* b, float* y) {
  const float d = f16(b);
  const auto* qs = reinterpret_cast<const int8_t*>(b + 2);
  for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(qs[j]) * d;
}

// Super-blocks of 256 values in 16 sub-blocks of 16 (Q2_K, Q3_K, Q6_K) or 8 of 32 (Q4_K, Q5_K). Low bits are laid out
// in runs of 128 values: Q2_K/Q3_K take 2-bit fields (shift 0, 2, 4, 6) of 32 bytes per run; Q4_K/Q5_K nibbles of 32
// bytes per pair of sub-blocks.

// Q2_K {u8 scales[16] (low nibble scale, high nibble min); u8 qs[64]; f16 d; f16 dmin}: y = d*sc * q - dmin*m.
void q2_k(const uint8_t* b, float* y) {
  const uint8_t* scales = b;
  const uint8_t* q = b + 16;
  const float d = f16(b + 80), dmin = f16(b + 82);
  int is = 0;
  for (int n = 0; n < kQK; n += 128) {
    for (int shift = 0; shift < 8; shift += 2) {
      for (int half = 0; half < 2; ++half) {
        const uint8_t sc = scales[is++];
        const float dl = d * static_cast<float>(sc & 0x0F), ml = dmin * static_cast<float>(sc >> 4);
        for (int l = 0; l < 16; ++l) *y++ = dl * static_cast<float>((q[half * 16 + l] >> shift) & 3) - ml;
      }
    }
    q += 32;
  }
}

// Q3_K {u8 hmask[32]; u8 qs[64]; u8 scales[12] (16 six-bit scales, offset 32); f16 d}: y = d*(sc-32) * (q - 4*!h),
// where h is bit (run*4 + shift/2) of hmask[l].
void q3_k(const uint8_t* b, float* y) {
  const uint8_t* hm = b;
  const uint8_t* q = b + 32;
  const uint8_t* s = b + 96;
  const float d = f16(b + 108);
  int8_t sc[16];
  for (int i = 0; i < 16; ++i) {
    const int low = i < 8 ? (s[i] & 0x0F) : (s[i - 8] >> 4);
    const int high = (s[8 + i % 4] >> (2 * (i / 4))) & 3;
    sc[i] = static_cast<int8_t>((low | (high << 4)) - 32);
  }
  int is = 0;
  uint8_t m = 1;
  for (int n = 0; n < kQK; n += 128) {
    for (int shift = 0; shift < 8; shift += 2) {
      for (int half = 0; half < 2; ++half) {
        const float dl = d * static_cast<float>(sc[is++]);
        for (int l = half * 16; l < half * 16 + 16; ++l) {
          const int v = ((q[l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4);
          *y++ = dl * static_cast<float>(v);
        }
      }
      m = static_cast<uint8_t>(m << 1);
    }
    q += 32;
  }
}

// The 8 six-bit (scale, min) pairs of Q4_K/Q5_K packed in 12 bytes.
void scale_min_k4(int j, const uint8_t* s, uint8_t& sc, uint8_t& m) {
  if (j < 4) {
    sc = s[j] & 63;
    m = s[j + 4] & 63;
  } else {
    sc = static_cast<uint8_t>((s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4));
    m = static_cast<uint8_t>((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
  }
}

// Q4_K {f16 d; f16 dmin; u8 scales[12]; u8 qs[128]} and Q5_K {..., u8 qh[32], u8 qs[128]}: y = d*sc * q - dmin*m;
// Q5_K's fifth bit of sub-block i is bit i of qh[l].
void q4_5_k(const uint8_t* b, float* y, bool five) {
  const float d = f16(b), dmin = f16(b + 2);
  const uint8_t* s = b + 4;
  const uint8_t* qh = b + 16;
  const uint8_t* ql = five ? b + 48 : b + 16;
  for (int j = 0; j < 4; ++j) {
    for (int nib = 0; nib < 2; ++nib) {
      const int sub = 2 * j + nib;
      uint8_t sc, m;
      scale_min_k4(sub, s, sc, m);
      const float d1 = d * static_cast<float>(sc), m1 = dmin * static_cast<float>(m);
      for (int l = 0; l < 32; ++l) {
        int q = nib ? (ql[l] >> 4) : (ql[l] & 0x0F);
        if (five && (qh[l] >> sub) & 1) q += 16;
        *y++ = d1 * static_cast<float>(q) - m1;
      }
    }
    ql += 32;
  }
}

// Q6_K {u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d}: per run of 128, value l + 32k takes the low (k = 0, 1) or high
// (k = 2, 3) nibble of ql[l + 32*(k%2)] and bits 2k..2k+1 of qh[l]; y = d*sc * (q - 32).
void q6_k(const uint8_t* b, float* y) {
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const auto* sc = reinterpret_cast<const int8_t*>(b + 192);
  const float d = f16(b + 208);
  for (int n = 0; n < kQK; n += 128) {
    for (int l = 0; l < 32; ++l) {
      const int is = l / 16;
      const int q1 = ((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32;
      const int q2 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
      const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      y[l] = d * static_cast<float>(sc[is]) * static_cast<float>(q1);
      y[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
      y[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
      y[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
    }
    y += 128;
    ql += 64;
    qh += 32;
    sc += 8;
  }
}

constexpr GgmlType kTypes[] = {
    {0, "F32", 1, 4, false},      {1, "F16", 1, 2, false},       {2, "Q4_0", 32, 18, true},
    {3, "Q4_1", 32, 20, true},    {6, "Q5_0", 32, 22, true},     {7, "Q5_1", 32, 24, true},
    {8, "Q8_0", 32, 34, true},    {10, "Q2_K", kQK, 84, true},   {11, "Q3_K", kQK, 110, true},
    {12, "Q4_K", kQK, 144, true}, {13, "Q5_K", kQK, 176, true},  {14, "Q6_K", kQK, 210, true},
    {30, "BF16", 1, 2, false},
};

}  // namespace

const GgmlType* ggml_type(uint32_t id) {
  for (const auto& t : kTypes)
    if (t.id == id) return &t;
  return nullptr;
}

void ggml_dequantize(const GgmlType& t, const uint8_t* src, int64_t n_blocks, float* dst) {
  void (*one)(const uint8_t*, float*) = nullptr;
  switch (t.id) {
    case 2: one = q4_0; break;
    case 3: one = q4_1; break;
    case 6: one = q5_0; break;
    case 7: one = q5_1; break;
    case 8: one = q8_0; break;
    case 10: one = q2_k; break;
    case 11: one = q3_k; break;
    case 12: one = [](const uint8_t* b, float* y) { q4_5_k(b, y, false); }; break;
    case 13: one = [](const uint8_t* b, float* y) { q4_5_k(b, y, true); }; break;
    case 14: one = q6_k; break;
    default: PTQ_FAIL("ggml type {} ({}) is not a quantized block type", t.name, t.id);
  }
  for (int64_t i = 0; i < n_blocks; ++i) one(src + i * t.block_bytes, dst + i * t.block_elems);
}

}  // namespace ptq
