// ptq version: what a bug report or a stored result needs to say about this binary and machine.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/system_info.h"

namespace ptq::cli {

int cmd_version(const std::vector<std::string>& words) {
  Args args("version", "Print the build commit, LibTorch version and CUDA support, BLAS, thread count and OpenMP\n"
                       "waiting policy, and a measured fp32 GEMM rate (n x n times n x n on the CPU, best of 5 runs).",
            {json_option(),
             {"--gemm-size", "N", "matrix size of the GEMM measurement (0 skips it)", "1024"}});
  if (!args.parse(words)) return 0;
  apply_common_options(args);
  SystemInfo s = system_info();
  const int n = args.get_int("--gemm-size");
  const double gflops = n > 0 ? measure_gemm_gflops(n) : 0.0;
  if (args.json()) {
    nlohmann::json j = to_json(s);
    j["gemm_fp32_gflops"] = gflops;
    j["gemm_size"] = n;
    fmt::print("{}\n", j.dump());
    return 0;
  }
  fmt::print("ptq commit {}\n", s.git_commit);
  fmt::print("LibTorch {} (built with CUDA: {}; CUDA available: {}, devices: {})\n", s.torch_version,
             s.torch_cuda ? "yes" : "no", s.cuda_available ? "yes" : "no", s.cuda_devices);
  fmt::print("BLAS {}\n", s.blas);
  fmt::print("threads {} ({})\n", s.threads, s.threads_source);
  fmt::print("OpenMP waiting: {} ({})\n",
             !s.omp_wait_policy.empty() ? "OMP_WAIT_POLICY=" + s.omp_wait_policy
             : !s.gomp_spincount.empty() ? "GOMP_SPINCOUNT=" + s.gomp_spincount
                                         : std::string("spin then sleep"),
             s.wait_policy_source);
  fmt::print("malloc: {}\n", s.malloc);
  if (n > 0) fmt::print("fp32 GEMM {}x{}: {:.1f} GFLOP/s\n", n, n, gflops);
  return 0;
}

}  // namespace ptq::cli
