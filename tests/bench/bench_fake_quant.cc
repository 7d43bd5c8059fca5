// BM_FakeQuant: fake quantization of a 4096 x 4096 fp32 weight for each granularity and bits 2/4/8, in GB/s
// (bytes read + bytes written), next to BM_TensorCopy, a plain copy of the same tensor: the ratio says how far the
// quantizer is from memory speed. Threads: --threads=N (default 1; LibTorch intra-op threads).
#include <benchmark/benchmark.h>

#include "bench_main.h"
#include <ATen/ATen.h>

#include <cstdlib>
#include <cstring>

#include "core/fake_quant.h"
#include "core/system_info.h"
#include "core/threads.h"

namespace {

constexpr int64_t kN = 4096;

const at::Tensor& weight() {
  static const at::Tensor w = [] {
    at::manual_seed(0);
    return at::randn({kN, kN});
  }();
  return w;
}

void BM_TensorCopy(benchmark::State& state) {
  const at::Tensor& w = weight();
  at::Tensor out = at::empty_like(w);
  for (auto _ : state) {
    out.copy_(w);
    benchmark::DoNotOptimize(out.data_ptr());
  }
  state.SetBytesProcessed(state.iterations() * 2 * w.numel() * static_cast<int64_t>(sizeof(float)));
}
BENCHMARK(BM_TensorCopy)->Unit(benchmark::kMillisecond)->UseRealTime();

// Args: granularity index (0 per_tensor, 1 per_channel, 2 per_group(128)), bits, symmetric.
void BM_FakeQuant(benchmark::State& state) {
  const ptq::Granularity grans[] = {ptq::Granularity::kPerTensor, ptq::Granularity::kPerChannel,
                                    ptq::Granularity::kPerGroup};
  ptq::QuantSpec spec{static_cast<int>(state.range(1)), state.range(2) != 0, grans[state.range(0)], 128};
  const at::Tensor& w = weight();
  for (auto _ : state) {
    at::Tensor q = ptq::fake_quantize(w, spec);
    benchmark::DoNotOptimize(q.data_ptr());
  }
  state.SetBytesProcessed(state.iterations() * 2 * w.numel() * static_cast<int64_t>(sizeof(float)));
  state.SetLabel(spec.describe());
}
BENCHMARK(BM_FakeQuant)
    ->ArgNames({"gran", "bits", "sym"})
    ->ArgsProduct({{0, 1, 2}, {2, 4, 8}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// In place on a private copy of the weight, restored outside the timed region: no output allocation, which on a
// 64 MB tensor costs as much as the arithmetic (page faults of a fresh buffer).
void BM_FakeQuantInPlace(benchmark::State& state) {
  const ptq::Granularity grans[] = {ptq::Granularity::kPerTensor, ptq::Granularity::kPerChannel,
                                    ptq::Granularity::kPerGroup};
  ptq::QuantSpec spec{static_cast<int>(state.range(1)), state.range(2) != 0, grans[state.range(0)], 128};
  at::Tensor w = weight().clone();
  for (auto _ : state) {
    state.PauseTiming();
    w.copy_(weight());
    state.ResumeTiming();
    ptq::fake_quantize_(w, spec);
    benchmark::DoNotOptimize(w.data_ptr());
  }
  state.SetBytesProcessed(state.iterations() * 2 * w.numel() * static_cast<int64_t>(sizeof(float)));
  state.SetLabel(spec.describe());
}
BENCHMARK(BM_FakeQuantInPlace)
    ->ArgNames({"gran", "bits", "sym"})
    ->ArgsProduct({{0, 1, 2}, {2, 4, 8}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

int main(int argc, char** argv) { return ptq::bench::run_main(argc, argv); }
