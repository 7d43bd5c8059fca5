#include "core/threads.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "core/cpu_load.h"

namespace ptq {

namespace {

std::string threads_source = "libtorch";  // until set_threads runs

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

// OMP_NUM_THREADS as OpenMP reads it: a positive integer, or a comma-separated list whose first entry is the
// outermost level. 0 when unset or unreadable.
int omp_num_threads_env() {
  const std::string v = env_or_empty("OMP_NUM_THREADS");
  if (v.empty()) return 0;
  char* end = nullptr;
  const long n = std::strtol(v.c_str(), &end, 10);
  if (end == v.c_str() || (*end != '\0' && *end != ',') || n <= 0 || n > 4096) return 0;
  return static_cast<int>(n);
}

// A cgroup v2 CPU quota ("max 100000" means none; "150000 100000" means 1.5 CPUs, rounded up). 0 when none.
int cgroup_cpu_quota() {
  std::ifstream in("/sys/fs/cgroup/cpu.max");
  std::string quota;
  double period = 0;
  if (!(in >> quota >> period) || quota == "max" || period <= 0) return 0;
  const double q = std::atof(quota.c_str());
  return q > 0 ? static_cast<int>(std::ceil(q / period)) : 0;
}

}  // namespace

int default_threads(std::string* source) {
  if (int n = omp_num_threads_env(); n > 0) {
    if (source) *source = "OMP_NUM_THREADS";
    return n;
  }
  int n = affinity_cpus();
  if (n <= 0) n = static_cast<int>(std::thread::hardware_concurrency());
  if (int quota = cgroup_cpu_quota(); quota > 0) n = std::min(n, quota);
  n = std::max(1, n);
  if (source) *source = "cpus";
  // CPUs other runnable tasks already occupy are not ours to use: a thread that shares a core with a busy process
  // stalls every parallel region it takes part in (results/perf/under_load.md).
  int others = 0;
  if (const int free = usable_cpus(n, &others); free < n) {
    n = free;
    if (source) *source = fmt::format("free cpus ({} other runnable task{} at start)", others, others == 1 ? "" : "s");
  }
  return n;
}

int set_threads(int n) {
  if (n > 0) {
    threads_source = "explicit";
  } else {
    n = default_threads(&threads_source);
  }
  at::set_num_threads(n);
  return at::get_num_threads();
}

ThreadSettings thread_settings() {
  ThreadSettings s;
  s.threads = at::get_num_threads();
  s.threads_source = threads_source;
  s.omp_wait_policy = env_or_empty("OMP_WAIT_POLICY");
  s.gomp_spincount = env_or_empty("GOMP_SPINCOUNT");
  if (env_or_empty("PTQ_WAIT_POLICY_SET_BY") == "ptq" && !s.omp_wait_policy.empty()) s.wait_policy_source = "ptq default";
  else if (!s.omp_wait_policy.empty() || !s.gomp_spincount.empty()) s.wait_policy_source = "environment";
  else s.wait_policy_source = "libgomp default";
  return s;
}

}  // namespace ptq
