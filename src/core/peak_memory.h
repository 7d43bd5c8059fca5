// Peak resident memory of this process, per run: reset before a run, read after it (Linux /proc; 0 elsewhere).
// The kernel's high-water mark (VmHWM) is reset by writing 5 to /proc/self/clear_refs, so every cell of a matrix
// measured in one process gets its own peak.
#pragma once

#include <cstdint>

namespace ptq {

void reset_peak_rss();
// Bytes; 0 when the platform does not report it.
int64_t peak_rss_bytes();

// Returns the allocator's free pages to the kernel (glibc malloc_trim: the top of each heap and, with MADV_DONTNEED,
// the free pages between live chunks). Block-sized tensors (1-32 MiB: under glibc's dynamic mmap threshold once it
// has grown) are served from the heap, and the holes they leave would otherwise keep the resident set growing with
// every block a method processes; the pipeline calls this after each block. No effect off glibc.
void release_free_heap_memory();

}  // namespace ptq
