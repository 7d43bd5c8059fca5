// The shipped stories260K model and its reference fixture (../shared/data/fixtures/stories260K_reference.json), as
// several test files use them.
#pragma once

#include <nlohmann/json.hpp>

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "eval/perplexity.h"
#include "model/loaded_model.h"

namespace ptq::test {

// The parsed fixture (loaded once).
const nlohmann::json& stories_reference();
// Path of one on-disk form: "hf" (directory), "llama2c" (.bin), "gguf_v3", "gguf_v1" (the original v1 file).
std::string stories_path(const std::string& form);
// Model and tokenizer of a form (llama2c with its tok512.bin).
LoadedModel load_stories(const std::string& form);
// n consecutive windows of len tokens from the encoded TinyStories stories first..last (calibration data disjoint
// from the evaluation stories 0..499), as int64 [1, len] batches. Fails the test when the stories are too short.
std::vector<at::Tensor> tinystories_windows(const Tokenizer& tok, int64_t n, int64_t len, int64_t first, int64_t last);
// The evaluation stories 0..499 encoded for perplexity by stories260K-hf's tokenizer (no BOS; computed once), as the
// CPU/GPU parity and half-precision tests score every quantized model.
const std::vector<int32_t>& stories_eval_ids();
// How those tests score them: 8 non-overlapping windows of 256 tokens.
PerplexityOptions stories_eval_options();

}  // namespace ptq::test
