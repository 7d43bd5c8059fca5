// BM_Forward: prefill throughput (tokens/s) of a Llama-shaped random model (hidden 1024, 8 layers, 16 heads,
// intermediate 2816, vocab 32000, fp32) on sequences of 512 tokens, with the achieved FLOP/s and its ratio to the
// fp32 GEMM rate measured in the same program (ptq::measure_gemm_gflops at n = 1024). Threads: --threads=N (default 1).
//
// FLOPs counted per sequence of T tokens (multiply-add = 2): linears 2·T·(4·H² + 3·H·I) per layer, attention
// scores and weighted sum 2·2·H·T(T+1)/2 per layer (causal: query t sees t+1 keys), LM head 2·T·H·V.
#include <benchmark/benchmark.h>

#include "bench_main.h"
#include <ATen/ATen.h>

#include <cstdlib>
#include <cstring>

#include "core/system_info.h"
#include "core/threads.h"
#include "model/causal_lm.h"

namespace {

double g_gemm_gflops = 0;

ptq::ModelConfig bench_config() {
  ptq::ModelConfig c;
  c.hidden_size = 1024;
  c.intermediate_size = 2816;
  c.num_layers = 8;
  c.num_heads = 16;
  c.num_kv_heads = 16;
  c.head_dim = 64;
  c.vocab_size = 32000;
  c.max_position_embeddings = 4096;
  c.rms_norm_eps = 1e-5;
  return c;
}

ptq::CausalLM& model() {
  static ptq::CausalLM m = [] {
    at::manual_seed(0);
    ptq::CausalLM lm(bench_config());
    at::NoGradGuard g;
    for (auto& p : lm->parameters()) p.normal_(0.0, 0.02);
    lm->eval();
    return lm;
  }();
  return m;
}

void BM_Forward(benchmark::State& state) {
  const int64_t T = state.range(0), B = state.range(1);
  const ptq::ModelConfig c = bench_config();
  at::Tensor ids = at::randint(0, c.vocab_size, {B, T}, at::kLong);
  at::NoGradGuard g;
  for (auto _ : state) {
    at::Tensor logits = model()->forward(ids);
    benchmark::DoNotOptimize(logits.data_ptr());
  }
  const double H = static_cast<double>(c.hidden_size), I = static_cast<double>(c.intermediate_size),
               V = static_cast<double>(c.vocab_size), L = static_cast<double>(c.num_layers), t = static_cast<double>(T);
  const double flops_per_seq = L * (2 * t * (4 * H * H + 3 * H * I) + 4 * H * t * (t + 1) / 2) + 2 * t * H * V;
  const double seqs = static_cast<double>(state.iterations() * B);
  state.SetItemsProcessed(state.iterations() * B * T);
  state.counters["tokens_per_s"] = benchmark::Counter(seqs * t, benchmark::Counter::kIsRate);
  state.counters["GFLOP/s"] = benchmark::Counter(seqs * flops_per_seq / 1e9, benchmark::Counter::kIsRate);
  state.counters["gemm_GFLOP/s"] = g_gemm_gflops;
}
BENCHMARK(BM_Forward)->ArgNames({"seq", "batch"})->Args({512, 1})->Args({128, 4})->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  return ptq::bench::run_main(argc, argv, [] {
    g_gemm_gflops = ptq::measure_gemm_gflops(1024, 5);
    model();  // build and initialise the weights outside every timed region
    benchmark::AddCustomContext("gemm_fp32_gflops_n1024", std::to_string(g_gemm_gflops));
  });
}
