// The main() every ptq benchmark program shares: --threads=N (LibTorch intra-op threads, default 1); the build commit,
// thread count, LibTorch version, BLAS and device (CPU model) in the benchmark context, which `ptq bench-import`
// stores with the results; then Google Benchmark's own flags.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>

#include "core/system_info.h"
#include "core/threads.h"

namespace ptq::bench {

// `setup` runs after the thread count is set and before any benchmark (untimed preparation, extra context).
inline int run_main(int argc, char** argv, const std::function<void()>& setup = {}) {
  int threads = 1;
  for (int i = 1; i < argc; ++i)
    if (std::strncmp(argv[i], "--threads=", 10) == 0) threads = std::atoi(argv[i] + 10);
  ptq::set_threads(threads);
  const ptq::SystemInfo sys = ptq::system_info();
  benchmark::AddCustomContext("ptq_commit", sys.git_commit);
  benchmark::AddCustomContext("torch_threads", std::to_string(threads));
  benchmark::AddCustomContext("torch_version", sys.torch_version);
  benchmark::AddCustomContext("blas", sys.blas);
  // What `ptq bench-import` records as the device the numbers belong to.
  benchmark::AddCustomContext("device", "cpu: " + (sys.cpu_model.empty() ? std::string("unknown") : sys.cpu_model));
  if (setup) setup();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace ptq::bench
