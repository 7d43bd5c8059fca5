// GPTQ's original C4 evaluation stream (IST-DASLab/gptq datautils.py get_c4, also OmniQuant's `c4`; not the
// --new-eval "c4-new" rule): for each of `windows` windows, CPython's random.seed(seed)-seeded randint picks a
// document index in [0, documents - 1] until the document encodes to at least seq_len tokens, then a start in
// [0, len - seq_len - 1]; the window is tokens [start, start + seq_len). Documents are encoded the way a Hugging Face
// tokenizer does by default (with the tokenizer's BOS when it has one). The windows are concatenated, so perplexity's
// non-overlapping seq_len windows are exactly these. One deviation: a document of exactly seq_len tokens (where
// GPTQ's randint(0, -1) raises) gives start 0.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "model/tokenizer.h"

namespace ptq {

struct SampledWindows {
  std::vector<int32_t> ids;                          // windows * seq_len tokens
  std::vector<std::pair<int64_t, int64_t>> picks;    // (document index, start) per window
  int64_t documents_encoded = 0;                     // distinct documents tokenized while drawing
};

// Throws a user error when no document reaches seq_len tokens (the reference loops forever there).
SampledWindows gptq_c4_windows(const Tokenizer& tok, const std::vector<std::string>& documents, int64_t seq_len,
                               int64_t windows, uint64_t seed);

}  // namespace ptq
