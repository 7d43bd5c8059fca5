// stories260K in its three on-disk forms against ../shared/data/fixtures/stories260K_reference.json (logits from
// llama2.c run.c, cross-checked by an independent forward): logits, token ids and window NLLs.
#include <gtest/gtest.h>
#include <ATen/ATen.h>

#include <nlohmann/json.hpp>

#include <fstream>

#include <torch/cuda.h>

#include "core/device.h"
#include "core/error.h"
#include "model/loaded_model.h"
#include "support/stories260k.h"
#include "support/test_data.h"

namespace ptq {
namespace {

const nlohmann::json& fixture() { return test::stories_reference(); }
std::string form_path(const std::string& form) { return test::stories_path(form); }
LoadedModel load_form(const std::string& form) { return test::load_stories(form); }

at::Tensor ids_tensor(const std::vector<int32_t>& ids) {
  return at::tensor(std::vector<int64_t>(ids.begin(), ids.end()), at::kLong);
}

class Stories260K : public ::testing::TestWithParam<std::string> {};

TEST_P(Stories260K, PromptLogitsMatchReference) {
  LoadedModel m = load_form(GetParam());
  const auto& prompt = fixture()["prompt"];
  const auto ids = prompt["token_ids"].get<std::vector<int32_t>>();
  at::NoGradGuard no_grad;
  at::Tensor logits = m.model->forward(ids_tensor(ids).unsqueeze(0))[0];
  ASSERT_EQ(logits.sizes(), at::IntArrayRef({13, 512}));
  for (int pos : prompt["logits_positions"].get<std::vector<int>>()) {
    at::Tensor ref = at::tensor(prompt["logits"][std::to_string(pos)].get<std::vector<float>>());
    const double diff = (logits[pos] - ref).abs().max().item<double>();
    EXPECT_LE(diff, 1e-4) << GetParam() << " position " << pos;
    std::printf("[ info     ] %s position %d: max |logit - reference| = %.2e\n", GetParam().c_str(), pos, diff);
    EXPECT_EQ(logits[pos].argmax().item<int64_t>(), prompt["argmax"][std::to_string(pos)].get<int64_t>());
  }
}

TEST_P(Stories260K, TokenizerReproducesReferenceIds) {
  LoadedModel m = load_form(GetParam());
  const auto& prompt = fixture()["prompt"];
  EXPECT_EQ(m.tokenizer->encode(prompt["text"].get<std::string>(), /*add_bos=*/true),
            prompt["token_ids"].get<std::vector<int32_t>>());
  const auto& ev = fixture()["evaluation"];
  const auto got = m.tokenizer->encode(ev["text"].get<std::string>(), /*add_bos=*/false);
  const auto want = ev["token_ids"].get<std::vector<int32_t>>();
  ASSERT_EQ(got.size(), want.size()) << m.tokenizer->kind();
  EXPECT_EQ(got, want) << m.tokenizer->kind();
  EXPECT_EQ(m.tokenizer->decode(got), ev["text"].get<std::string>()) << m.tokenizer->kind();
}

TEST_P(Stories260K, WindowNllsMatchReference) {
  // 13 non-overlapping 256-token windows, positions 1..255 scored, NLL summed in float64 (fixture "scoring").
  LoadedModel m = load_form(GetParam());
  const auto& ev = fixture()["evaluation"];
  const auto ids = ev["token_ids"].get<std::vector<int32_t>>();
  const int64_t L = ev["window_length"].get<int64_t>(), W = ev["windows"].get<int64_t>();
  at::Tensor windows = ids_tensor(ids).narrow(0, 0, W * L).view({W, L});
  at::NoGradGuard no_grad;
  at::Tensor logp = at::log_softmax(m.model->forward(windows).to(at::kDouble), -1);
  at::Tensor nll = -logp.narrow(1, 0, L - 1).gather(2, windows.narrow(1, 1, L - 1).unsqueeze(-1)).squeeze(-1);
  at::Tensor per_window = nll.sum(1);
  const auto ref = ev["per_window_nll_sum"].get<std::vector<double>>();
  for (int64_t w = 0; w < W; ++w)
    EXPECT_NEAR(per_window[w].item<double>(), ref[w], 1e-5 * std::abs(ref[w])) << GetParam() << " window " << w;
  const double mean = nll.sum().item<double>() / static_cast<double>(W * (L - 1));
  EXPECT_NEAR(mean, ev["nll_mean"].get<double>(), 1e-6 * ev["nll_mean"].get<double>()) << GetParam();
}

TEST_P(Stories260K, KvCacheMatchesFullForward) {
  LoadedModel m = load_form(GetParam());
  const auto ids = fixture()["prompt"]["token_ids"].get<std::vector<int32_t>>();
  at::Tensor t = ids_tensor(ids).unsqueeze(0);
  at::NoGradGuard no_grad;
  at::Tensor full = m.model->forward(t);
  KVCache cache;
  at::Tensor first = m.model->forward(t.narrow(1, 0, 5), &cache);
  std::vector<at::Tensor> steps = {first};
  for (int64_t p = 5; p < t.size(1); ++p) steps.push_back(m.model->forward(t.narrow(1, p, 1), &cache));
  EXPECT_EQ(cache.length(), t.size(1));
  // Same arithmetic in a different order (cached keys, one query at a time): float32 rounding only; logits are O(10).
  EXPECT_LE((at::cat(steps, 1) - full).abs().max().item<double>(), 5e-5);
}

// The same forward on the GPU (runs only where a CUDA device exists; filtered out elsewhere by the test main).
TEST(Stories260K, CpuAndGpuLogitsAgree_CUDA) {
  LoadOptions gpu;
  gpu.device = resolve_device("cuda");
  LoadedModel c = load_form("hf");
  LoadedModel g = load_model(form_path("hf"), "", gpu);
  const auto ids = fixture()["prompt"]["token_ids"].get<std::vector<int32_t>>();
  at::NoGradGuard no_grad;
  at::Tensor lc = c.model->forward(ids_tensor(ids).unsqueeze(0));
  at::Tensor lg = g.model->forward(ids_tensor(ids).unsqueeze(0)).cpu();
  EXPECT_LE((lc - lg).abs().max().item<double>(), 1e-4);
}

TEST(Device, NamesResolveOrFailClearly) {
  EXPECT_EQ(resolve_device("cpu"), at::Device(at::kCPU));
  EXPECT_EQ(resolve_device("auto").is_cuda(), torch::cuda::is_available());
  try {
    resolve_device("tpu");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown device 'tpu'"), std::string::npos);
  }
  if (!torch::cuda::is_available()) {
    try {
      resolve_device("cuda:0");
      FAIL();
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("requested but LibTorch sees 0 CUDA device(s)"), std::string::npos)
          << e.what();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Forms, Stories260K, ::testing::Values("hf", "llama2c", "gguf_v3", "gguf_v1"),
                         [](const auto& info) { return info.param; });

TEST(Stories260K, AllFormsLoadIdenticalTensors) {
  auto hf = open_checkpoint(form_path("hf"));
  auto bin = open_checkpoint(form_path("llama2c"));
  auto gguf = open_checkpoint(form_path("gguf_v3"));
  ASSERT_EQ(hf->names(), bin->names());
  for (const auto& name : hf->names()) {
    at::Tensor a = hf->load(name);
    EXPECT_TRUE(at::equal(a, bin->load(name))) << name;
    EXPECT_TRUE(at::equal(a, gguf->load(name))) << name;
  }
  // The GGUF stores the classifier separately (output.weight); it equals the tied embedding.
  EXPECT_FALSE(gguf->config().tie_word_embeddings);
  EXPECT_TRUE(at::equal(gguf->load("lm_head.weight"), hf->load("model.embed_tokens.weight")));
}

}  // namespace
}  // namespace ptq
