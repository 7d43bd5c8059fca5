// Intra-op thread count for LibTorch, set once from config or the CLI (LibTorch's own default differs between
// builds, and results must record what was used), and the OpenMP waiting policy in effect (src/cli/
// wait_policy_preinit.cc chooses it for the ptq binary before the OpenMP runtime starts).
#pragma once

#include <string>

namespace ptq {

// The default thread count: OMP_NUM_THREADS when the user set it (a positive integer, or the first entry of a
// list), else the CPUs this process may run on (affinity mask), capped by a cgroup v2 CPU quota (cpu.max) when one
// is set and by the CPUs not taken by other runnable tasks right now (core/cpu_load.h), at least 1. `source`, when
// given, receives which rule decided ("OMP_NUM_THREADS", "cpus" or "free cpus (N other runnable tasks at start)").
int default_threads(std::string* source = nullptr);

// n <= 0 means default_threads(). Returns the count now in effect (at::get_num_threads()).
int set_threads(int n);

struct ThreadSettings {
  int threads = 0;                 // at::get_num_threads()
  std::string threads_source;      // "explicit" (--threads / ptq.threads), else default_threads()'s source, or
                                   // "libtorch" before set_threads ran
  std::string omp_wait_policy;     // OMP_WAIT_POLICY as the OpenMP runtime read it ("" when unset)
  std::string gomp_spincount;      // GOMP_SPINCOUNT ("" when unset)
  std::string wait_policy_source;  // "ptq default" (set: the machine was busy at start), "environment" or
                                   // "libgomp default" (idle at start, or nothing could be read)
};

ThreadSettings thread_settings();

}  // namespace ptq
