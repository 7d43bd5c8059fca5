#include "core/heap_policy.h"

#include <malloc.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace ptq {

namespace {

std::string& chosen() {
  static std::string s = "glibc default";
  return s;
}

}  // namespace

std::string configure_heap() {
  static std::once_flag once;
  std::call_once(once, [] {
    const char* mode = std::getenv("PTQ_MALLOC");
    const char* tunables = std::getenv("GLIBC_TUNABLES");
    if (mode != nullptr && std::strcmp(mode, "glibc") == 0) {
      chosen() = "glibc default (PTQ_MALLOC=glibc)";
    } else if (tunables != nullptr && std::strstr(tunables, "glibc.malloc.") != nullptr) {
      chosen() = "glibc default (GLIBC_TUNABLES sets malloc)";
    } else if (mallopt(M_MMAP_MAX, 0) == 1 && mallopt(M_TRIM_THRESHOLD, INT_MAX) == 1) {
      chosen() = "heap (no mmap, trim above 2 GiB)";
    }
  });
  return chosen();
}

std::string heap_policy() { return chosen(); }

}  // namespace ptq
