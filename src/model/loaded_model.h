// A model ready to run: the checkpoint it came from, the CausalLM and its tokenizer, checked against each other.
// What `ptq generate`, `ptq eval` and the pipeline start from.
#pragma once

#include <memory>
#include <string>

#include "model/causal_lm.h"
#include "model/checkpoint.h"
#include "model/tokenizer.h"

namespace ptq {

struct LoadedModel {
  std::unique_ptr<Checkpoint> checkpoint;
  CausalLM model{nullptr};
  std::unique_ptr<Tokenizer> tokenizer;
};

// path: HF directory, llama2.c .bin (needs tokenizer_path) or .gguf; tokenizer_path overrides the checkpoint's own
// tokenizer. Throws a user error when no tokenizer is found or when the tokenizer can produce ids beyond the
// embedding rows (a tokenizer that does not belong to the model).
// require_tokenizer false: a model without one loads with a null tokenizer (a run calibrating from token ids alone).
LoadedModel load_model(const std::string& path, const std::string& tokenizer_path = "", const LoadOptions& opt = {},
                       bool require_tokenizer = true);

// The vocabulary check on its own: tokenizer ids must index rows of the embedding.
void check_tokenizer_fits(const Tokenizer& tok, const ModelConfig& c, const std::string& model_path);

}  // namespace ptq
