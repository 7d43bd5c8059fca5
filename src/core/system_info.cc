#include "core/system_info.h"

#include <ATen/ATen.h>
#include <ATen/Version.h>
#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/version.h>
#ifdef PTQ_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#endif

#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>
#include <thread>

#include "core/build_info.h"
#include "core/heap_policy.h"
#include "core/threads.h"

namespace ptq {

namespace {

// LibTorch's build summary holds "BLAS_INFO=<name>"; that is the library its CPU matmuls call.
std::string blas_from_config(const std::string& config) {
  const std::string key = "BLAS_INFO=";
  size_t p = config.find(key);
  if (p == std::string::npos) return "unknown";
  p += key.size();
  size_t e = config.find_first_of(", \n", p);
  return config.substr(p, e == std::string::npos ? std::string::npos : e - p);
}

// The first "model name" line of /proc/cpuinfo (x86 and most ARM kernels), what a benchmark's machine is named by.
std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) != 0) continue;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) break;
    const size_t b = line.find_first_not_of(" \t", colon + 1);
    return b == std::string::npos ? "" : line.substr(b);
  }
  return "";
}

}  // namespace

SystemInfo system_info() {
  SystemInfo s;
  s.git_commit = build_info().git_commit;
  s.torch_version = TORCH_VERSION;
  s.torch_cuda = build_info().torch_cuda;
  s.cuda_available = torch::cuda::is_available();
  s.cuda_devices = s.cuda_available ? static_cast<int>(torch::cuda::device_count()) : 0;
  if (s.cuda_devices > 0) s.cuda_device = cuda_device_name(at::Device(at::kCUDA, 0));
  s.blas = blas_from_config(at::show_config());
  const ThreadSettings t = thread_settings();
  s.threads = t.threads;
  s.threads_source = t.threads_source;
  s.omp_wait_policy = t.omp_wait_policy;
  s.gomp_spincount = t.gomp_spincount;
  s.wait_policy_source = t.wait_policy_source;
  s.malloc = heap_policy();
  s.cpu_model = cpu_model_name();
  s.hardware_threads = static_cast<int>(std::thread::hardware_concurrency());
  return s;
}

double measure_gemm_gflops(int n, int repeats, const at::Device& device, at::ScalarType dtype) {
  at::NoGradGuard no_grad;
  const auto opts = at::TensorOptions().dtype(dtype).device(device);
  at::Tensor a = at::randn({n, n}, opts), b = at::randn({n, n}, opts), c = at::empty({n, n}, opts);
  auto sync = [&] {
    if (device.is_cuda()) torch::cuda::synchronize(device.index());
  };
  at::mm_out(c, a, b);  // warm-up: thread pool start, BLAS / cuBLAS initialisation
  sync();
  double best = 1e30;
  for (int i = 0; i < repeats; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    at::mm_out(c, a, b);
    sync();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return 2.0 * n * n * static_cast<double>(n) / best / 1e9;
}

std::string cuda_device_name(const at::Device& d) {
#ifdef PTQ_WITH_CUDA
  if (d.is_cuda()) return at::cuda::getDeviceProperties(d.index() < 0 ? 0 : d.index())->name;
#else
  (void)d;
#endif
  return "";
}

nlohmann::json to_json(const SystemInfo& s) {
  return {{"git_commit", s.git_commit},         {"torch_version", s.torch_version},
          {"torch_cuda", s.torch_cuda},         {"cuda_available", s.cuda_available},
          {"cuda_devices", s.cuda_devices},     {"cuda_device", s.cuda_device},
          {"blas", s.blas},
          {"threads", s.threads},               {"threads_source", s.threads_source},
          {"omp_wait_policy", s.omp_wait_policy}, {"gomp_spincount", s.gomp_spincount},
          {"wait_policy_source", s.wait_policy_source}, {"malloc", s.malloc},
          {"cpu_model", s.cpu_model},           {"hardware_threads", s.hardware_threads}};
}

}  // namespace ptq
