// The main() every ptq benchmark program shares: --threads=N (LibTorch intra-op threads, default 1), --device=D (for
// programs that run on either); the build commit, thread count, LibTorch version, BLAS and device (CPU model or GPU
// name) in the benchmark context, which `ptq bench-import` stores with the results; then Google Benchmark's flags.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <c10/core/Device.h>

#include "core/device.h"
#include "core/heap_policy.h"
#include "core/system_info.h"
#include "core/threads.h"

namespace ptq::bench {

// The compute device given by --device=cpu|cuda|cuda:N (default cpu), for programs that run on either.
inline at::Device& device() {
  static at::Device d = at::kCPU;
  return d;
}

// `setup` runs after the thread count and device are set and before any benchmark (untimed preparation, extra
// context, benchmarks registered at run time).
inline int run_main(int argc, char** argv, const std::function<void()>& setup = {}) {
  int threads = 1;
  std::vector<char*> rest;  // Google Benchmark's own flags and the program's
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--threads=", 10) == 0) {
      threads = std::atoi(argv[i] + 10);
    } else if (std::strncmp(argv[i], "--device=", 9) == 0) {
      device() = ptq::resolve_device(argv[i] + 9);
    } else {
      rest.push_back(argv[i]);
    }
  }
  ptq::set_threads(threads);
  ptq::configure_heap();  // as the ptq binary does (core/heap_policy.h); PTQ_MALLOC=glibc for glibc's defaults
  const ptq::SystemInfo sys = ptq::system_info();
  benchmark::AddCustomContext("ptq_commit", sys.git_commit);
  benchmark::AddCustomContext("torch_threads", std::to_string(threads));
  benchmark::AddCustomContext("torch_version", sys.torch_version);
  benchmark::AddCustomContext("blas", sys.blas);
  // What `ptq bench-import` records as the device the numbers belong to.
  benchmark::AddCustomContext("device", device().is_cuda()
                                            ? "cuda: " + ptq::cuda_device_name(device())
                                            : "cpu: " + (sys.cpu_model.empty() ? std::string("unknown") : sys.cpu_model));
  if (setup) setup();
  int n = static_cast<int>(rest.size());
  benchmark::Initialize(&n, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace ptq::bench
