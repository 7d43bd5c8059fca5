// BM_AwqGemmPack / BM_AwqGemvPack / BM_GptqPack: packing one 4096 x 4096 4-bit Linear (groups of 128, uint8 codes and
// zeros, float32 scales; the IntegerLinear every export is written from) into its AutoAWQ GEMM, GEMV or GPTQ tensors,
// in GB/s of codes read (16 MiB), next to BM_CodesCopy, a plain copy of the same uint8 codes: the ratio says how far
// each packer is from memory speed. The export writes each layer once, so this bounds export time per layer.
// Threads: --threads=N (default 1).
#include <benchmark/benchmark.h>

#include "bench_main.h"

#include <ATen/ATen.h>

#include "export/awq_pack.h"
#include "export/gptq_pack.h"
#include "export/integer_linear.h"

namespace {

constexpr int64_t kN = 4096, kK = 4096, kG = 128;

const ptq::IntegerLinear& layer() {
  static const ptq::IntegerLinear q = [] {
    at::manual_seed(0);
    ptq::IntegerLinear l;
    l.bits = 4;
    l.group_size = kG;
    l.codes = at::randint(0, 16, {kN, kK}, at::kByte);
    l.zeros = at::randint(0, 16, {kN, kK / kG}, at::kByte);
    l.scales = at::rand({kN, kK / kG}) * 0.01 + 1e-3;
    l.g_idx = ptq::consecutive_g_idx(kK, kG);
    return l;
  }();
  return q;
}

void set_rate(benchmark::State& state) {
  state.SetBytesProcessed(state.iterations() * kN * kK);  // codes read, one byte each
}

void BM_CodesCopy(benchmark::State& state) {
  const at::Tensor& c = layer().codes;
  at::Tensor out = at::empty_like(c);
  for (auto _ : state) {
    out.copy_(c);
    benchmark::DoNotOptimize(out.data_ptr());
  }
  set_rate(state);
}
BENCHMARK(BM_CodesCopy)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_AwqGemmPack(benchmark::State& state) {
  for (auto _ : state) {
    ptq::AwqTensors t = ptq::awq_gemm_pack(layer());
    benchmark::DoNotOptimize(t.qweight.data_ptr());
  }
  set_rate(state);
}
BENCHMARK(BM_AwqGemmPack)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_AwqGemvPack(benchmark::State& state) {
  for (auto _ : state) {
    ptq::AwqTensors t = ptq::awq_gemv_pack(layer());
    benchmark::DoNotOptimize(t.qweight.data_ptr());
  }
  set_rate(state);
}
BENCHMARK(BM_AwqGemvPack)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_GptqPack(benchmark::State& state) {
  for (auto _ : state) {
    ptq::GptqTensors t = ptq::gptq_pack(layer(), ptq::GptqZeros::kV2);
    benchmark::DoNotOptimize(t.qweight.data_ptr());
  }
  set_rate(state);
}
BENCHMARK(BM_GptqPack)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  return ptq::bench::run_main(argc, argv, [] { layer(); });
}
