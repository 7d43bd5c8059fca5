// HQQ (src/methods/hqq.cc) against the hqq package's own quantizer on real weights: stories260K's linears quantized
// by hqq 0.2.8.post1 (scripts/fixtures/make_hqq_fixtures.py -> tests/fixtures/hqq/*.json), and ptq's refusals of what
// HQQ cannot do.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fake_quant.h"
#include "methods/method.h"
#include "model/loaded_model.h"
#include "pipeline/pipeline.h"
#include "support/errors.h"
#include "support/test_data.h"

namespace ptq {
namespace {

std::string base64_decode(const std::string& in) {
  static const std::string chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    const size_t v = chars.find(c);
    if (v == std::string::npos) continue;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

// A [rows, cols] tensor of `dtype` from base64 little-endian bytes.
at::Tensor tensor_of(const nlohmann::json& b64, at::ScalarType dtype, int64_t rows, int64_t cols) {
  const std::string bytes = base64_decode(b64.get<std::string>());
  at::Tensor t = at::empty({rows, cols}, at::TensorOptions().dtype(dtype));
  EXPECT_EQ(bytes.size(), static_cast<size_t>(t.numel() * t.element_size()));
  std::memcpy(t.data_ptr(), bytes.data(), std::min(bytes.size(), static_cast<size_t>(t.nbytes())));
  return t;
}

QuantScheme weight_only(int bits, std::optional<int64_t> group) {
  QuantScheme s;
  s.weight.bits = bits;
  s.weight.symmetric = false;
  s.weight.granularity = group ? Granularity::kPerGroup : Granularity::kPerChannel;
  if (group) s.weight.group_size = *group;
  return s;
}

// The codes, scales and zeros ptq's HQQ records for every block linear of stories260K equal the hqq package's:
// codes exactly (tolerance: none; both round the same float32 values), scales and zeros to 1e-6 relative (the same
// float32 operations in the same order; only a different reduction order could move a last bit).
TEST(Hqq, CodesScalesAndZerosEqualTheHqqPackageOnStories260K) {
  for (const char* name : {"w4_per_channel", "w2_g4"}) {
    SCOPED_TRACE(name);
    const nlohmann::json fx =
        nlohmann::json::parse(test::read_file(test::fixture_path(std::string("hqq/") + name + ".json")));
    const int bits = fx.at("nbits").get<int>();
    const std::optional<int64_t> group =
        fx.at("group_size").is_null() ? std::nullopt : std::optional<int64_t>(fx.at("group_size").get<int64_t>());
    LoadedModel m = load_model(test::data_path("models/stories260K-hf"));
    auto hqq = find_method("hqq").make(nlohmann::json::object());
    PipelineOptions po;
    po.keep_codes = true;
    const PipelineResult pr = run_pipeline(*m.model, {}, *hqq, weight_only(bits, group), po);
    const auto params = m.model->named_parameters();
    int layers = 0;
    for (const auto& [layer, want] : fx.at("layers").items()) {
      SCOPED_TRACE(layer);
      const int64_t out = want.at("shape")[0], in = want.at("shape")[1];
      const int64_t groups = group ? in / *group : 1;
      ASSERT_TRUE(pr.codes.count(layer));
      const QuantizedLinear& q = pr.codes.at(layer);
      const at::Tensor codes = tensor_of(want.at("codes"), at::kByte, out, in);
      const at::Tensor scales = tensor_of(want.at("scales"), at::kFloat, out, groups);
      const at::Tensor zeros = tensor_of(want.at("zeros"), at::kFloat, out, groups);
      EXPECT_TRUE(at::equal(q.codes.to(at::kByte), codes))
          << (q.codes.to(at::kInt) != codes.to(at::kInt)).sum().item<int64_t>() << " codes differ";
      EXPECT_TRUE(at::allclose(q.scales, scales, 1e-6, 0)) << (q.scales - scales).abs().max().item<double>();
      EXPECT_TRUE(at::allclose(q.zeros, zeros, 1e-6, 1e-6)) << (q.zeros - zeros).abs().max().item<double>();
      // The model holds the dequantized weight (codes - zero) * scale, as hqq dequantizes.
      const at::Tensor g = group ? at::arange(in).div(*group, "floor") : at::zeros({in}, at::kLong);
      const at::Tensor deq = (codes.to(at::kFloat) - zeros.index_select(1, g)) * scales.index_select(1, g);
      const at::Tensor* w = params.find(layer + ".weight");
      ASSERT_NE(w, nullptr);
      EXPECT_TRUE(at::allclose(w->to(at::kFloat), deq, 1e-6, 1e-7)) << (w->to(at::kFloat) - deq).abs().max().item<double>();
      ++layers;
    }
    EXPECT_EQ(layers, static_cast<int>(fx.at("layers").size()));
    EXPECT_GE(layers, 7);
  }
}

TEST(Hqq, RefusesWhatItCannotDo) {
  const MethodInfo& info = find_method("hqq");
  EXPECT_FALSE(info.needs_calibration);
  EXPECT_EQ(find_method_by_llmc_name("HQQ").id, "hqq");
  EXPECT_NE(test::error_of([&] { info.resolve({{"axis", 0}}); }).find("parameter 'axis' must be 1"), std::string::npos);
  EXPECT_NE(test::error_of([&] { info.resolve({{"lp_nrom", 0.7}}); }).find("did you mean 'lp_norm'?"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { info.resolve({{"iters", 0}}); }).find("parameter 'iters' must be >= 1, got 0"),
            std::string::npos);
  const nlohmann::json resolved = info.resolve(nlohmann::json::object());
  EXPECT_EQ(resolved, (nlohmann::json{{"lp_norm", 0.7}, {"beta", 10.0}, {"kappa", 1.01}, {"iters", 20}, {"axis", 1}}));
  ASSERT_TRUE(info.export_problem);
  EXPECT_NE(info.export_problem(resolved, weight_only(4, 64), true).find("zero points are real numbers"),
            std::string::npos);

  LoadedModel m = load_model(test::data_path("models/stories260K-hf"));
  auto hqq = info.make(nlohmann::json::object());
  QuantScheme sym = weight_only(4, 4);
  sym.weight.symmetric = true;
  ASSERT_TRUE(info.scheme_problem);
  EXPECT_NE(info.scheme_problem(sym).find("needs an asymmetric grid"), std::string::npos);
  EXPECT_EQ(info.scheme_problem(weight_only(4, 32)), "");
  EXPECT_NE(test::error_of([&] { run_pipeline(*m.model, {}, *hqq, sym, {}); })
                .find("method 'hqq': hqq fits each range"),
            std::string::npos);
}

// stories260K's down_proj has 172 inputs: with groups of 32 its rows end in a partial group of 12, which gets its own
// range (hqq itself requires whole groups). Codes stay on the grid, every range's zero is fitted, and the error is
// below round-to-nearest's on the same grid in the l_p sense HQQ minimises (p = 0.7).
TEST(Hqq, PartialLastGroupHasItsOwnRange) {
  LoadedModel m = load_model(test::data_path("models/stories260K-hf"));
  const at::Tensor w = m.model->linear("model.layers.0.mlp.down_proj")->weight.clone();
  auto hqq = find_method("hqq").make(nlohmann::json::object());
  PipelineOptions po;
  po.keep_codes = true;
  const PipelineResult pr = run_pipeline(*m.model, {}, *hqq, weight_only(3, 32), po);
  const QuantizedLinear& q = pr.codes.at("model.layers.0.mlp.down_proj");
  ASSERT_EQ(q.scales.sizes(), (std::vector<int64_t>{64, 6}));  // 5 whole groups of 32 and one of 12
  EXPECT_LE(q.codes.to(at::kInt).max().item<int>(), 7);
  const at::Tensor got = m.model->linear("model.layers.0.mlp.down_proj")->weight;
  const at::Tensor rtn = fake_quantize(w, weight_only(3, 32).weight);
  auto lp = [&](const at::Tensor& x) { return (x - w).abs().pow(0.7).sum().item<double>(); };
  EXPECT_LT(lp(got), lp(rtn));
  EXPECT_GT((got - w).abs().max().item<double>(), 0);
}

// A config with save_autoawq stops before quantizing, naming the reason (exit 2); so does a symmetric grid, when the
// configuration is read. (A random model whose shapes the AutoAWQ layout accepts, so the method's reason is the one.)
TEST(Hqq, ExportIsRefusedUpFront) {
  test::TempDir d;
  const std::string cfg = d.file("hqq.yml"), model = d.file("model");
  ASSERT_EQ(test::run_ptq(fmt::format("random-model --out {} --hidden 128 --intermediate 256 --layers 1 --heads 2 "
                                      "--vocab 512 --dtype float32 --tokenizer {}",
                                      model, test::data_path("models/stories260K-hf/tokenizer.model")))
                .exit_code,
            0);
  test::write_file(cfg, fmt::format("model: {{type: Llama, path: {}}}\n"
                                    "quant: {{method: HQQ, weight: {{bit: 4, symmetric: False, granularity: per_group, "
                                    "group_size: 32}}, special: {{lp_norm: 0.7, beta: 10, kappa: 1.01, iters: 20, "
                                    "axis: 1}}}}\n"
                                    "save: {{save_autoawq: True, save_path: {}}}\n",
                                    model, d.file("out")));
  auto r = test::run_ptq("run --config " + cfg + " --threads 1");
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("save.save_autoawq: hqq's zero points are real numbers"), std::string::npos) << r.err;
  r = test::run_ptq("run --config " + cfg + " --set quant.weight.symmetric=True --threads 1");
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("quant.weight: method 'hqq' cannot quantize int4 sym per_group(32): hqq fits"),
            std::string::npos)
      << r.err;
}

// The shipped LLMC-style configuration runs end to end: data-free, the resolved parameters recorded, and at 4 bits
// stories260K's TinyStories perplexity within 10% of fp (it is 2-3% for RTN at this setting).
TEST(Hqq, ShippedConfigRuns) {
  const auto r = test::run_ptq("run --config " + test::config_path("quantization/methods/HQQ/hqq_w_only.yml") +
                               " --set model.path=" + test::data_path("models/stories260K-hf") +
                               " --set eval.max_windows=8 --json --threads 1");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const nlohmann::json j = test::last_json_line(r.out);
  EXPECT_EQ(j.at("method"), "hqq");
  EXPECT_EQ(j.at("quant").at("params").at("lp_norm"), 0.7);
  EXPECT_TRUE(j.at("calibration").is_null()) << j.at("calibration").dump();
  double fp = 0, q = 0;
  for (const auto& e : j.at("evals")) (e.at("pos") == "pretrain" ? fp : q) = e.at("ppl").get<double>();
  ASSERT_GT(fp, 0);
  EXPECT_GT(q, fp);
  EXPECT_LT(q, 1.1 * fp);
}

}  // namespace
}  // namespace ptq
