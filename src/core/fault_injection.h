// Fault injection for the numerical-guard tests: PTQ_FAULT="name@block[,name@block...]" makes the named point of the
// named decoder block misbehave on purpose, so the guards (and their fallbacks, recorded in the store) can be tested
// through the real binary on real data. Unset (always, outside tests), every query is false. Points:
//   awq_nan_input        AWQ: NaN and +inf written into the cached inputs the scale and clip searches see
//   gptq_nan_hessian     GPTQ: a NaN on the diagonal of every Hessian of the block
//   gptq_indefinite_hessian  GPTQ: every Hessian of the block negated (Cholesky fails at any damping)
// The same approach as SQLite's and RocksDB's test hooks: the production code path runs, only its input is broken.
#pragma once

#include <cstdint>
#include <string_view>

namespace ptq {

// True when PTQ_FAULT names `point` for block `block` ("name@*" names every block).
bool fault_injected(std::string_view point, int64_t block);

}  // namespace ptq
