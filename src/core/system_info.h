// What `ptq version` reports and what every stored result carries: build, LibTorch, BLAS, threads, devices, and a
// measured GEMM rate (the yardstick benchmarks compare their achieved FLOP/s against).
#pragma once

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <nlohmann/json_fwd.hpp>

#include <string>

namespace ptq {

struct SystemInfo {
  std::string git_commit;
  std::string torch_version;   // runtime LibTorch version (TORCH_VERSION of the headers compiled against)
  bool torch_cuda = false;     // LibTorch built with CUDA
  bool cuda_available = false; // a CUDA device is usable now
  int cuda_devices = 0;
  std::string cuda_device;     // name of CUDA device 0 when present ("NVIDIA H200")
  std::string blas;            // BLAS backend as reported by LibTorch's build configuration, e.g. "mkl"
  int threads = 0;             // at::get_num_threads()
  std::string threads_source;  // who chose `threads` (core/threads.h: explicit, OMP_NUM_THREADS, cpus, libtorch)
  std::string omp_wait_policy;     // OMP_WAIT_POLICY in effect ("" when unset: libgomp's spin-then-sleep default)
  std::string gomp_spincount;      // GOMP_SPINCOUNT in effect ("" when unset)
  std::string wait_policy_source;  // "ptq default", "environment" or "libgomp default"
  std::string malloc;          // core/heap_policy.h: how large buffers are allocated ("heap (...)" or "glibc default")
  std::string cpu_model;       // /proc/cpuinfo "model name" ("" when not readable)
  int hardware_threads = 0;    // std::thread::hardware_concurrency()
};

SystemInfo system_info();

// Matrix-multiply rate: n x n times n x n in `dtype` on `device` (CUDA: synchronised around each product), best of
// `repeats` timed runs after one warm-up, 2 n^3 FLOP each. Returns GFLOP/s. The default is the fp32 CPU rate
// `ptq version` reports.
double measure_gemm_gflops(int n = 1024, int repeats = 5, const at::Device& device = at::kCPU,
                           at::ScalarType dtype = at::kFloat);

// The name of a CUDA device ("NVIDIA H200"); "" for other devices or a LibTorch without CUDA.
std::string cuda_device_name(const at::Device& d);

nlohmann::json to_json(const SystemInfo& s);

}  // namespace ptq
