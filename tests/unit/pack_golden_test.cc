// The packers against the worked 8x8 int4 example of docs/formats.md (every hex word there was produced by AutoAWQ's
// and AutoGPTQ's own packers), round trips at every supported bit width, the zero encodings (symmetric AutoAWQ
// 0x88888888, GPTQ v1 minus one and its refusal of a zero of 0) and the shape constraints of each export target
// (export_target.h).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "export/awq_pack.h"
#include "export/export_target.h"
#include "export/gptq_pack.h"
#include "export/integer_linear.h"

namespace ptq {
namespace {

// The worked example: K = N = 8, G = 8; Q[o][i] = (2o + i) mod 16, z[o] = o + 1, s[o] = 0.125 (o + 1). Rows repeat with
// period 8 when N or K is larger (the GEMV check uses K = N = 32, G = 32).
IntegerLinear worked_example(int64_t n = 8, int64_t k = 8, int64_t g = 8) {
  IntegerLinear q;
  q.bits = 4;
  q.group_size = g;
  q.codes = at::empty({n, k}, at::kByte);
  q.zeros = at::empty({n, k / g}, at::kByte);
  q.scales = at::empty({n, k / g}, at::kFloat);
  for (int64_t o = 0; o < n; ++o) {
    for (int64_t i = 0; i < k; ++i) q.codes[o][i] = static_cast<uint8_t>((2 * o + i) % 16);
    for (int64_t j = 0; j < k / g; ++j) {
      q.zeros[o][j] = static_cast<uint8_t>(o % 8 + 1);
      q.scales[o][j] = 0.125f * static_cast<float>(o % 8 + 1);
    }
  }
  q.g_idx = consecutive_g_idx(k, g);
  return q;
}

int32_t word(uint32_t bits) {
  int32_t w;
  std::memcpy(&w, &bits, sizeof w);
  return w;
}

std::vector<int32_t> values(const at::Tensor& t) {
  const at::Tensor c = t.contiguous();
  return std::vector<int32_t>(c.data_ptr<int32_t>(), c.data_ptr<int32_t>() + c.numel());
}

std::vector<uint8_t> bytes_of(const at::Tensor& t) {
  const at::Tensor c = t.contiguous();
  const auto* p = static_cast<const uint8_t*>(c.data_ptr());
  return std::vector<uint8_t>(p, p + c.nbytes());
}

// The example's GPTQ qweight words: word n packs Q[n][0..7] in natural nibble order.
const uint32_t kGptqColumnWords[8] = {0x76543210, 0x98765432, 0xBA987654, 0xDCBA9876,
                                      0xFEDCBA98, 0x10FEDCBA, 0x3210FEDC, 0x543210FE};

TEST(PackGolden, AwqGemmWorkedExample) {
  const AwqTensors a = awq_gemm_pack(worked_example());
  ASSERT_EQ(a.qweight.sizes(), (std::vector<int64_t>{8, 1}));
  const std::vector<int32_t> want = {word(0xEA62C840), word(0xFB73D951), word(0x0C84EA62), word(0x1D95FB73),
                                     word(0x2EA60C84), word(0x3FB71D95), word(0x40C82EA6), word(0x51D93FB7)};
  EXPECT_EQ(values(a.qweight), want);
  EXPECT_EQ(values(a.qweight)[0], -362624960);  // the stored int32 docs/formats.md lists
  EXPECT_EQ(bytes_of(a.qweight.narrow(0, 0, 1)), (std::vector<uint8_t>{0x40, 0xC8, 0x62, 0xEA}));  // on disk
  ASSERT_EQ(a.qzeros.sizes(), (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(values(a.qzeros)[0], word(0x86427531));
  EXPECT_EQ(values(a.qzeros)[0], -2042464975);
  ASSERT_EQ(a.scales.sizes(), (std::vector<int64_t>{1, 8}));
  EXPECT_EQ(a.scales.scalar_type(), at::kHalf);
  EXPECT_EQ(bytes_of(a.scales), (std::vector<uint8_t>{0x00, 0x30, 0x00, 0x34, 0x00, 0x36, 0x00, 0x38, 0x00, 0x39, 0x00,
                                                      0x3a, 0x00, 0x3b, 0x00, 0x3c}));
  // Unpacking and undoing the interleave gives the codes back (as AutoAWQ's unpack_awq + reverse_awq_order).
  const IntegerLinear back = awq_gemm_unpack(a.qweight, a.qzeros, a.scales, 8);
  const IntegerLinear ref = worked_example();
  EXPECT_TRUE(at::equal(back.codes, ref.codes));
  EXPECT_TRUE(at::equal(back.zeros, ref.zeros));
  EXPECT_TRUE(at::equal(back.scales, ref.scales));
  EXPECT_TRUE(at::equal(dequantize_integer_linear(back), dequantize_integer_linear(ref)));
}

TEST(PackGolden, GptqWorkedExampleV1AndV2) {
  const GptqTensors g1 = gptq_pack(worked_example(), GptqZeros::kV1);
  ASSERT_EQ(g1.qweight.sizes(), (std::vector<int64_t>{1, 8}));
  std::vector<int32_t> want;
  for (uint32_t w : kGptqColumnWords) want.push_back(word(w));
  EXPECT_EQ(values(g1.qweight), want);
  EXPECT_EQ(values(g1.qweight)[0], 1985229328);
  EXPECT_EQ(values(g1.qweight)[1], -1737075662);
  ASSERT_EQ(g1.qzeros.sizes(), (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(values(g1.qzeros)[0], word(0x76543210));                                 // v1: z - 1 = [0..7]
  EXPECT_EQ(bytes_of(g1.scales), bytes_of(awq_gemm_pack(worked_example()).scales));  // both [ng, N] fp16
  EXPECT_EQ(values(g1.g_idx), std::vector<int32_t>(8, 0));
  const GptqTensors g2 = gptq_pack(worked_example(), GptqZeros::kV2);
  EXPECT_EQ(values(g2.qweight), want);
  EXPECT_EQ(values(g2.qzeros)[0], word(0x87654321));  // v2: z = [1..8]
  for (GptqZeros v : {GptqZeros::kV1, GptqZeros::kV2}) {
    const GptqTensors g = v == GptqZeros::kV1 ? g1 : g2;
    const IntegerLinear back = gptq_unpack(g.qweight, g.qzeros, g.scales, g.g_idx, 4, v);
    EXPECT_TRUE(at::equal(back.codes, worked_example().codes));
    EXPECT_TRUE(at::equal(back.zeros, worked_example().zeros));
  }
  // Symmetric: every zero 8, stored 7 in v1 (0x77777777: every GPTQ reader decodes it alike).
  IntegerLinear sym = worked_example();
  sym.zeros.fill_(8);
  EXPECT_EQ(values(gptq_pack(sym, GptqZeros::kV1).qzeros)[0], word(0x77777777));
  EXPECT_EQ(values(gptq_pack(sym, GptqZeros::kV1).qzeros)[0], 2004318071);
}

// GEMV at K = N = 32, G = 32 (a case checked with AutoAWQ's GEMV packer): word [n][j] holds Q[n][8j..8j+7] in natural
// order, which are the example's GPTQ column words; one group, so only nibble 0 of qzeros word 0 and scales column 0
// are used.
TEST(PackGolden, AwqGemvWorkedExample) {
  const AwqTensors a = awq_gemv_pack(worked_example(32, 32, 32));
  ASSERT_EQ(a.qweight.sizes(), (std::vector<int64_t>{32, 4}));
  ASSERT_EQ(a.qzeros.sizes(), (std::vector<int64_t>{32, 4}));
  ASSERT_EQ(a.scales.sizes(), (std::vector<int64_t>{32, 32}));
  const auto qw = values(a.qweight), qz = values(a.qzeros);
  for (int64_t n = 0; n < 32; ++n) {
    for (int64_t j = 0; j < 4; ++j) {
      // Q[n][8j + i] = (2n + 8j + i) mod 16 = Q[(n + 4j) mod 8][i].
      EXPECT_EQ(qw[n * 4 + j], word(kGptqColumnWords[(n + 4 * j) % 8])) << n << " " << j;
      EXPECT_EQ(qz[n * 4 + j], j == 0 ? n % 8 + 1 : 0) << n << " " << j;
    }
    EXPECT_EQ(a.scales[n][0].item<float>(), 0.125f * static_cast<float>(n % 8 + 1));
    EXPECT_EQ(a.scales[n].narrow(0, 1, 31).abs().sum().item<float>(), 0.0f);
  }
  EXPECT_EQ(awq_gemv_zero_words(32, 128), 4);  // K = 4096, G = 128 -> scales [N, 32] (AutoAWQ GEMV)
  EXPECT_EQ(awq_gemv_zero_words(2, 128), 1);
  EXPECT_EQ(awq_gemv_zero_words(2, 64), 2);
  EXPECT_EQ(awq_gemv_zero_words(1, 32), 4);
  EXPECT_THROW(awq_gemv_zero_words(4, 48), Error);
  const IntegerLinear back = awq_gemv_unpack(a.qweight, a.qzeros, a.scales, 32);
  EXPECT_TRUE(at::equal(back.codes, worked_example(32, 32, 32).codes));
  EXPECT_TRUE(at::equal(back.zeros, worked_example(32, 32, 32).zeros));
  // A stray bit in a padding nibble is reported, not ignored.
  at::Tensor bad = a.qzeros.clone();
  bad[0][1] = 1;
  EXPECT_THROW(awq_gemv_unpack(a.qweight, bad, a.scales, 32), Error);
}

// Symmetric ptq codes ([-8, 7], zero 0) are stored as q + 8 with every zero 8: AutoAWQ qzeros words 0x88888888
// (what every AutoAWQ loader decodes), and the dequantized weight is unchanged.
TEST(PackGolden, SymmetricCodesStoreZeroEight) {
  QuantizedLinear q;
  q.spec.bits = 4;
  q.spec.symmetric = true;
  q.spec.granularity = Granularity::kPerGroup;
  q.spec.group_size = 32;
  q.codes = at::randint(-8, 8, {64, 64}, at::kChar);
  q.scales = at::rand({64, 2}) + 0.01;
  q.zeros = at::zeros({64, 2});
  const IntegerLinear il = to_integer_linear(q, 32);
  const AwqTensors a = awq_gemm_pack(il);
  for (int32_t w : values(a.qzeros)) EXPECT_EQ(w, -2004318072);
  EXPECT_TRUE(at::equal(dequantize_integer_linear(il), q.codes.to(at::kFloat) * q.scales.repeat_interleave(32, 1)));
}

IntegerLinear random_linear(int bits, int64_t n, int64_t k, int64_t g, int64_t zero_min = 0) {
  IntegerLinear q;
  q.bits = bits;
  q.group_size = g;
  const int64_t top = int64_t{1} << bits;
  q.codes = at::randint(0, top, {n, k}, at::kByte);
  q.zeros = at::randint(zero_min, top, {n, k / g}, at::kByte);
  q.scales = (at::rand({n, k / g}) + 0.01).to(at::kHalf).to(at::kFloat);
  q.g_idx = consecutive_g_idx(k, g);
  return q;
}

void expect_same(const IntegerLinear& a, const IntegerLinear& b) {
  EXPECT_TRUE(at::equal(a.codes, b.codes));
  EXPECT_TRUE(at::equal(a.zeros, b.zeros));
  EXPECT_TRUE(at::equal(a.scales, b.scales));
  EXPECT_TRUE(at::equal(a.g_idx, b.g_idx));
  EXPECT_EQ(a.group_size, b.group_size);
}

TEST(PackRoundTrip, EveryLayoutAndBitWidth) {
  at::manual_seed(7);
  const IntegerLinear a4 = random_linear(4, 96, 256, 64);
  const AwqTensors gemm = awq_gemm_pack(a4);
  expect_same(awq_gemm_unpack(gemm.qweight, gemm.qzeros, gemm.scales, 64), a4);
  const AwqTensors gemv = awq_gemv_pack(a4);
  EXPECT_EQ(gemv.qzeros.size(1), 2);  // ceil(4 / 8) = 1, rounded up to m = 2 for G = 64
  expect_same(awq_gemv_unpack(gemv.qweight, gemv.qzeros, gemv.scales, 64), a4);
  for (int bits : {2, 3, 4, 8}) {
    const IntegerLinear q = random_linear(bits, 64, 128, 32, 1);
    for (GptqZeros v : {GptqZeros::kV1, GptqZeros::kV2}) {
      const GptqTensors g = gptq_pack(q, v);
      EXPECT_EQ(g.qweight.sizes(), (std::vector<int64_t>{128 * bits / 32, 64})) << bits;
      EXPECT_EQ(g.qzeros.sizes(), (std::vector<int64_t>{4, 64 * bits / 32})) << bits;
      expect_same(gptq_unpack(g.qweight, g.qzeros, g.scales, g.g_idx, bits, v), q);
    }
  }
}

// The packers take 32 codes (GPTQ) or 8 outputs (AWQ GEMM) at a time; sizes that leave a tail of fewer codes than a
// period, and one value in every position, must still pack exactly what the element-wise unpackers read back.
TEST(PackRoundTrip, SizesWithTailsAndEveryPosition) {
  at::manual_seed(11);
  struct Case { int bits; int64_t n, k, g; };
  for (const Case& c : {Case{2, 48, 48, 16}, Case{3, 96, 96, 32}, Case{4, 40, 72, 8}, Case{8, 36, 44, 4},
                        Case{4, 8, 8, 8}, Case{2, 16, 16, 16}, Case{8, 4, 4, 4}}) {
    const IntegerLinear q = random_linear(c.bits, c.n, c.k, c.g, 1);
    const GptqTensors g = gptq_pack(q, GptqZeros::kV2);
    expect_same(gptq_unpack(g.qweight, g.qzeros, g.scales, g.g_idx, c.bits, GptqZeros::kV2), q);
    // a single non-zero code at each position of the first output: exactly its bits are set, nowhere else
    for (int64_t k = 0; k < c.k; ++k) {
      IntegerLinear one = q;
      one.codes = at::zeros_like(q.codes);
      one.codes[0][k] = (1 << c.bits) - 1;
      const at::Tensor w = gptq_pack(one, GptqZeros::kV2).qweight;
      const int64_t bit = k * c.bits;
      int64_t set = 0;
      for (int64_t r = 0; r < w.size(0); ++r) set += __builtin_popcount(static_cast<uint32_t>(w[r][0].item<int32_t>()));
      ASSERT_EQ(set, c.bits) << c.bits << " bits, k " << k;
      EXPECT_EQ(static_cast<uint32_t>(w[bit / 32][0].item<int32_t>()) >> (bit % 32) & 1u, 1u) << c.bits << " " << k;
    }
    if (c.bits == 4 && c.n % 8 == 0) {
      const AwqTensors a = awq_gemm_pack(q);
      expect_same(awq_gemm_unpack(a.qweight, a.qzeros, a.scales, c.g), q);
    }
  }
}

// GPTQ's 3-bit layout (docs/formats.md): value 10 starts at bit 30 of word A and ends in bit 0 of word B; value 21
// ends in bits 0-1 of word C.
TEST(PackRoundTrip, ThreeBitValuesStraddleWords) {
  IntegerLinear q = random_linear(3, 32, 32, 32, 1);
  q.codes.zero_();
  q.codes[0][10] = 7;
  q.codes[1][21] = 7;
  const GptqTensors g = gptq_pack(q, GptqZeros::kV2);
  const auto w = values(g.qweight.t().contiguous());    // [N][3]
  EXPECT_EQ(static_cast<uint32_t>(w[0]), 0xC0000000u);  // column 0, word A: low 2 bits of value 10 at bits 30-31
  EXPECT_EQ(w[1], 1);                                   // column 0, word B: its bit 2 at bit 0
  EXPECT_EQ(w[2], 0);
  EXPECT_EQ(w[3], 0);
  EXPECT_EQ(static_cast<uint32_t>(w[4]), 0x80000000u);  // column 1, word B: low bit of value 21 at bit 31
  EXPECT_EQ(w[5], 3);                                   // column 1, word C: its bits 1-2 at bits 0-1
}

// A GPTQ v1 zero of 0 would be stored as -1 (readers disagree on it, docs/formats.md): refused on writing, and a
// stored 0xF on reading.
TEST(PackRoundTrip, GptqV1RefusesZeroZero) {
  IntegerLinear q = random_linear(4, 32, 64, 32, 1);
  q.zeros[5][1] = 0;
  try {
    gptq_pack(q, GptqZeros::kV1);
    ADD_FAILURE() << "a v1 zero of 0 was packed";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("output 5 group 1 has zero point 0"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("gptq_v2"), std::string::npos) << e.what();
  }
  const GptqTensors v2 = gptq_pack(q, GptqZeros::kV2);  // v2 stores it as it is
  EXPECT_EQ(gptq_unpack(v2.qweight, v2.qzeros, v2.scales, v2.g_idx, 4, GptqZeros::kV2).zeros[5][1].item<int>(), 0);
  at::Tensor minus_one = gptq_pack(random_linear(4, 32, 64, 32, 1), GptqZeros::kV1).qzeros.clone();
  minus_one[0][0] = word(0x0000000F);
  EXPECT_THROW(gptq_unpack(v2.qweight, minus_one, v2.scales, v2.g_idx, 4, GptqZeros::kV1), Error);
}

TEST(PackRoundTrip, PartialLastGroupIsRefused) {
  QuantizedLinear q;
  q.spec.bits = 4;
  q.spec.granularity = Granularity::kPerGroup;
  q.spec.group_size = 128;
  q.codes = at::zeros({64, 172}, at::kByte);
  q.scales = at::ones({64, 2});
  q.zeros = at::zeros({64, 2});
  try {
    to_integer_linear(q, 128);
    ADD_FAILURE() << "a partial group was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("partial last group"), std::string::npos) << e.what();
  }
}

ModelConfig llama(int64_t hidden, int64_t inter, int64_t heads, int64_t kv_heads) {
  ModelConfig c;
  c.hidden_size = hidden;
  c.intermediate_size = inter;
  c.num_layers = 2;
  c.num_heads = heads;
  c.num_kv_heads = kv_heads;
  c.head_dim = hidden / heads;
  c.vocab_size = 512;
  return c;
}

void expect_refused(const ModelConfig& c, const std::string& scheme, const ExportTarget& t, const std::string& needle) {
  try {
    check_export_shapes(c, QuantScheme::parse(scheme), t);
    ADD_FAILURE() << scheme << " on " << t.name() << " accepted; expected '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUser);
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(ExportTarget, ShapeConstraintsNameTheLayer) {
  const ExportTarget gemm{ExportFormat::kAwqGemm, GptqZeros::kV1};
  const ExportTarget gemv{ExportFormat::kAwqGemv, GptqZeros::kV1};
  const ExportTarget gptq{ExportFormat::kGptq, GptqZeros::kV1};
  const ModelConfig ok = llama(256, 512, 4, 2);
  for (const auto& t : {gemm, gemv, gptq}) EXPECT_NO_THROW(check_export_shapes(ok, QuantScheme::parse("w4g128"), t));
  EXPECT_NO_THROW(check_export_shapes(ok, QuantScheme::parse("w3g128"), gptq));
  EXPECT_NO_THROW(check_export_shapes(ok, QuantScheme::parse("w8g64"), gptq));
  // stories260K's shapes (hidden 64, intermediate 172): nothing fits a group of 128.
  const ModelConfig stories = llama(64, 172, 8, 4);
  expect_refused(stories, "w4g128", gemm,
                 "model.layers.0.self_attn.q_proj (autoawq-gemm export, weight [64, 64], group size 128): "
                 "in_features 64 is not a multiple of the group size 128");
  expect_refused(stories, "w4g32", gemm,
                 "model.layers.0.self_attn.k_proj (autoawq-gemm export, weight [32, 64], group "
                 "size 32): out_features 32 must be a multiple of 64 (AWQ CUDA GEMM kernel)");
  expect_refused(stories, "w4g32", gptq,
                 "model.layers.0.mlp.gate_proj (gptq-v1 export, weight [172, 64], group size "
                 "32): out_features 172 must be a multiple of 32");
  expect_refused(llama(256, 672, 4, 2), "w4g128", gptq,
                 "model.layers.0.mlp.down_proj (gptq-v1 export, weight [256, 672], group size 128): in_features 672 is "
                 "not a multiple of the group size 128: the last group would be partial");
  expect_refused(llama(256, 512, 8, 1), "w4g32", gemm,
                 "k_proj (autoawq-gemm export, weight [32, 256], group size 32): "
                 "out_features 32 must be a multiple of 64");
  expect_refused(ok, "w4g16", gemv, "group size 16 is not implemented by AutoAWQ GEMV (32, 64, >= 128)");
  expect_refused(ok, "w3g128", gemm, "stores 4-bit weights");
  expect_refused(ok, "w6g128", gptq, "stores 2, 3, 4 or 8-bit weights");
  expect_refused(ok, "w8a8", gptq, "quantizes activations");
  // Per-channel ranges: AutoAWQ gets the largest group size every layer accepts, GPTQ one group per row.
  EXPECT_EQ(export_group_size(ok, QuantScheme::parse("w4").weight, gemm), 128);
  EXPECT_EQ(export_group_size(llama(320, 640, 5, 5), QuantScheme::parse("w4").weight, gemm), 64);
  EXPECT_EQ(export_group_size(ok, QuantScheme::parse("w4").weight, gptq), 0);
}

}  // namespace
}  // namespace ptq
