// BM_Forward: prefill throughput (tokens/s) of Llama-shaped random models (fp32, 8 layers, head_dim 64, vocab 32000)
// of hidden 512, 1024 and 2048 (intermediate 1536, 2816, 5632: Llama's 8/3·hidden rounded up to 256) on sequences of
// 512 tokens, with the achieved FLOP/s and its ratio to the fp32 GEMM rate measured in the same program: gemm_frac is
// against the square GEMM of n = hidden (ptq::measure_gemm_gflops), gemm_frac_2048 against n = 2048, the best rate
// this machine's BLAS reaches. Threads: --threads=N (default 1).
//
// FLOPs counted per sequence of T tokens (multiply-add = 2): linears 2·T·(4·H² + 3·H·I) per layer, attention
// scores and weighted sum 2·2·H·T(T+1)/2 per layer (causal: query t sees t+1 keys), LM head 2·T·H·V.
#include <benchmark/benchmark.h>

#include "bench_main.h"
#include <ATen/ATen.h>

#include <map>

#include "core/system_info.h"
#include "core/threads.h"
#include "model/causal_lm.h"

namespace {

std::map<int64_t, double> g_gemm_gflops;  // n -> fp32 GEMM GFLOP/s, measured before any benchmark

ptq::ModelConfig bench_config(int64_t hidden) {
  ptq::ModelConfig c;
  c.hidden_size = hidden;
  c.intermediate_size = (8 * hidden / 3 + 255) / 256 * 256;
  c.num_layers = 8;
  c.head_dim = 64;
  c.num_heads = hidden / 64;
  c.num_kv_heads = c.num_heads;
  c.vocab_size = 32000;
  c.max_position_embeddings = 4096;
  c.rms_norm_eps = 1e-5;
  return c;
}

ptq::CausalLM& model(int64_t hidden) {
  static std::map<int64_t, ptq::CausalLM> models;
  auto it = models.find(hidden);
  if (it == models.end()) {
    at::manual_seed(0);
    ptq::CausalLM lm(bench_config(hidden));
    at::NoGradGuard g;
    for (auto& p : lm->parameters()) p.normal_(0.0, 0.02);
    lm->eval();
    it = models.emplace(hidden, lm).first;
  }
  return it->second;
}

void BM_Forward(benchmark::State& state) {
  const int64_t H = state.range(0), T = state.range(1), B = state.range(2);
  const ptq::ModelConfig c = bench_config(H);
  ptq::CausalLM& m = model(H);
  at::Tensor ids = at::randint(0, c.vocab_size, {B, T}, at::kLong);
  at::NoGradGuard g;
  benchmark::DoNotOptimize(m->forward(ids).data_ptr());  // untimed warm-up: allocator, thread pool
  for (auto _ : state) {
    at::Tensor logits = m->forward(ids);
    benchmark::DoNotOptimize(logits.data_ptr());
  }
  const double h = static_cast<double>(H), I = static_cast<double>(c.intermediate_size),
               V = static_cast<double>(c.vocab_size), L = static_cast<double>(c.num_layers), t = static_cast<double>(T);
  const double flops_per_seq = L * (2 * t * (4 * h * h + 3 * h * I) + 4 * h * t * (t + 1) / 2) + 2 * t * h * V;
  const double seqs = static_cast<double>(state.iterations() * B);
  state.SetItemsProcessed(state.iterations() * B * T);
  state.counters["tokens_per_s"] = benchmark::Counter(seqs * t, benchmark::Counter::kIsRate);
  state.counters["GFLOP/s"] = benchmark::Counter(seqs * flops_per_seq / 1e9, benchmark::Counter::kIsRate);
  state.counters["gemm_GFLOP/s"] = g_gemm_gflops.at(H);
  state.counters["gemm_2048_GFLOP/s"] = g_gemm_gflops.at(2048);
  // Fractions of the GEMM rates: kIsRate divides by the elapsed time, so flops / gemm rate per second is the fraction.
  state.counters["gemm_frac"] =
      benchmark::Counter(seqs * flops_per_seq / 1e9 / g_gemm_gflops.at(H), benchmark::Counter::kIsRate);
  state.counters["gemm_frac_2048"] =
      benchmark::Counter(seqs * flops_per_seq / 1e9 / g_gemm_gflops.at(2048), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Forward)
    ->ArgNames({"hidden", "seq", "batch"})
    ->Args({512, 512, 1})
    ->Args({1024, 512, 1})
    ->Args({2048, 512, 1})
    ->Args({1024, 128, 4})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  return ptq::bench::run_main(argc, argv, [] {
    for (int64_t n : {512, 1024, 2048}) {
      // Best of 20: one preempted product must not set the yardstick (n = 512 takes ~3 ms).
      g_gemm_gflops[n] = ptq::measure_gemm_gflops(static_cast<int>(n), 20);
      benchmark::AddCustomContext("gemm_fp32_gflops_n" + std::to_string(n), std::to_string(g_gemm_gflops[n]));
    }
    for (int64_t h : {512, 1024, 2048}) model(h);  // build and initialise the weights outside every timed region
  });
}
