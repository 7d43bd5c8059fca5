// BM_AwqBlock: AWQ (scale search over 20 ratios + clip search + quantization, w4g128 asym) on one Llama-7B-shaped
// decoder block (hidden 4096, 32 heads, intermediate 11008, random weights, fp32) with 256 calibration tokens, the 20
// ratios evaluated in batched passes (batched:1) or one at a time (batched:0, the reference loop). Threads:
// --threads=N (default 1).
#include <benchmark/benchmark.h>

#include "bench_main.h"

#include <ATen/ATen.h>

#include "methods/method.h"
#include "model/causal_lm.h"
#include "pipeline/pipeline.h"

namespace {

ptq::ModelConfig block_config() {
  ptq::ModelConfig c;
  c.hidden_size = 4096;
  c.intermediate_size = 11008;
  c.num_layers = 1;
  c.num_heads = 32;
  c.num_kv_heads = 32;
  c.head_dim = 128;
  c.vocab_size = 256;
  c.max_position_embeddings = 4096;
  c.rms_norm_eps = 1e-5;
  return c;
}

void BM_AwqBlock(benchmark::State& state) {
  const bool batched = state.range(0) != 0;
  at::manual_seed(0);
  at::Tensor calib = at::randint(0, 256, {1, 256}, at::kLong);
  for (auto _ : state) {
    state.PauseTiming();
    ptq::CausalLM m(block_config());
    {
      at::NoGradGuard g;
      for (auto& p : m->parameters()) p.normal_(0.0, 0.02);
      for (auto& item : m->named_parameters())
        if (item.key().find("norm") != std::string::npos) item.value().fill_(1.0);
    }
    auto awq = ptq::find_method("awq").make({{"batched_search", batched}, {"weight_clip", true}});
    state.ResumeTiming();
    ptq::PipelineResult r = ptq::run_pipeline(*m, {calib}, *awq, ptq::QuantScheme::parse("w4g128"));
    benchmark::DoNotOptimize(r.block_errors.data());
  }
}
BENCHMARK(BM_AwqBlock)->ArgName("batched")->Arg(1)->Arg(0)->Unit(benchmark::kSecond)->UseRealTime()->Iterations(1);

}  // namespace

int main(int argc, char** argv) { return ptq::bench::run_main(argc, argv); }
