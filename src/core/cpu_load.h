// How busy the machine's CPUs are when ptq starts, read from the kernel without allocating or touching libc state
// (src/cli/wait_policy_preinit.cc calls these before libc and the OpenMP runtime are initialised).
#pragma once

namespace ptq {

// Online CPUs of the machine (/sys/devices/system/cpu/online); 0 when unreadable.
int online_cpus();

// Runnable tasks other than the caller (/proc/loadavg's running count - 1), the smallest of `samples` readings 1 ms apart
// so that a process that merely starts or ends meanwhile does not count; -1 when unreadable. A CPU-bound competitor
// is runnable at every reading.
int other_runnable_tasks(int samples = 3);

// CPUs in this process's affinity mask (taskset, cpusets, SLURM's binding); 0 when unreadable.
int affinity_cpus();

// How many of `wanted` CPUs are free: min(wanted, online CPUs - other runnable tasks), at least 1; `wanted` when
// nothing else runs or the kernel files are unreadable. `others`, when given, receives the count of other tasks.
// One rule for the waiting policy (busy when fewer than the process's CPUs are free) and the default thread count.
int usable_cpus(int wanted, int* others = nullptr);

}  // namespace ptq
