// Greedy decoding with a KV cache: a sanity tool for checking that a loaded (or quantized) model still speaks.
#pragma once

#include <cstdint>
#include <vector>

#include "model/causal_lm.h"

namespace ptq {

struct GenerateResult {
  std::vector<int32_t> tokens;  // the generated ids only (not the prompt)
  bool stopped_at_eos = false;
};

// prompt: ids (with BOS when wanted); up to max_new tokens, each the argmax of the last position's logits; stops
// early at `eos` (not included) or at the model's max_position_embeddings.
GenerateResult generate_greedy(CausalLMImpl& model, const std::vector<int32_t>& prompt, int64_t max_new,
                               std::optional<int32_t> eos);

}  // namespace ptq
