// Device names as configs and the CLI give them: "cpu", "cuda", "cuda:N", or "auto" (CUDA when present, else CPU).
#pragma once

#include <c10/core/Device.h>

#include <string>

namespace torch::nn {
class Module;
}

namespace ptq {

// Throws a user error for an unknown name or a CUDA device that is not there (saying what LibTorch sees).
at::Device resolve_device(const std::string& name);

// Moves every parameter and buffer of `m` to host memory, page-locked (pinned) when `pin`, so that the next copy to a
// CUDA device is a DMA transfer (offload: weights live on the host, blocks visit the device). Pinning needs CUDA.
void move_to_host(torch::nn::Module& m, bool pin);

// Peak memory allocated on a CUDA device through LibTorch's caching allocator since the last reset, bytes; 0 for
// other devices. Reset at the start of every run so each run reports its own peak.
void reset_peak_device_memory(const at::Device& d);
int64_t peak_device_bytes(const at::Device& d);

}  // namespace ptq
