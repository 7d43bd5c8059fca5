#include "model/generate.h"

#include <ATen/ATen.h>

#include "core/error.h"

namespace ptq {

GenerateResult generate_greedy(CausalLMImpl& model, const std::vector<int32_t>& prompt, int64_t max_new,
                               std::optional<int32_t> eos) {
  PTQ_CHECK(!prompt.empty(), "generate needs at least one prompt token");
  at::NoGradGuard no_grad;
  GenerateResult r;
  KVCache cache;
  at::Tensor input = at::tensor(std::vector<int64_t>(prompt.begin(), prompt.end()), at::kLong).unsqueeze(0);
  const int64_t limit = model.config().max_position_embeddings;
  for (int64_t step = 0; step < max_new && cache.length() + input.size(1) <= limit; ++step) {
    at::Tensor logits = model.forward(input, &cache);
    const int32_t next = static_cast<int32_t>(logits[0][-1].argmax().item<int64_t>());
    if (eos && next == *eos) {
      r.stopped_at_eos = true;
      break;
    }
    r.tokens.push_back(next);
    input = at::full({1, 1}, next, at::kLong);
  }
  return r;
}

}  // namespace ptq
