#include "core/device.h"

#include <torch/cuda.h>
#include <torch/nn/module.h>
#ifdef PTQ_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include "core/build_info.h"
#include "core/error.h"

namespace ptq {

at::Device resolve_device(const std::string& name) {
  const bool cuda = torch::cuda::is_available();
  if (name == "auto") return cuda ? at::Device(at::kCUDA, 0) : at::Device(at::kCPU);
  if (name == "cpu") return at::kCPU;
  if (name == "cuda" || name.rfind("cuda:", 0) == 0) {
    int index = 0;
    if (name.size() > 5) {
      const std::string digits = name.substr(5);
      PTQ_CHECK(!digits.empty() && digits.find_first_not_of("0123456789") == std::string::npos && digits.size() < 4,
                "device '{}': expected cuda:<index>", name);
      index = std::stoi(digits);
    }
    const int count = cuda ? static_cast<int>(torch::cuda::device_count()) : 0;
    PTQ_CHECK(index < count, "device '{}' requested but LibTorch sees {} CUDA device(s) (built with CUDA: {})", name,
              count, build_info().torch_cuda ? "yes" : "no");
    return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  PTQ_FAIL("unknown device '{}' (cpu, cuda, cuda:N, auto)", name);
}

void move_to_host(torch::nn::Module& m, bool pin) {
  m.to(at::kCPU);
  if (!pin) return;
  for (auto& p : m.parameters()) p.set_data(p.pin_memory());
  for (auto& b : m.buffers()) b.set_data(b.pin_memory());
}

void reset_peak_device_memory(const at::Device& d) {
#ifdef PTQ_WITH_CUDA
  if (d.is_cuda()) c10::cuda::CUDACachingAllocator::resetPeakStats(d.index() < 0 ? 0 : d.index());
#else
  (void)d;
#endif
}

int64_t peak_device_bytes(const at::Device& d) {
#ifdef PTQ_WITH_CUDA
  if (d.is_cuda()) {
    // Index 0 of the stat arrays is the aggregate over pools (StatType::AGGREGATE in every LibTorch 2.x).
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(d.index() < 0 ? 0 : d.index());
    return stats.allocated_bytes[0].peak;
  }
#else
  (void)d;
#endif
  return 0;
}

}  // namespace ptq
