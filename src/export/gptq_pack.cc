#include "export/gptq_pack.h"

#include <ATen/ATen.h>
#include <fmt/ranges.h>

#include <cstring>
#include <vector>

#include "core/error.h"

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
  // Each output's words are packed contiguously ([N, R]) and transposed once: writing qweight [R, N] column by column
  // directly would touch a new cache line per word.
  at::Tensor qweight_t = at::zeros({N, R}, at::kInt), qzeros = at::zeros({ng, Wz}, at::kInt);
  uint32_t* qw = reinterpret_cast<uint32_t*>(qweight_t.data_ptr<int32_t>());
  uint32_t* qz = reinterpret_cast<uint32_t*>(qzeros.data_ptr<int32_t>());
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k) put_bits(qw + n * R, 1, k, b, static_cast<uint32_t>(c[n * K + k]) & mask);
  const at::Tensor qweight = qweight_t.t().contiguous();
  for (int64_t g = 0; g < ng; ++g)
    for (int64_t n = 0; n < N; ++n) {
      uint32_t v = z[n * ng + g];
      if (zeros == GptqZeros::kV1) {
        // §2.4: a v1 zero of 0 is stored as -1; vLLM reads 16, GPTQModel carries into the next nibble.
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
                  "decode differently (FORMATS.md §2.4)",
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
