// CPU/GPU parity of every registered method on stories260K (runs only where a CUDA device exists; the test main
// filters *_CUDA out elsewhere): the same calibration windows, the method's defaults, w4g32 weight-only and w8a8; the
// fake-quant perplexity on TinyStories stories 0..499 (8 windows of 256) must agree within 1e-3 relative (float32 on
// both; the GPU's reductions and Cholesky round differently, so codes near a rounding boundary may flip, which moves
// the perplexity by ~1e-5 on this model). Also the fp perplexity itself, within 1e-5.
#include <gtest/gtest.h>
#include <ATen/ATen.h>

#include <cstdio>

#include "core/device.h"
#include "methods/method.h"
#include "eval/perplexity.h"
#include "model/loaded_model.h"
#include "pipeline/pipeline.h"
#include "support/stories260k.h"
#include "support/test_data.h"

namespace ptq {
namespace {

double quantized_ppl(const MethodInfo& info, const char* scheme, const std::string& device) {
  LoadOptions lo;
  lo.device = resolve_device(device);
  LoadedModel m = load_model(test::data_path("models/stories260K-hf"), "", lo);
  std::vector<at::Tensor> calib = test::tinystories_windows(*m.tokenizer, 8, 128, 500, 540);
  for (auto& c : calib) c = c.to(lo.device);
  auto method = info.make({});
  run_pipeline(*m.model, calib, *method, QuantScheme::parse(scheme));
  return perplexity(m.model, test::stories_eval_ids(), test::stories_eval_options()).ppl;
}

TEST(CudaParity, FpPerplexityMatches_CUDA) {
  LoadedModel c = load_model(test::data_path("models/stories260K-hf"));
  LoadOptions lo;
  lo.device = resolve_device("cuda");
  LoadedModel g = load_model(test::data_path("models/stories260K-hf"), "", lo);
  const double pc = perplexity(c.model, test::stories_eval_ids(), test::stories_eval_options()).ppl;
  const double pg = perplexity(g.model, test::stories_eval_ids(), test::stories_eval_options()).ppl;
  EXPECT_NEAR(pg / pc, 1.0, 1e-5) << pc << " vs " << pg;
}

TEST(CudaParity, EveryMethodMatchesCpu_CUDA) {
  for (const MethodInfo& info : methods()) {
    for (const char* scheme : {"w4g32", "w8a8"}) {
      if (info.scheme_problem && !info.scheme_problem(QuantScheme::parse(scheme)).empty()) continue;
      const double pc = quantized_ppl(info, scheme, "cpu");
      const double pg = quantized_ppl(info, scheme, "cuda");
      std::printf("[ info     ] %s %s: ppl cpu %.6f cuda %.6f (relative %.2e)\n", std::string(info.id).c_str(),
                  scheme, pc, pg, std::abs(pg - pc) / pc);
      EXPECT_NEAR(pg / pc, 1.0, 1e-3) << info.id << " " << scheme;
    }
  }
}

// Offload (PipelineOptions::device): the model in pinned host memory, each block visiting the GPU for its turn, gives
// the same quantized model as the whole model on the GPU (same kernels, same order), and leaves nothing on the GPU.
TEST(CudaParity, OffloadedBlocksMatchTheModelOnTheGpu_CUDA) {
  for (const char* id : {"gptq", "awq"}) {
    const MethodInfo& info = find_method(id);
    const double on_gpu = quantized_ppl(info, "w4g32", "cuda");
    LoadedModel m = load_model(test::data_path("models/stories260K-hf"));
    move_to_host(*m.model, /*pin=*/true);
    std::vector<at::Tensor> calib = test::tinystories_windows(*m.tokenizer, 8, 128, 500, 540);
    PipelineOptions opt;
    opt.device = resolve_device("cuda");
    auto method = info.make({});
    run_pipeline(*m.model, calib, *method, QuantScheme::parse("w4g32"), opt);
    for (const auto& p : m.model->parameters()) {
      EXPECT_TRUE(p.device().is_cpu()) << id;
      EXPECT_TRUE(p.is_pinned()) << id;
    }
    m.model->to(resolve_device("cuda"));
    const double offloaded = perplexity(m.model, test::stories_eval_ids(), test::stories_eval_options()).ppl;
    EXPECT_NEAR(offloaded / on_gpu, 1.0, 1e-6) << id << ": " << offloaded << " vs " << on_gpu;
  }
}

}  // namespace
}  // namespace ptq
