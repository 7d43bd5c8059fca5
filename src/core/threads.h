// Intra-op thread count for LibTorch, set once from config or the CLI (LibTorch's own default differs between
// builds, and results must record what was used).
#pragma once

namespace ptq {

// n <= 0 means the number of hardware threads. Returns the count now in effect (at::get_num_threads()).
int set_threads(int n);

}  // namespace ptq
