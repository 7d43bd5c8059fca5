#include "export/awq_pack.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "export/transpose_words.h"

namespace ptq {

namespace {

// AutoAWQ's GEMM interleave: nibble i of a word holds output 8c + kOrder[i]; output 8c + j sits in nibble kReverse[j].
constexpr int kOrder[8] = {0, 2, 4, 6, 1, 3, 5, 7};
constexpr int kReverse[8] = {0, 4, 1, 5, 2, 6, 3, 7};

void check_4bit(const IntegerLinear& q, const char* layout) {
  PTQ_ASSERT(q.bits == 4, "AutoAWQ {} stores 4-bit codes, got {} bits", layout, q.bits);
  PTQ_ASSERT(q.codes.scalar_type() == at::kByte && q.zeros.scalar_type() == at::kByte, "codes/zeros must be uint8");
  PTQ_ASSERT(has_consecutive_groups(q), "AutoAWQ {} has no g_idx: groups must be consecutive", layout);
}

// The packed words' bits as int32 (pack in uint32, store the bits as int32: safetensors I32 is signed).
at::Tensor as_int32(const std::vector<uint32_t>& words, int64_t rows, int64_t cols) {
  at::Tensor t = at::empty({rows, cols}, at::kInt);
  std::memcpy(t.data_ptr<int32_t>(), words.data(), words.size() * sizeof(uint32_t));
  return t;
}

const uint32_t* words_of(const at::Tensor& t, const char* what) {
  PTQ_CHECK(t.scalar_type() == at::kInt && t.dim() == 2, "{} must be a 2-D int32 (I32) tensor, got {} with {} dims",
            what, c10::toString(t.scalar_type()), t.dim());
  PTQ_ASSERT(t.is_contiguous() && t.device().is_cpu(), "{} must be a contiguous CPU tensor", what);
  return reinterpret_cast<const uint32_t*>(t.data_ptr<int32_t>());
}

void check_shape(const at::Tensor& t, std::vector<int64_t> want, const char* what) {
  PTQ_CHECK(t.sizes().vec() == want, "{} has shape [{}], expected [{}]", what, fmt::join(t.sizes(), ", "),
            fmt::join(want, ", "));
}

}  // namespace

AwqTensors awq_gemm_pack(const IntegerLinear& q) {
  check_4bit(q, "GEMM");
  const int64_t N = q.out_features(), K = q.in_features(), ng = q.groups();
  PTQ_ASSERT(N % 8 == 0, "GEMM packs 8 outputs per word, N = {}", N);
  // Word (k, w) holds input k of the 8 outputs 8w.. (in kOrder). Packed output-major first, [W, K]: the loop over k
  // reads 8 code rows and writes one word row in order (it vectorises), then the words are transposed once into
  // [K, W]. Walking the [N, K] codes column-wise instead costs a cache miss per nibble.
  const at::Tensor codes = q.codes.contiguous(), zeros = q.zeros.contiguous();
  const int64_t W = N / 8;
  auto pack = [W](const uint8_t* src, int64_t L) {  // src [N, L] -> int32 [L, W]
    at::Tensor packed = at::empty({W, L}, at::kInt), out = at::empty({L, W}, at::kInt);
    uint32_t* o = reinterpret_cast<uint32_t*>(packed.data_ptr<int32_t>());
    at::parallel_for(0, W, 8, [&](int64_t w0, int64_t w1) {
      for (int64_t w = w0; w < w1; ++w) {
        const uint8_t* __restrict r[8];
        for (int i = 0; i < 8; ++i) r[i] = src + (8 * w + kOrder[i]) * L;
        uint32_t* __restrict row = o + w * L;
        for (int64_t k = 0; k < L; ++k)
          row[k] = (r[0][k] & 0xFu) | (r[1][k] & 0xFu) << 4 | (r[2][k] & 0xFu) << 8 | (r[3][k] & 0xFu) << 12 |
                   (r[4][k] & 0xFu) << 16 | (r[5][k] & 0xFu) << 20 | (r[6][k] & 0xFu) << 24 |
                   static_cast<uint32_t>(r[7][k] & 0xFu) << 28;
      }
    });
    transpose_words(o, W, L, reinterpret_cast<uint32_t*>(out.data_ptr<int32_t>()));
    return out;
  };
  return {pack(codes.data_ptr<uint8_t>(), K), pack(zeros.data_ptr<uint8_t>(), ng),
          q.scales.t().to(at::kHalf).contiguous()};
}

IntegerLinear awq_gemm_unpack(const at::Tensor& qweight, const at::Tensor& qzeros, const at::Tensor& scales,
                              int64_t group_size) {
  const uint32_t* qw = words_of(qweight, "qweight");
  const uint32_t* qz = words_of(qzeros, "qzeros");
  const int64_t K = qweight.size(0), W = qweight.size(1), N = 8 * W;
  PTQ_CHECK(group_size > 0 && K % group_size == 0, "{} input rows do not split into groups of {}", K, group_size);
  const int64_t ng = K / group_size;
  check_shape(qzeros, {ng, W}, "qzeros");
  check_shape(scales, {ng, N}, "scales");
  PTQ_CHECK(scales.scalar_type() == at::kHalf, "scales must be F16, got {}", c10::toString(scales.scalar_type()));
  IntegerLinear out;
  out.bits = 4;
  out.group_size = group_size;
  out.codes = at::empty({N, K}, at::kByte);
  out.zeros = at::empty({N, ng}, at::kByte);
  uint8_t* c = out.codes.data_ptr<uint8_t>();
  uint8_t* z = out.zeros.data_ptr<uint8_t>();
  for (int64_t n = 0; n < N; ++n) {
    const int shift = 4 * kReverse[n % 8];
    for (int64_t k = 0; k < K; ++k) c[n * K + k] = static_cast<uint8_t>((qw[k * W + n / 8] >> shift) & 0xFu);
    for (int64_t g = 0; g < ng; ++g) z[n * ng + g] = static_cast<uint8_t>((qz[g * W + n / 8] >> shift) & 0xFu);
  }
  out.scales = scales.t().to(at::kFloat).contiguous();
  out.g_idx = consecutive_g_idx(K, group_size);
  return out;
}

int64_t awq_gemv_zero_words(int64_t groups, int64_t group_size) {
  int64_t m = 0;
  if (group_size >= 128)
    m = 1;
  else if (group_size == 64)
    m = 2;
  else if (group_size == 32)
    m = 4;
  PTQ_CHECK(m > 0, "AutoAWQ GEMV implements group sizes 32, 64 and >= 128, not {}", group_size);
  const int64_t base = (groups + 7) / 8;
  return (base + m - 1) / m * m;
}

AwqTensors awq_gemv_pack(const IntegerLinear& q) {
  check_4bit(q, "GEMV");
  const int64_t N = q.out_features(), K = q.in_features(), ng = q.groups();
  PTQ_ASSERT(K % 8 == 0, "GEMV packs 8 inputs per word, K = {}", K);
  const int64_t W = K / 8, Wz = awq_gemv_zero_words(ng, q.group_size);
  const at::Tensor codes = q.codes.contiguous(), zeros = q.zeros.contiguous();
  const uint8_t* c = codes.data_ptr<uint8_t>();
  const uint8_t* z = zeros.data_ptr<uint8_t>();
  std::vector<uint32_t> qw(static_cast<size_t>(N * W)), qz(static_cast<size_t>(N * Wz), 0u);
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t w = 0; w < W; ++w) {
      uint32_t word = 0;
      for (int i = 0; i < 8; ++i) word |= (static_cast<uint32_t>(c[n * K + 8 * w + i]) & 0xFu) << (4 * i);
      qw[n * W + w] = word;
    }
    for (int64_t g = 0; g < ng; ++g)
      qz[n * Wz + g / 8] |= (static_cast<uint32_t>(z[n * ng + g]) & 0xFu) << (4 * (g % 8));
  }
  at::Tensor scales = at::zeros({N, 8 * Wz}, at::kHalf);
  scales.narrow(1, 0, ng).copy_(q.scales.to(at::kHalf));
  return {as_int32(qw, N, W), as_int32(qz, N, Wz), scales};
}

IntegerLinear awq_gemv_unpack(const at::Tensor& qweight, const at::Tensor& qzeros, const at::Tensor& scales,
                              int64_t group_size) {
  const uint32_t* qw = words_of(qweight, "qweight");
  const uint32_t* qz = words_of(qzeros, "qzeros");
  const int64_t N = qweight.size(0), W = qweight.size(1), K = 8 * W;
  PTQ_CHECK(group_size > 0 && K % group_size == 0, "{} input channels do not split into groups of {}", K, group_size);
  const int64_t ng = K / group_size, Wz = awq_gemv_zero_words(ng, group_size);
  check_shape(qzeros, {N, Wz}, "qzeros");
  check_shape(scales, {N, 8 * Wz}, "scales");
  PTQ_CHECK(scales.scalar_type() == at::kHalf, "scales must be F16, got {}", c10::toString(scales.scalar_type()));
  IntegerLinear out;
  out.bits = 4;
  out.group_size = group_size;
  out.codes = at::empty({N, K}, at::kByte);
  out.zeros = at::empty({N, ng}, at::kByte);
  uint8_t* c = out.codes.data_ptr<uint8_t>();
  uint8_t* z = out.zeros.data_ptr<uint8_t>();
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t k = 0; k < K; ++k) c[n * K + k] = static_cast<uint8_t>((qw[n * W + k / 8] >> (4 * (k % 8))) & 0xFu);
    for (int64_t w = 0; w < Wz; ++w) {
      uint32_t word = qz[n * Wz + w];
      for (int i = 0; i < 8; ++i) {
        const int64_t g = 8 * w + i;
        const uint32_t v = (word >> (4 * i)) & 0xFu;
        if (g < ng)
          z[n * ng + g] = static_cast<uint8_t>(v);
        else
          PTQ_CHECK(v == 0, "qzeros[{}][{}] nibble {} is padding (group {} of {}) but holds {}", n, w, i, g, ng, v);
      }
    }
  }
  const at::Tensor pad = scales.narrow(1, ng, 8 * Wz - ng);
  PTQ_CHECK(pad.numel() == 0 || at::equal(pad, at::zeros_like(pad)), "scales columns {}..{} are padding but not zero",
            ng, 8 * Wz - 1);
  out.scales = scales.narrow(1, 0, ng).to(at::kFloat).contiguous();
  out.g_idx = consecutive_g_idx(K, group_size);
  return out;
}

}  // namespace ptq
