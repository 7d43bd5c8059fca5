// Peak resident memory of this process, per run: reset before a run, read after it (Linux /proc; 0 elsewhere).
// The kernel's high-water mark (VmHWM) is reset by writing 5 to /proc/self/clear_refs, so every cell of a matrix
// measured in one process gets its own peak.
#pragma once

#include <cstdint>

namespace ptq {

void reset_peak_rss();
// Bytes; 0 when the platform does not report it.
int64_t peak_rss_bytes();

}  // namespace ptq
