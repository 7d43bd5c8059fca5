#include "core/cpu_load.h"

#include <fcntl.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <cstring>

namespace ptq {

namespace {

// Reads up to size - 1 bytes of a small kernel file into buf (NUL-terminated); false when unreadable.
bool read_small_file(const char* path, char* buf, int size) {
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  int n = 0;
  while (n < size - 1) {
    const ssize_t r = ::read(fd, buf + n, static_cast<size_t>(size - 1 - n));
    if (r <= 0) break;
    n += static_cast<int>(r);
  }
  ::close(fd);
  buf[n] = '\0';
  return n > 0;
}

// Parses a non-negative decimal at p; -1 when none.
long parse_uint(const char*& p) {
  if (*p < '0' || *p > '9') return -1;
  long v = 0;
  while (*p >= '0' && *p <= '9') v = v * 10 + (*p++ - '0');
  return v;
}

}  // namespace

int online_cpus() {
  char buf[512];
  if (!read_small_file("/sys/devices/system/cpu/online", buf, sizeof buf)) return 0;
  int count = 0;
  const char* p = buf;
  while (true) {  // "0-3,8-11" or "0"
    const long a = parse_uint(p);
    if (a < 0) break;
    long b = a;
    if (*p == '-') {
      ++p;
      b = parse_uint(p);
      if (b < a) return 0;
    }
    count += static_cast<int>(b - a + 1);
    if (*p != ',') break;
    ++p;
  }
  return count;
}

int other_runnable_tasks(int samples) {
  int best = -1;
  for (int i = 0; i < samples; ++i) {
    if (i > 0) {
      const timespec ms{0, 1000000};
      ::nanosleep(&ms, nullptr);
    }
    char buf[128];  // "0.52 0.58 0.59 2/170 12345": runnable / all scheduling entities, the caller included
    if (!read_small_file("/proc/loadavg", buf, sizeof buf)) return -1;
    const char* p = buf;
    for (int field = 0; field < 3 && p != nullptr; ++field) {
      p = std::strchr(p, ' ');
      if (p != nullptr) ++p;
    }
    if (p == nullptr) return -1;
    const long running = parse_uint(p);
    if (running < 1) return -1;
    const int others = static_cast<int>(running - 1);
    best = best < 0 ? others : (others < best ? others : best);
  }
  return best;
}

int affinity_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  return sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 0;
}

int usable_cpus(int wanted, int* others) {
  const int n = other_runnable_tasks(), online = online_cpus();
  if (others != nullptr) *others = n;
  if (n <= 0 || online <= 0 || online - n >= wanted) return wanted;
  return online - n > 1 ? online - n : 1;
}

}  // namespace ptq
