// Precompiled header for the ptq library and the programs that link it: the LibTorch headers dominate compile time
// on the 2-core build machines. Source files still include what they use.
#pragma once
#include <torch/torch.h>

#include <fmt/format.h>

#include <string>
#include <vector>
