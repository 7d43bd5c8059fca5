// How ptq's process takes memory from glibc's malloc: large buffers come from the heap and stay there once freed.
//
// Why: glibc serves every request above its mmap threshold (at most 32 MiB) with a fresh mmap and unmaps it on free,
// so each new buffer of that size is page-faulted in again, page by page, and zeroed by the kernel. ptq's block loops
// allocate the same large shapes over and over (AWQ's candidate batches of 15-50 MB per chunk of ratios, activations
// of every calibration batch), and a profile of the AWQ scale search put about a tenth of its time in those faults.
// With mmap off and the trim threshold high, a freed buffer is reused by the next one of its size. Measured on a
// 2-core Intel Xeon, runs interleaved (results/perf/packing_and_awq_search.md): bench_awq BM_AwqScaleSearch 30.3 /
// 30.9 s -> 23.4 / 25.1 s at 1 thread and 16.2 / 16.8 s -> 13.6 / 13.0 s at 2; `ptq run` of the stories260K AWQ-LLMC
// config: quantize stage 16.1 s -> 11.4 s, identical perplexities, peak RSS 1.97 GB -> 2.18 GB (memory freed below
// the top of the heap is not returned to the system).
//
// PTQ_MALLOC=glibc keeps glibc's defaults; a GLIBC_TUNABLES value naming any glibc.malloc setting also does (the
// user's choice wins). `ptq version` and every run's system info say which applies ("malloc").
#pragma once

#include <string>

namespace ptq {

// Applies the policy above to this process (mallopt), once; later calls only return the description. Call it at
// the start of main, before large allocations. Returns what applies: "heap (no mmap, trim above 2 GiB)",
// "glibc default (PTQ_MALLOC=glibc)" or "glibc default (GLIBC_TUNABLES sets malloc)".
std::string configure_heap();

// What configure_heap() chose, "glibc default" when it was not called.
std::string heap_policy();

}  // namespace ptq
