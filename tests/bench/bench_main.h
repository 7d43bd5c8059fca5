// The main() every ptq benchmark program shares: --threads=N (LibTorch intra-op threads, default 1), the build commit
// and thread count in the benchmark context, then Google Benchmark's own flags.
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
  benchmark::AddCustomContext("ptq_commit", ptq::system_info().git_commit);
  benchmark::AddCustomContext("torch_threads", std::to_string(threads));
  if (setup) setup();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace ptq::bench
