// Checks the inputs of run configurations before anything runs, so that a matrix with a bad input file fails at once
// with exit 2 and one message naming the file (and the cell), leaving no row in the results store, instead of
// recording failed cells one by one after hours of work (`ptq run MATRIX.yaml` calls it before opening the store).
// What is checked, once per distinct input:
//   model      the checkpoint opens: config.json, every tensor the config implies present with its shape and a float
//              dtype (safetensors headers, offsets, GGUF and llama2.c layouts), the tokenizer loads and fits the
//              embedding (model/loaded_model.h); no weights are read
//   eval       every dataset's file: present, non-empty, UTF-8, and at least one window of eval.seq_len tokens
//   calib      random_windows-style sampling: the text as for eval, more than calib.seq_len + 1 tokens; document
//              sampling (txt_general_preproc, pileval_awq) and token files: the file is present
// Problems only computation can find (too few documents in a range after filtering, NaN in the weights) still fail
// that cell alone when it runs, recorded as a failed run.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>

#include "experiment/run_config.h"

namespace ptq {

class Tokenizer;

// Whether a run reads text (evaluation, calibration from text, verification of exports) and so needs the model's
// tokenizer; calibration from a tokens file alone does not.
bool run_needs_tokenizer(const RunConfig& cfg);

class InputChecker {
 public:
  InputChecker();
  ~InputChecker();
  // Throws ptq::Error (user) "<cfg.source>: <section>: <the problem, naming the file>".
  void check(const RunConfig& cfg);

 private:
  // The model's tokenizer; null when it has none and `required` is false.
  const Tokenizer* model(const RunConfig& cfg, bool required);
  std::unique_ptr<Tokenizer> open_model(const RunConfig& cfg);  // checks the checkpoint; its tokenizer or null
  void text(const RunConfig& cfg, const Tokenizer& tok, const std::string& dataset, const std::string& path,
            int64_t first, int64_t last, int64_t min_tokens, const std::string& section);

  std::map<std::string, std::unique_ptr<Tokenizer>> tokenizers_;  // by model path + tokenizer path
  std::set<std::string> texts_;                                  // (tokenizer, dataset, file, range, tokens) checked
};

}  // namespace ptq
