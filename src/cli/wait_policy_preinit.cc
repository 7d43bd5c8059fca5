// OpenMP waiting policy for the ptq binary, chosen before the OpenMP runtime starts.
//
// Why: the torch wheel's libgomp spins up to ~300k iterations (a few ms) at every barrier before it sleeps. When
// another process shares the cores, the thread being waited for is descheduled for a whole time slice while the
// others spin on their cores: `ptq eval` at 2 threads on 2 cores beside one busy process ran several times slower
// than at 1 thread. OMP_WAIT_POLICY=PASSIVE makes waiting threads sleep at once, but on an idle machine the wake-ups
// cost up to 3x on small models (results/perf/under_load.md). So ptq looks at the machine when it starts: when some
// of the CPUs it may use are already taken by other runnable tasks, it sets PASSIVE (and core/threads.cc starts only
// as many threads as CPUs are free); on an idle machine it keeps libgomp's default.
//
// How: libgomp reads its environment in its own constructor, which runs before any constructor of this program and
// after libc has reset `environ` from the kernel's copy, so setting the variable in-process is too late or is lost.
// The only way in is the environment the kernel hands over: in .preinit_array (run before every shared library's
// constructor, so no LibTorch static initialiser has run yet) ptq re-executes itself once with the variable added.
// Never done when the user set OMP_WAIT_POLICY or GOMP_SPINCOUNT (their choice wins), under valgrind (the re-executed
// program would escape it), or when /proc/self/exe cannot be executed (ptq then runs with libgomp's default).
// PTQ_WAIT_POLICY_SET_BY=ptq tells core/threads.cc (and `ptq version`, every run's system info) who chose.
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "core/cpu_load.h"

namespace {

// The value of `name` in envp, nullptr when unset.
const char* env_value(char** envp, const char* name) {
  const size_t n = std::strlen(name);
  for (char** e = envp; e != nullptr && *e != nullptr; ++e)
    if (std::strncmp(*e, name, n) == 0 && (*e)[n] == '=') return *e + n + 1;
  return nullptr;
}

// No allocation, no libc state beyond execve: libc itself is not initialised yet when .preinit_array runs.
void choose_wait_policy(int argc, char** argv, char** envp) {
  (void)argc;
  if (env_value(envp, "OMP_WAIT_POLICY") || env_value(envp, "GOMP_SPINCOUNT")) return;
  const char* preload = env_value(envp, "LD_PRELOAD");
  if (preload != nullptr && std::strstr(preload, "vgpreload") != nullptr) return;
  // Busy: other runnable tasks occupy some of the CPUs this process may use (the rule of the default thread count).
  int ours = ptq::affinity_cpus();
  if (ours <= 0) ours = ptq::online_cpus();
  if (ours <= 0 || ptq::usable_cpus(ours) >= ours) return;
  size_t count = 0;
  while (envp != nullptr && envp[count] != nullptr) ++count;
  constexpr size_t kMax = 4096;  // an environment larger than this keeps libgomp's default
  if (count + 3 > kMax) return;
  static char* env[kMax];
  static char policy[] = "OMP_WAIT_POLICY=PASSIVE";
  static char marker[] = "PTQ_WAIT_POLICY_SET_BY=ptq";
  size_t k = 0;
  for (size_t i = 0; i < count; ++i)
    if (std::strncmp(envp[i], "PTQ_WAIT_POLICY_SET_BY=", 23) != 0) env[k++] = envp[i];
  env[k++] = policy;
  env[k++] = marker;
  env[k] = nullptr;
  execve("/proc/self/exe", argv, env);  // returns only on failure: carry on with libgomp's default
}

}  // namespace

__attribute__((section(".preinit_array"), used)) static void (*const ptq_wait_policy_preinit)(int, char**, char**) =
    choose_wait_policy;
