// BM_AwqBlock: AWQ (scale search over 20 ratios + clip search + quantization, w4g128 asym) on one Llama-7B-shaped
// decoder block (hidden 4096, 32 heads, intermediate 11008, random weights, fp32) with 256 calibration tokens, the 20
// ratios evaluated in batched passes (batched:1) or one at a time (batched:0, the reference loop).
// BM_AwqScaleSearch: the scale search alone (capture forward, references, 20 ratios of the four subsets, folding; no
// clip search, no quantization, no error bookkeeping) on one block of hidden 1024 / intermediate 2816 / 8 heads with
// 8 x 512 tokens; counters: its GEMM FLOPs (count below), the rate it reached, the machine's fp32 GEMM rate at the
// same thread count (square 2048, best of 5) and their ratio, gemm_fraction.
// Threads: --threads=N (default 1).
#include <benchmark/benchmark.h>

#include "bench_main.h"

#include <ATen/ATen.h>

#include "methods/method.h"
#include "model/causal_lm.h"
#include "pipeline/pipeline.h"

namespace {

ptq::CausalLM random_model(const ptq::ModelConfig& c) {
  ptq::CausalLM m(c);
  at::NoGradGuard g;
  for (auto& p : m->parameters()) p.normal_(0.0, 0.02);
  for (auto& item : m->named_parameters())
    if (item.key().find("norm") != std::string::npos) item.value().fill_(1.0);
  return m;
}

ptq::ModelConfig block_config(int64_t hidden = 4096, int64_t inter = 11008, int64_t heads = 32) {
  ptq::ModelConfig c;
  c.hidden_size = hidden;
  c.intermediate_size = inter;
  c.num_layers = 1;
  c.num_heads = heads;
  c.num_kv_heads = heads;
  c.head_dim = hidden / heads;
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
    ptq::CausalLM m = random_model(block_config());
    auto awq = ptq::find_method("awq").make({{"batched_search", batched}, {"weight_clip", true}});
    state.ResumeTiming();
    ptq::PipelineResult r = ptq::run_pipeline(*m, {calib}, *awq, ptq::QuantScheme::parse("w4g128"));
    benchmark::DoNotOptimize(r.block_errors.data());
  }
}
BENCHMARK(BM_AwqBlock)->ArgName("batched")->Arg(1)->Arg(0)->Unit(benchmark::kSecond)->UseRealTime()->Iterations(1);

void BM_AwqScaleSearch(benchmark::State& state) {
  const ptq::ModelConfig c = block_config(1024, 2816, 8);
  const int64_t B = 8, L = 512, T = B * L, d = c.hidden_size, I = c.intermediate_size;
  at::manual_seed(0);
  at::Tensor calib = at::randint(0, 256, {B, L}, at::kLong);
  ptq::PipelineOptions opt;
  opt.quant_out = false;  // AWQ's own setting: the capture forward's outputs are the next block's inputs
  opt.measure_errors = false;
  for (auto _ : state) {
    state.PauseTiming();
    ptq::CausalLM m = random_model(c);
    auto awq = ptq::find_method("awq").make({{"weight_clip", false}, {"quantize_weights", false}});
    state.ResumeTiming();
    ptq::PipelineResult r = ptq::run_pipeline(*m, {calib}, *awq, ptq::QuantScheme::parse("w4g128"), opt);
    benchmark::DoNotOptimize(r.seconds);
  }
  // GEMM FLOPs (2 per multiply-add) of one forward of each inspected module on all T tokens: self_attn (q, k, v, o
  // and the two attention products over the causal half, 2 B L^2 d), o_proj, mlp (gate, up, down), down_proj. The
  // search runs each once for the references and once per ratio (20), and the capture forward is one block forward.
  const double attn = 2.0 * T * d * 4 * d + 2.0 * B * L * L * d, o = 2.0 * T * d * d, mlp = 6.0 * T * d * I,
               down = 2.0 * T * I * d;
  const double flops = (attn + mlp) + 21 * (attn + o + mlp + down);
  const double gemm = ptq::measure_gemm_gflops(2048, 5) * 1e9;
  state.counters["flops"] = flops;
  state.counters["flop_rate"] = benchmark::Counter(flops * state.iterations(), benchmark::Counter::kIsRate);
  state.counters["gemm_rate"] = gemm;
  state.counters["gemm_fraction"] =
      benchmark::Counter(flops * state.iterations() / gemm, benchmark::Counter::kIsRate);  // (FLOP/s) / (GEMM FLOP/s)
}
BENCHMARK(BM_AwqScaleSearch)->Unit(benchmark::kSecond)->UseRealTime()->Iterations(1);

}  // namespace

int main(int argc, char** argv) { return ptq::bench::run_main(argc, argv); }
