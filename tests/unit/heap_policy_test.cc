// core/heap_policy.h: after configure_heap(), a buffer above glibc's mmap threshold comes from the heap (no new
// mmapped region), and the policy is what system_info() reports.
#include <gtest/gtest.h>
#include <malloc.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "core/heap_policy.h"
#include "core/system_info.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PTQ_UNDER_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define PTQ_UNDER_ASAN 1
#endif

namespace ptq {
namespace {

TEST(HeapPolicy, LargeBuffersComeFromTheHeap) {
#ifdef PTQ_UNDER_ASAN
  GTEST_SKIP() << "AddressSanitizer replaces malloc; glibc's mallopt settings do not apply";
#else
  const char* mode = std::getenv("PTQ_MALLOC");
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if ((mode && std::string(mode) == "glibc") || (tunables && std::strstr(tunables, "glibc.malloc.")))
    GTEST_SKIP() << "the environment asks for glibc's defaults";
  const size_t big = size_t{64} << 20;  // above glibc's largest mmap threshold (32 MiB)
  const size_t mapped_before = mallinfo2().hblkhd;
  EXPECT_EQ(configure_heap(), "heap (no mmap, trim above 2 GiB)");
  EXPECT_EQ(configure_heap(), heap_policy());  // applied once, then only reported
  EXPECT_EQ(system_info().malloc, heap_policy());
  void* p = std::malloc(big);
  ASSERT_NE(p, nullptr);
  std::memset(p, 1, big);
  EXPECT_EQ(mallinfo2().hblkhd, mapped_before) << "the 64 MiB buffer was mmapped";
  std::free(p);
  // Freed, it stays in the heap for the next buffer (trim threshold 2 GiB): the heap's free bytes cover it.
  EXPECT_GE(mallinfo2().fordblks, big);
#endif
}

}  // namespace
}  // namespace ptq
