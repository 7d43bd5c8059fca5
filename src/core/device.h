// Device names as configs and the CLI give them: "cpu", "cuda", "cuda:N", or "auto" (CUDA when present, else CPU).
#pragma once

#include <c10/core/Device.h>

#include <string>

namespace ptq {

// Throws a user error for an unknown name or a CUDA device that is not there (saying what LibTorch sees).
at::Device resolve_device(const std::string& name);

}  // namespace ptq
