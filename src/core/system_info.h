// What `ptq version` reports and what every stored result carries: build, LibTorch, BLAS, threads, devices, and a
// measured GEMM rate (the yardstick benchmarks compare their achieved FLOP/s against).
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <string>

namespace ptq {

struct SystemInfo {
  std::string git_commit;
  std::string torch_version;   // runtime LibTorch version (TORCH_VERSION of the headers compiled against)
  bool torch_cuda = false;     // LibTorch built with CUDA
  bool cuda_available = false; // a CUDA device is usable now
  int cuda_devices = 0;
  std::string blas;            // BLAS backend as reported by LibTorch's build configuration, e.g. "mkl"
  int threads = 0;             // at::get_num_threads()
  std::string cpu_model;       // /proc/cpuinfo "model name" ("" when not readable)
  int hardware_threads = 0;    // std::thread::hardware_concurrency()
};

SystemInfo system_info();

// fp32 matrix-multiply rate on the CPU: n x n times n x n, best of `repeats` timed runs after one warm-up,
// 2 n^3 FLOP each. Returns GFLOP/s.
double measure_gemm_gflops(int n = 1024, int repeats = 5);

nlohmann::json to_json(const SystemInfo& s);

}  // namespace ptq
