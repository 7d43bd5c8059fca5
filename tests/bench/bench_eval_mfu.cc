// BM_EvalForward: perplexity-evaluation throughput of a randomly initialised Llama of a named shape (default
// llama2-7b) on the device, and its model FLOP utilisation (MFU): the forward's FLOP/s (tokens/s x FLOP per token,
// counted as bench_forward does, grouped-query attention included) over the GEMM rate measured on the same device in
// the same dtype (square n = 8192 on CUDA, 2048 on the CPU), and over a nominal peak when --peak-tflops is given.
// The eval forward is what `ptq eval` runs per window: [batch, seq] ids -> float32 logits [batch, seq, vocab].
// Flags (besides --threads, --device and Google Benchmark's):
//   --shape=NAME   llama2-7b | llama2-13b | llama3-8b (src/model/random_model.h)
//   --layers=N     keep the shape's width, change its depth (e.g. 4 where memory or time is short; MFU per layer is
//                  the same, the LM head's share grows)
//   --dtype=T      float16 | bfloat16 | float32 (default float16 on CUDA, float32 on the CPU)
//   --seq=N        window length (default 2048)          --batch=N   windows per forward (default 1)
//   --peak-tflops=X   the device's nominal dense peak in this dtype (H100/H200 SXM bf16/fp16: 989.4)
// e.g. bench_eval_mfu --device=cuda --benchmark_out=mfu.json --benchmark_out_format=json   (scripts/gpu/bench.sh)
#include <benchmark/benchmark.h>

#include "bench_main.h"

#include <ATen/ATen.h>
#include <torch/cuda.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "model/causal_lm.h"
#include "model/random_model.h"

namespace {

struct Flags {
  std::string shape = "llama2-7b";
  int64_t layers = 0, seq = 2048, batch = 1;
  std::string dtype;
  double peak_tflops = 0;
};

Flags g_flags;

at::ScalarType dtype_of(const std::string& s) {
  if (s == "float16") return at::kHalf;
  if (s == "bfloat16") return at::kBFloat16;
  if (s == "float32") return at::kFloat;
  std::fprintf(stderr, "bench_eval_mfu: --dtype=%s: not float16, bfloat16 or float32\n", s.c_str());
  std::exit(2);
}

// FLOP of one forward over T tokens (multiply-add = 2): linears 2T(H(q + 2kv) + qH + 3HI) per layer, causal
// attention scores and weighted sum 2·2·q·T(T+1)/2 per layer (q = heads x head_dim), LM head 2·T·H·V.
double forward_flops(const ptq::ModelConfig& c, double T) {
  const double H = static_cast<double>(c.hidden_size), I = static_cast<double>(c.intermediate_size),
               q = static_cast<double>(c.num_heads * c.head_dim), kv = static_cast<double>(c.num_kv_heads * c.head_dim),
               L = static_cast<double>(c.num_layers), V = static_cast<double>(c.vocab_size);
  return L * (2 * T * (H * (q + 2 * kv) + q * H + 3 * H * I) + 4 * q * T * (T + 1) / 2) + 2 * T * H * V;
}

void sync() {
  if (ptq::bench::device().is_cuda()) torch::cuda::synchronize(ptq::bench::device().index());
}

void BM_EvalForward(benchmark::State& state, ptq::ModelConfig c, at::ScalarType dtype, double gemm_gflops) {
  const at::Device dev = ptq::bench::device();
  at::manual_seed(0);
  // Built on the CPU (zero pages, not touched), converted, moved, then initialised on the device: no 27 GB fp32 host
  // copy of a 7B model is ever written.
  ptq::CausalLM m(c);
  m->to(dtype);
  m->to(dev);
  {
    at::NoGradGuard g;
    for (auto& kv : m->named_parameters()) {
      if (kv.value().dim() == 1) kv.value().fill_(1.0);
      else kv.value().normal_(0.0, ptq::gpt2_init_std(kv.key(), c.num_layers));
    }
  }
  m->eval();
  at::Tensor ids = at::randint(0, c.vocab_size, {g_flags.batch, g_flags.seq}, at::TensorOptions().dtype(at::kLong).device(dev));
  at::NoGradGuard g;
  benchmark::DoNotOptimize(m->forward(ids).data_ptr());  // warm-up: allocator, kernels, cuBLAS handles
  sync();
  for (auto _ : state) {
    at::Tensor logits = m->forward(ids);
    sync();
    benchmark::DoNotOptimize(logits.data_ptr());
  }
  const double tokens = static_cast<double>(state.iterations() * g_flags.batch * g_flags.seq);
  const double flop = static_cast<double>(state.iterations() * g_flags.batch) * forward_flops(c, static_cast<double>(g_flags.seq));
  state.counters["tokens_per_s"] = benchmark::Counter(tokens, benchmark::Counter::kIsRate);
  state.counters["TFLOP/s"] = benchmark::Counter(flop / 1e12, benchmark::Counter::kIsRate);
  state.counters["gemm_TFLOP/s"] = gemm_gflops / 1e3;
  state.counters["mfu_vs_gemm"] = benchmark::Counter(flop / (gemm_gflops * 1e9), benchmark::Counter::kIsRate);
  if (g_flags.peak_tflops > 0)
    state.counters["mfu_vs_peak"] = benchmark::Counter(flop / (g_flags.peak_tflops * 1e12), benchmark::Counter::kIsRate);
  state.counters["parameters"] = static_cast<double>([&] {
    int64_t n = 0;
    for (const auto& p : m->parameters()) n += p.numel();
    return n;
  }());
  state.counters["layers"] = static_cast<double>(c.num_layers);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](const char* flag) -> const char* {
      const size_t n = std::strlen(flag);
      return a.compare(0, n, flag) == 0 ? argv[i] + n : nullptr;
    };
    if (const char* v = value("--shape=")) g_flags.shape = v;
    else if (const char* v = value("--layers=")) g_flags.layers = std::atoll(v);
    else if (const char* v = value("--dtype=")) g_flags.dtype = v;
    else if (const char* v = value("--seq=")) g_flags.seq = std::atoll(v);
    else if (const char* v = value("--batch=")) g_flags.batch = std::atoll(v);
    else if (const char* v = value("--peak-tflops=")) g_flags.peak_tflops = std::atof(v);
    else rest.push_back(argv[i]);
  }
  int n = static_cast<int>(rest.size());
  return ptq::bench::run_main(n, rest.data(), [] {
    const at::Device dev = ptq::bench::device();
    ptq::ModelConfig c = ptq::random_model_shape(g_flags.shape);
    if (g_flags.layers > 0) c.num_layers = g_flags.layers;
    const at::ScalarType dtype = dtype_of(g_flags.dtype.empty() ? (dev.is_cuda() ? "float16" : "float32") : g_flags.dtype);
    const double gemm = ptq::measure_gemm_gflops(dev.is_cuda() ? 8192 : 2048, 5, dev, dtype);
    benchmark::AddCustomContext("gemm_gflops", std::to_string(gemm));
    benchmark::AddCustomContext("dtype", std::string(c10::toString(dtype)));
    const std::string name = "BM_EvalForward/" + g_flags.shape + "/layers:" + std::to_string(c.num_layers) +
                             "/seq:" + std::to_string(g_flags.seq) + "/batch:" + std::to_string(g_flags.batch);
    benchmark::RegisterBenchmark(name.c_str(), BM_EvalForward, c, dtype, gemm)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  });
}
