// Shared gtest main: seeds LibTorch, runs single-threaded unless PTQ_TEST_THREADS says otherwise, and filters out
// tests whose name ends in _CUDA when no CUDA device is present (LibTorch's own test main does the same), so one
// suite passes on CPU-only CI.
#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <ATen/ATen.h>

#include <cstdlib>
#include <string>

#include "core/threads.h"
#include "export/quantized_checkpoint.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (!torch::cuda::is_available()) {
    std::string filter = ::testing::GTEST_FLAG(filter);
    filter += (filter.find('-') == std::string::npos ? "-" : ":");
    filter += "*_CUDA:*_CUDA/*";
    ::testing::GTEST_FLAG(filter) = filter;
  }
  const char* threads = std::getenv("PTQ_TEST_THREADS");
  ptq::set_threads(threads ? std::atoi(threads) : 1);
  at::manual_seed(1234);
  ptq::register_quantized_checkpoint_reader();
  return RUN_ALL_TESTS();
}
