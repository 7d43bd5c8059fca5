// Tiny random Llama / Qwen2 / Mistral checkpoints written by Hugging Face transformers, against the logits
// transformers computed for them (tests/fixtures/oracles, made by scripts/fixtures/make_hf_oracles.py): llama3 rope
// scaling, q/k/v biases, GQA and MHA, head_dim != hidden/heads, tied embeddings, bf16 weights, sharded checkpoints and
// the transformers-5 config layout (rope_parameters, dtype). Each test prints the measured max |logit difference|.
#include <gtest/gtest.h>
#include <ATen/ATen.h>

#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include <bit>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "model/causal_lm.h"
#include "model/checkpoint.h"
#include "model/hf_checkpoint.h"
#include "model/rope.h"
#include "support/test_data.h"

namespace ptq {
namespace {

namespace fs = std::filesystem;

static_assert(std::endian::native == std::endian::little, "the oracle logit files are little-endian");

// transformers float32 vs ptq float32 on the same weights: only float32 rounding of differently ordered sums.
constexpr double kFloat32Tolerance = 1e-4;
// ptq bf16 vs transformers bf16: both round every activation to bf16 (8 significant bits; logits reach |10|, where
// one bf16 step is 0.0625) but differ in the attention kernel (transformers eager: fp32 softmax cast to bf16; ptq:
// SDPA) and in where rounding happens, so differences of a few bf16 steps at the largest logits are expected.
// transformers' own bf16 logits differ from its float32 ones by ~0.21 on this fixture.
constexpr double kBf16Tolerance = 0.35;

struct Oracle {
  std::string name, dir;
  nlohmann::json ref;
  std::vector<at::Tensor> ids;  // int64 [B, T], one per input

  // The reference logits of one kind ("float32" or "bfloat16"), as float32 [B, T, vocab] per input.
  std::vector<at::Tensor> logits(const std::string& kind) const {
    const auto& d = ref.at("logits").at(kind);
    const std::string dtype = d.at("dtype").get<std::string>();
    const at::ScalarType st = dtype == "float32" ? at::kFloat : at::kBFloat16;
    EXPECT_TRUE(dtype == "float32" || dtype == "bfloat16") << dtype;
    EXPECT_EQ(d.at("byte_order").get<std::string>(), "little");
    const std::string bytes = test::read_file((fs::path(dir) / d.at("file").get<std::string>()).string());
    const int64_t V = ref.at("vocab_size").get<int64_t>();
    std::vector<at::Tensor> out;
    size_t offset = 0;
    for (const auto& t : ids) {
      at::Tensor l = at::empty({t.size(0), t.size(1), V}, st);
      const size_t n = static_cast<size_t>(l.numel()) * l.element_size();
      if (offset + n > bytes.size()) {
        ADD_FAILURE() << name << ": " << d.at("file") << " is too short";
        return {};
      }
      std::memcpy(l.data_ptr(), bytes.data() + offset, n);
      out.push_back(l.to(at::kFloat));
      offset += n;
    }
    EXPECT_EQ(offset, bytes.size()) << name << ": " << d.at("file") << " has trailing bytes";
    return out;
  }
};

Oracle load_oracle(const std::string& name) {
  Oracle o;
  o.name = name;
  o.dir = test::fixture_path("oracles/" + name);
  o.ref = nlohmann::json::parse(test::read_file(o.dir + "/reference.json"));
  for (const auto& in : o.ref.at("inputs")) {
    const auto rows = in.at("ids").get<std::vector<std::vector<int64_t>>>();
    std::vector<int64_t> flat;
    for (const auto& r : rows) flat.insert(flat.end(), r.begin(), r.end());
    o.ids.push_back(at::tensor(flat, at::kLong).view({static_cast<int64_t>(rows.size()), -1}));
  }
  return o;
}

CausalLM load(const std::string& dir, std::optional<at::ScalarType> dtype = at::kFloat) {
  return load_causal_lm(*open_checkpoint(dir), {dtype});
}

std::vector<at::Tensor> forward_all(CausalLM& m, const Oracle& o) {
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> out;
  for (const auto& t : o.ids) out.push_back(m->forward(t));
  return out;
}

double max_abs_diff(const std::vector<at::Tensor>& got, const std::vector<at::Tensor>& want) {
  EXPECT_EQ(got.size(), want.size());
  double d = 0;
  for (size_t i = 0; i < std::min(got.size(), want.size()); ++i) {
    EXPECT_EQ(got[i].sizes(), want[i].sizes()) << "input " << i;
    if (got[i].sizes() == want[i].sizes()) d = std::max(d, (got[i] - want[i]).abs().max().item<double>());
  }
  return d;
}

void report(const std::string& what, double diff) {
  std::cout << "[ oracle   ] " << what << ": max |logit diff| = " << diff << std::endl;
  std::string key = "max_abs_logit_diff_" + what;
  for (char& ch : key)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  ::testing::Test::RecordProperty(key, std::to_string(diff));
}

class HfOracle : public ::testing::TestWithParam<std::string> {};

TEST_P(HfOracle, Float32LogitsMatchTransformers) {
  const Oracle o = load_oracle(GetParam());
  CausalLM m = load(o.dir);
  ASSERT_EQ(m->dtype(), at::kFloat);
  const double diff = max_abs_diff(forward_all(m, o), o.logits("float32"));
  report(GetParam() + " float32", diff);
  EXPECT_LE(diff, kFloat32Tolerance) << GetParam();
}

TEST_P(HfOracle, KvCacheDecodingMatchesTransformers) {
  // The long input as a 150-token prefill and then one token at a time: rope tables at every start offset.
  const Oracle o = load_oracle(GetParam());
  CausalLM m = load(o.dir);
  const at::Tensor ids = o.ids.back();
  const at::Tensor want = o.logits("float32").back();
  const int64_t prefill = 150;
  ASSERT_GT(ids.size(1), prefill);
  at::NoGradGuard no_grad;
  KVCache cache;
  std::vector<at::Tensor> steps = {m->forward(ids.narrow(1, 0, prefill), &cache)};
  for (int64_t p = prefill; p < ids.size(1); ++p) steps.push_back(m->forward(ids.narrow(1, p, 1), &cache));
  EXPECT_EQ(cache.length(), ids.size(1));
  const double diff = max_abs_diff({at::cat(steps, 1)}, {want});
  report(GetParam() + " float32 kv-cache", diff);
  EXPECT_LE(diff, kFloat32Tolerance) << GetParam();
}

INSTANTIATE_TEST_SUITE_P(Fixtures, HfOracle,
                         ::testing::Values("llama3", "qwen2", "mistral", "llama_bf16", "llama_sharded"),
                         [](const auto& info) { return info.param; });

// The fixtures really exercise what they are named after (a fixture that silently lost its feature would still
// pass the logit comparison).
TEST(HfOracleFixtures, ExerciseTheirFeatures) {
  {
    auto ck = open_checkpoint(test::fixture_path("oracles/llama3"));
    const ModelConfig& c = ck->config();
    EXPECT_EQ(c.rope_scaling.type, "llama3");
    EXPECT_EQ(c.rope_theta, 500000.0);
    EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 64);
    ModelConfig plain = c;
    plain.rope_scaling = RopeScaling{};
    const at::Tensor scaled = rope_inv_freq(c), unscaled = rope_inv_freq(plain);
    EXPECT_GE(scaled.ne(unscaled).sum().item<int64_t>(), 2);
    EXPECT_EQ(scaled[0].item<float>(), unscaled[0].item<float>());  // the highest frequency is kept
    EXPECT_LT(c.num_kv_heads, c.num_heads);
    EXPECT_FALSE(c.tie_word_embeddings);
  }
  {
    auto ck = open_checkpoint(test::fixture_path("oracles/qwen2"));
    const ModelConfig& c = ck->config();
    EXPECT_EQ(c.arch, Arch::kQwen2);
    EXPECT_TRUE(c.qkv_bias);
    EXPECT_FALSE(c.o_bias);
    EXPECT_EQ(c.rope_theta, 1e6);
    for (const char* b : {"q_proj", "k_proj", "v_proj"})
      EXPECT_GT(ck->load(fmt::format("model.layers.0.self_attn.{}.bias", b)).abs().max().item<double>(), 0.1) << b;
    EXPECT_TRUE(ck->has("lm_head.weight"));
  }
  {
    auto ck = open_checkpoint(test::fixture_path("oracles/mistral"));
    const ModelConfig& c = ck->config();
    EXPECT_EQ(c.arch, Arch::kMistral);
    EXPECT_EQ(c.head_dim, 24);
    EXPECT_NE(c.head_dim, c.hidden_size / c.num_heads);
    EXPECT_TRUE(c.tie_word_embeddings);
    EXPECT_FALSE(ck->has("lm_head.weight"));
  }
  {
    auto ck = open_checkpoint(test::fixture_path("oracles/llama_bf16"));
    EXPECT_EQ(ck->config().dtype, at::kBFloat16);
    EXPECT_EQ(ck->load("model.embed_tokens.weight").scalar_type(), at::kBFloat16);
    EXPECT_EQ(ck->config().num_kv_heads, ck->config().num_heads);
  }
  {
    auto ck = HfCheckpoint::open(test::fixture_path("oracles/llama_sharded"));
    EXPECT_EQ(ck->files().size(), 2u);
    EXPECT_TRUE(fs::exists(test::fixture_path("oracles/llama_sharded/model.safetensors.index.json")));
    auto single = open_checkpoint(test::fixture_path("oracles/llama_bf16"));
    ASSERT_EQ(ck->names(), single->names());
    for (const auto& name : ck->names()) EXPECT_TRUE(at::equal(ck->load(name), single->load(name))) << name;
  }
}

TEST(HfOracleBf16, Bf16ForwardIsCloseToTransformersBf16) {
  const Oracle o = load_oracle("llama_bf16");
  CausalLM m = load(o.dir, std::nullopt);  // the checkpoint's dtype: bfloat16
  ASSERT_EQ(m->dtype(), at::kBFloat16);
  const auto got = forward_all(m, o);
  const auto want = o.logits("bfloat16");
  const double diff = max_abs_diff(got, want);
  report("llama_bf16 bfloat16 vs transformers bfloat16", diff);
  report("llama_bf16 bfloat16 vs transformers float32", max_abs_diff(got, o.logits("float32")));
  EXPECT_LE(diff, kBf16Tolerance);
  // The predictions agree almost everywhere (ties within bf16 rounding may flip a few).
  int64_t agree = 0, total = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    agree += got[i].argmax(-1).eq(want[i].argmax(-1)).sum().item<int64_t>();
    total += got[i].size(0) * got[i].size(1);
  }
  std::cout << "[ oracle   ] llama_bf16 bfloat16 argmax agreement " << agree << "/" << total << std::endl;
  EXPECT_GE(agree, total * 95 / 100);
}

class HfOracleRopeParameters : public ::testing::TestWithParam<std::string> {};

TEST_P(HfOracleRopeParameters, Transformers5ConfigGivesIdenticalLogits) {
  const Oracle o = load_oracle(GetParam());
  test::TempDir tmp;
  for (const auto& e : fs::directory_iterator(o.dir))
    if (e.path().extension() == ".safetensors") fs::copy_file(e.path(), fs::path(tmp.path()) / e.path().filename());
  fs::copy_file(fs::path(o.dir) / "config_rope_parameters.json", tmp.file("config.json"));
  const auto v5_json = nlohmann::json::parse(test::read_file(tmp.file("config.json")));
  ASSERT_TRUE(v5_json.contains("rope_parameters") && !v5_json.contains("rope_theta") &&
              !v5_json.contains("rope_scaling") && v5_json.contains("dtype") && !v5_json.contains("torch_dtype"));

  auto legacy_ck = open_checkpoint(o.dir), v5_ck = open_checkpoint(tmp.path());
  const ModelConfig &a = legacy_ck->config(), &b = v5_ck->config();
  EXPECT_EQ(a.rope_theta, b.rope_theta);
  EXPECT_EQ(a.rope_scaling.type, b.rope_scaling.type);
  EXPECT_EQ(a.rope_scaling.factor, b.rope_scaling.factor);
  EXPECT_EQ(a.rope_scaling.low_freq_factor, b.rope_scaling.low_freq_factor);
  EXPECT_EQ(a.rope_scaling.high_freq_factor, b.rope_scaling.high_freq_factor);
  EXPECT_EQ(a.rope_scaling.original_max_position_embeddings, b.rope_scaling.original_max_position_embeddings);
  EXPECT_EQ(a.dtype, b.dtype);

  CausalLM legacy = load_causal_lm(*legacy_ck, {at::kFloat}), v5 = load_causal_lm(*v5_ck, {at::kFloat});
  const auto la = forward_all(legacy, o), lb = forward_all(v5, o);
  for (size_t i = 0; i < la.size(); ++i) EXPECT_TRUE(at::equal(la[i], lb[i])) << GetParam() << " input " << i;
  report(GetParam() + " rope_parameters config vs rope_theta/rope_scaling config", max_abs_diff(lb, la));
}

INSTANTIATE_TEST_SUITE_P(Fixtures, HfOracleRopeParameters, ::testing::Values("llama3", "qwen2"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace ptq
