// GPTQ on one 4096 x 4096 Linear, w4 g128 asymmetric, blocksize 128, percdamp 0.01:
//   BM_GptqHessian  accumulating H from 128 sequences x 2048 tokens (262144 tokens, one add() per sequence; 8
//                   distinct random sequences are cycled so that generating inputs stays outside the timing)
//   BM_GptqSolve    gptq_quantize on that H (act_order off / on)
//   BM_GptqLayer    both, as the pipeline runs them for one layer (act_order off / on)
// Threads: --threads=N (default 1; LibTorch intra-op threads). One iteration each: these take seconds to minutes.
#include <benchmark/benchmark.h>

#include "bench_main.h"
#include <ATen/ATen.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/system_info.h"
#include "core/threads.h"
#include "methods/gptq_solver.h"

namespace {

constexpr int64_t kN = 4096, kSeqs = 128, kTokens = 2048, kDistinct = 8;
const ptq::QuantSpec kSpec{4, false, ptq::Granularity::kPerGroup, 128};

// Correlated inputs with a few outlier channels: X = Z·A, A = I + dense mixing.
const std::vector<at::Tensor>& sequences() {
  static const std::vector<at::Tensor> xs = [] {
    at::manual_seed(0);
    at::Tensor A = at::eye(kN) + 0.5 * at::randn({kN, kN}) / 64.0;
    std::vector<at::Tensor> out;
    for (int64_t i = 0; i < kDistinct; ++i) {
      at::Tensor x = at::randn({kTokens, kN}).matmul(A);
      x.narrow(1, 0, 8).mul_(20);
      out.push_back(x.unsqueeze(0));
    }
    return out;
  }();
  return xs;
}

const at::Tensor& weight() {
  static const at::Tensor w = [] {
    at::manual_seed(1);
    return 0.02 * at::randn({kN, kN});
  }();
  return w;
}

at::Tensor accumulate() {
  ptq::GptqHessian h(kN);
  for (int64_t s = 0; s < kSeqs; ++s) h.add(sequences()[s % kDistinct]);
  return h.matrix();
}

const at::Tensor& hessian() {
  static const at::Tensor h = accumulate();
  return h;
}

void BM_GptqHessian(benchmark::State& state) {
  sequences();
  for (auto _ : state) {
    at::Tensor h = accumulate();
    benchmark::DoNotOptimize(h.data_ptr());
  }
  state.counters["tokens/s"] =
      benchmark::Counter(static_cast<double>(kSeqs * kTokens) * state.iterations(), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_GptqHessian)->Unit(benchmark::kSecond)->UseRealTime()->Iterations(1);

void BM_GptqSolve(benchmark::State& state) {
  ptq::GptqOptions opt;
  opt.act_order = state.range(0) != 0;
  const at::Tensor& h = hessian();
  weight();
  for (auto _ : state) {
    ptq::GptqResult r = ptq::gptq_quantize(weight(), h, kSpec, opt);
    benchmark::DoNotOptimize(r.weight.data_ptr());
  }
  state.SetLabel(kSpec.describe());
}
BENCHMARK(BM_GptqSolve)->ArgName("act_order")->Arg(0)->Arg(1)->Unit(benchmark::kSecond)->UseRealTime()->Iterations(1);

void BM_GptqLayer(benchmark::State& state) {
  ptq::GptqOptions opt;
  opt.act_order = state.range(0) != 0;
  sequences();
  weight();
  for (auto _ : state) {
    ptq::GptqResult r = ptq::gptq_quantize(weight(), accumulate(), kSpec, opt);
    benchmark::DoNotOptimize(r.weight.data_ptr());
  }
  state.SetLabel(kSpec.describe());
}
BENCHMARK(BM_GptqLayer)->ArgName("act_order")->Arg(0)->Arg(1)->Unit(benchmark::kSecond)->UseRealTime()->Iterations(1);

}  // namespace

int main(int argc, char** argv) { return ptq::bench::run_main(argc, argv); }
