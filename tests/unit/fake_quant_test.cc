#include <gtest/gtest.h>
#include <ATen/ATen.h>

#include "core/error.h"
#include "core/fake_quant.h"

namespace ptq {
namespace {

std::vector<QuantSpec> all_specs(int bits, int64_t group) {
  std::vector<QuantSpec> out;
  for (bool sym : {true, false})
    for (auto g : {Granularity::kPerTensor, Granularity::kPerChannel, Granularity::kPerGroup, Granularity::kPerToken})
      out.push_back({bits, sym, g, group});
  return out;
}

// Zero-mean heavy-tailed data: Student t with 2 degrees of freedom (normal / sqrt(chi2_2 / 2)), like the outlier
// channels of LLM activations and weights.
at::Tensor heavy_tailed(std::vector<int64_t> shape) {
  at::Tensor z = at::randn(shape);
  at::Tensor chi2 = at::randn(shape).pow(2) + at::randn(shape).pow(2);
  return z / (chi2 / 2).sqrt();
}

double relative_mse(const at::Tensor& q, const at::Tensor& x) {
  return (q.to(at::kDouble) - x.to(at::kDouble)).pow(2).sum().item<double>() /
         x.to(at::kDouble).pow(2).sum().item<double>();
}

TEST(FakeQuant, KnownValuesFollowLlmcFormulas) {
  at::Tensor x = at::tensor({-1.0f, -0.2f, 0.3f, 0.9f}).reshape({1, 4});
  // 2-bit asymmetric: scale = 1.9 / 3, zero = clamp(0 - round(-1 / scale), 0, 3) = 2.
  {
    QuantSpec s{2, false, Granularity::kPerChannel, 0};
    QuantizedTensor q = quantize(x, s);
    const float scale = 1.9f / 3.0f;
    EXPECT_FLOAT_EQ(q.scales.item<float>(), scale);
    EXPECT_EQ(q.zeros.item<float>(), 2.0f);
    EXPECT_TRUE(at::equal(q.codes, at::tensor({0, 2, 2, 3}, at::kByte).reshape({1, 4})));
    at::Tensor y = fake_quantize(x, s);
    EXPECT_FLOAT_EQ(y[0][0].item<float>(), -2 * scale);
    EXPECT_FLOAT_EQ(y[0][1].item<float>(), 0.0f);
    EXPECT_FLOAT_EQ(y[0][3].item<float>(), scale);
  }
  // 2-bit symmetric: grid [-2, 1], scale = absmax / 1 = 1.
  {
    QuantSpec s{2, true, Granularity::kPerChannel, 0};
    QuantizedTensor q = quantize(x, s);
    EXPECT_FLOAT_EQ(q.scales.item<float>(), 1.0f);
    EXPECT_TRUE(at::equal(q.codes, at::tensor({-1, 0, 0, 1}, at::kChar).reshape({1, 4})));
  }
  // 4-bit symmetric: scale = absmax / 7 (LLMC), not absmax / 7.5 (GPTQ reference).
  {
    QuantizedTensor q = quantize(x, {4, true, Granularity::kPerChannel, 0});
    EXPECT_FLOAT_EQ(q.scales.item<float>(), 1.0f / 7.0f);
    EXPECT_EQ(q.codes[0][0].item<int>(), -7);
  }
}

TEST(FakeQuant, AllPositiveGroupKeepsLlmcClampedZero) {
  // LLMC does not widen the range to 0: the zero clamps to 0 and the top of the range saturates
  // (docs/pitfalls.md #2). This pins that convention.
  at::Tensor x = at::tensor({1.0f, 2.0f, 3.0f, 4.0f}).reshape({1, 4});
  QuantizedTensor q = quantize(x, {2, false, Granularity::kPerChannel, 0});
  EXPECT_EQ(q.zeros.item<float>(), 0.0f);
  EXPECT_FLOAT_EQ(q.scales.item<float>(), 1.0f);
  EXPECT_FLOAT_EQ(fake_quantize(x, {2, false, Granularity::kPerChannel, 0}).max().item<float>(), 3.0f);
}

TEST(FakeQuant, IdempotentWhenRangesContainZero) {
  at::manual_seed(1);
  for (int bits : {2, 3, 4, 8})
    for (const QuantSpec& s : all_specs(bits, 32)) {
      at::Tensor x = at::randn({16, 96});  // every group of 32 zero-mean values spans 0
      at::Tensor q1 = fake_quantize(x, s);
      at::Tensor q2 = fake_quantize(q1, s);
      EXPECT_TRUE(at::equal(quantize(q1, s).codes, quantize(x, s).codes)) << s.describe();
      EXPECT_TRUE(at::allclose(q2, q1, /*rtol=*/1e-6, /*atol=*/1e-7)) << s.describe() << " max diff "
                                                                       << (q2 - q1).abs().max().item<float>();
    }
}

TEST(FakeQuant, CodesStayInsideTheGrid) {
  at::manual_seed(2);
  for (int bits = 2; bits <= 8; ++bits)
    for (const QuantSpec& s : all_specs(bits, 64)) {
      at::Tensor x = heavy_tailed({8, 200}) * 10;
      QuantizedTensor q = quantize(x, s);
      EXPECT_EQ(q.codes.scalar_type(), s.symmetric ? at::kChar : at::kByte);
      EXPECT_GE(q.codes.to(at::kInt).min().item<int>(), s.qmin()) << s.describe();
      EXPECT_LE(q.codes.to(at::kInt).max().item<int>(), s.qmax()) << s.describe();
      EXPECT_GE(q.zeros.min().item<float>(), s.qmin());
      EXPECT_LE(q.zeros.max().item<float>(), s.qmax());
    }
}

TEST(FakeQuant, ErrorFallsAsBitsRise) {
  at::manual_seed(3);
  for (bool heavy : {false, true}) {
    at::Tensor x = heavy ? heavy_tailed({64, 512}) : at::randn({64, 512});
    for (const QuantSpec& base : all_specs(2, 128)) {
      double prev = 1e30;
      for (int bits = 2; bits <= 8; ++bits) {
        QuantSpec s = base;
        s.bits = bits;
        const double err = relative_mse(fake_quantize(x, s), x);
        EXPECT_LT(err, prev) << s.describe() << (heavy ? " heavy-tailed" : " normal");
        prev = err;
      }
    }
  }
}

TEST(FakeQuant, FinerGranularityLowersError) {
  at::manual_seed(4);
  at::Tensor x = heavy_tailed({64, 512});
  for (bool sym : {true, false}) {
    const double t = relative_mse(fake_quantize(x, {3, sym, Granularity::kPerTensor, 0}), x);
    const double c = relative_mse(fake_quantize(x, {3, sym, Granularity::kPerChannel, 0}), x);
    const double g = relative_mse(fake_quantize(x, {3, sym, Granularity::kPerGroup, 32}), x);
    EXPECT_LT(c, t);
    EXPECT_LT(g, c);
  }
}

// Reference: quantize every group slice separately as one per-tensor range.
at::Tensor per_group_by_slices(const at::Tensor& x, const QuantSpec& s) {
  at::Tensor flat = x.reshape({-1, x.size(-1)});
  at::Tensor out = at::empty_like(flat);
  const QuantSpec whole{s.bits, s.symmetric, Granularity::kPerTensor, 0};
  for (int64_t r = 0; r < flat.size(0); ++r)
    for (int64_t c0 = 0; c0 < flat.size(1); c0 += s.group_size) {
      const int64_t len = std::min(s.group_size, flat.size(1) - c0);
      out[r].narrow(0, c0, len).copy_(fake_quantize(flat[r].narrow(0, c0, len).reshape({1, len}), whole)[0]);
    }
  return out.reshape(x.sizes());
}

TEST(FakeQuant, PerGroupMatchesSliceByScliceOnOddShapes) {
  at::manual_seed(5);
  // 172 = stories260K's down_proj input width: 2 full groups of 64 and a partial group of 44.
  for (auto shape : std::vector<std::vector<int64_t>>{{5, 172}, {3, 7}, {1, 130}, {2, 3, 172}, {4, 64}})
    for (int64_t g : {int64_t{64}, int64_t{5}, int64_t{256}})
      for (bool sym : {true, false}) {
        QuantSpec s{3, sym, Granularity::kPerGroup, g};
        at::Tensor x = at::randn(shape);
        at::Tensor got = fake_quantize(x, s);
        EXPECT_TRUE(at::equal(got, per_group_by_slices(x, s))) << "shape " << x.sizes() << " g " << g;
        QuantizedTensor q = quantize(x, s);
        const int64_t cols = shape.back(), rows = x.numel() / cols;
        EXPECT_EQ(q.scales.sizes(), at::IntArrayRef({rows, (cols + g - 1) / g}));
        EXPECT_EQ(q.codes.sizes(), x.sizes());
      }
}

TEST(FakeQuant, PerTokenReducesOverLastDimOfActivations) {
  at::manual_seed(6);
  at::Tensor x = at::randn({2, 5, 48});
  QuantSpec tok{8, true, Granularity::kPerToken, 0};
  at::Tensor got = fake_quantize(x, tok);
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t t = 0; t < 5; ++t)
      EXPECT_TRUE(at::equal(got[b][t], fake_quantize(x[b][t].reshape({1, 48}), tok)[0]));
  EXPECT_EQ(quantize(x, tok).scales.sizes(), at::IntArrayRef({10, 1}));
}

TEST(FakeQuant, DequantizedCodesEqualFakeQuantBitForBit) {
  at::manual_seed(7);
  for (auto dtype : {at::kFloat, at::kHalf, at::kBFloat16})
    for (int bits : {2, 3, 4, 8})
      for (const QuantSpec& s : all_specs(bits, 48)) {
        at::Tensor x = heavy_tailed({12, 100}).to(dtype);
        at::Tensor fq = fake_quantize(x, s);
        at::Tensor dq = dequantize(quantize(x, s));
        EXPECT_EQ(fq.scalar_type(), dtype);
        EXPECT_EQ(dq.scalar_type(), dtype);
        EXPECT_TRUE(at::equal(fq, dq)) << s.describe() << " " << c10::toString(dtype);
      }
}

TEST(FakeQuant, FusedCpuPathMatchesTensorOps) {
  at::manual_seed(10);
  for (auto dtype : {at::kFloat, at::kHalf, at::kBFloat16})
    for (int bits : {2, 3, 4, 8})
      for (const QuantSpec& s : all_specs(bits, 48)) {
        at::Tensor x = heavy_tailed({24, 100}).to(dtype);
        at::Tensor up = at::rand(range_shape(s, x.numel(), x.size(-1))) * 0.5 + 0.5;
        std::optional<ClipFactors> clip = ClipFactors{up, s.symmetric ? at::Tensor() : up.flip(0)};
        at::Tensor fused = fake_quantize(x, s, clip);
        set_fake_quant_reference_mode(true);
        at::Tensor reference = fake_quantize(x, s, clip);
        set_fake_quant_reference_mode(false);
        EXPECT_TRUE(at::equal(fused, reference)) << s.describe() << " " << c10::toString(dtype);
      }
  // Tiny clip factors push x / scale far beyond 2^22, where the fused rounding shortcut is inexact: the clamp must
  // still give the same values.
  at::Tensor x = at::randn({8, 64});
  for (const QuantSpec& s : all_specs(4, 32)) {
    at::Tensor up = at::full(range_shape(s, x.numel(), x.size(-1)), 1e-7f);
    std::optional<ClipFactors> clip = ClipFactors{up, s.symmetric ? at::Tensor() : up};
    at::Tensor fused = fake_quantize(x, s, clip);
    set_fake_quant_reference_mode(true);
    at::Tensor reference = fake_quantize(x, s, clip);
    set_fake_quant_reference_mode(false);
    EXPECT_TRUE(at::equal(fused, reference)) << s.describe() << " with clip 1e-7";
  }
}

TEST(FakeQuant, InPlaceEqualsOutOfPlace) {
  at::manual_seed(11);
  for (auto shape : std::vector<std::vector<int64_t>>{{16, 128}, {5, 172}})
    for (auto dtype : {at::kFloat, at::kHalf})
      for (const QuantSpec& s : all_specs(3, 64)) {
        at::Tensor x = heavy_tailed(shape).to(dtype);
        at::Tensor expected = fake_quantize(x, s);
        at::Tensor y = x.clone();
        fake_quantize_(y, s);
        EXPECT_TRUE(at::equal(y, expected)) << s.describe();
      }
}

TEST(FakeQuant, ClipFactorsOfOneChangeNothing) {
  at::manual_seed(8);
  at::Tensor x = at::randn({6, 128});
  for (const QuantSpec& s : all_specs(3, 32)) {
    auto shape = range_shape(s, x.numel(), x.size(-1));
    ClipFactors ones{at::ones(shape), s.symmetric ? at::Tensor() : at::ones(shape)};
    EXPECT_TRUE(at::equal(fake_quantize(x, s, ones), fake_quantize(x, s))) << s.describe();
  }
}

TEST(FakeQuant, ClipFactorsShrinkTheRange) {
  at::manual_seed(9);
  at::Tensor x = at::randn({4, 64});
  // Symmetric: absmax' = absmax * up; the grid [-8, 7] * absmax' / 7 bounds the output.
  QuantSpec sym{4, true, Granularity::kPerChannel, 0};
  at::Tensor half = at::full({4, 1}, 0.5f);
  at::Tensor y = fake_quantize(x, sym, ClipFactors{half, {}});
  at::Tensor absmax = x.abs().amax(1, true);
  EXPECT_TRUE((y <= absmax * 0.5 * (1 + 1e-6)).all().item<bool>());
  EXPECT_TRUE((y >= -absmax * 0.5 * 8 / 7 * (1 + 1e-6)).all().item<bool>());
  EXPECT_TRUE(at::allclose(y.amax(1, true), absmax * 0.5));  // randn rows of 64 exceed half their absmax
  EXPECT_TRUE(at::allclose(quantize(x, sym, ClipFactors{half, {}}).scales, absmax * 0.5 / 7));
  // Asymmetric: lo' = lo * low, hi' = hi * up.
  QuantSpec asym{4, false, Granularity::kPerChannel, 0};
  at::Tensor up = at::full({4, 1}, 0.8f), low = at::full({4, 1}, 0.6f);
  QuantizedTensor q = quantize(x, asym, ClipFactors{up, low});
  auto [lo, hi] = x.aminmax(1, true);
  EXPECT_TRUE(at::allclose(q.scales, (hi * 0.8 - lo * 0.6) / 15));
}

TEST(FakeQuant, BadInputsAreClearErrors) {
  QuantSpec s{4, true, Granularity::kPerGroup, 32};
  EXPECT_THROW(fake_quantize(at::randn({4, 64}), s, ClipFactors{at::ones({3}), {}}), Error);
  try {
    fake_quantize(at::randn({4, 64}), s, ClipFactors{at::ones({3}), {}});
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("clip factor 'up' has 3 values, the quantizer has 8 ranges"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(fake_quantize(at::empty({0, 4}), s), Error);
  EXPECT_THROW(fake_quantize(at::ones({4, 4}, at::kInt), s), Error);
}

TEST(FakeQuant, ZeroRowsStayZero) {
  // An all-zero group: the 1e-5 floor keeps the scale finite and the output exactly zero.
  at::Tensor x = at::zeros({2, 64});
  for (const QuantSpec& s : all_specs(4, 32)) {
    at::Tensor y = fake_quantize(x, s);
    EXPECT_TRUE(at::equal(y, x)) << s.describe();
  }
}

}  // namespace
}  // namespace ptq
