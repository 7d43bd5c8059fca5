#include "experiment/input_check.h"

#include <fmt/format.h>

#include <filesystem>

#include "core/error.h"
#include "data/eval_text.h"
#include "model/checkpoint.h"
#include "model/loaded_model.h"
#include "model/tokenizer.h"

namespace ptq {

namespace fs = std::filesystem;

InputChecker::InputChecker() = default;
InputChecker::~InputChecker() = default;

bool run_needs_tokenizer(const RunConfig& cfg) {
  const bool calib_text = cfg.calib && cfg.calib->dataset != "tokens" && cfg.calib->preproc != "tokens";
  return cfg.eval.has_value() || calib_text || cfg.save_autoawq || cfg.save_gptq;
}

const Tokenizer* InputChecker::model(const RunConfig& cfg, bool required) {
  const std::string key = cfg.model_path + "\n" + cfg.tokenizer_path;
  auto it = tokenizers_.find(key);
  if (it == tokenizers_.end()) it = tokenizers_.emplace(key, open_model(cfg)).first;
  const std::string& path = cfg.model_path;
  const bool llama2c = !fs::is_directory(path) && fs::path(path).extension() != ".gguf";
  PTQ_CHECK(it->second != nullptr || !required, "{}: no tokenizer found{}", path,
            llama2c ? " (a llama2.c checkpoint needs model.tokenizer)" : " (give one with model.tokenizer)");
  return it->second.get();
}

std::unique_ptr<Tokenizer> InputChecker::open_model(const RunConfig& cfg) {
  // The same dispatch as load_model(), without reading the weights.
  const std::string& path = cfg.model_path;
  const bool llama2c = !fs::is_directory(path) && fs::path(path).extension() != ".gguf";
  std::unique_ptr<Checkpoint> ck = open_checkpoint(path, llama2c ? cfg.tokenizer_path : "");
  std::unique_ptr<Tokenizer> tok =
      !cfg.tokenizer_path.empty() && !llama2c ? load_tokenizer(cfg.tokenizer_path) : ck->tokenizer();
  if (tok) check_tokenizer_fits(*tok, ck->config(), path);
  return tok;
}

void InputChecker::text(const RunConfig& cfg, const Tokenizer& tok, const std::string& dataset,
                        const std::string& path, int64_t first, int64_t last, int64_t min_tokens,
                        const std::string& section) {
  const std::string key = fmt::format("{}\n{}\n{}\n{}\n{}\n{}\n{}", cfg.model_path, cfg.tokenizer_path, dataset, path,
                                      first, last, min_tokens);
  if (!texts_.insert(key).second) return;
  EvalTextOptions eo;
  eo.data_path = path;
  if (dataset == "tinystories") {
    eo.first_story = first;
    eo.last_story = last;
  }
  const EvalText t = load_eval_text(dataset, eo);
  if (t.sampled_windows > 0) return;  // windows drawn from documents: checked as they are drawn
  const int64_t n = static_cast<int64_t>(tok.encode(t.text, false).size());
  PTQ_CHECK(n >= min_tokens, "'{}' (dataset {}) encodes to {} tokens, fewer than the {} needed for {}", t.path,
            dataset, n, min_tokens, section);
}

void InputChecker::check(const RunConfig& cfg) {
  with_context(cfg.source, [&] {
    if (cfg.step_1) check(*cfg.step_1->config);
    // Step 2 of a transformed_model hand-over reads step 1's output (with step 1's tokenizer), not model.path.
    const RunConfig& model_cfg =
        cfg.step_1 && cfg.step_1->handover == "transformed_model" ? *cfg.step_1->config : cfg;
    const Tokenizer* tok = with_context("model.path", [&] { return model(model_cfg, run_needs_tokenizer(cfg)); });
    if (cfg.eval)
      for (const auto& name : cfg.eval->datasets)
        with_context("eval", [&] {
          text(model_cfg, *tok, name, cfg.eval->path, cfg.eval->first_doc, cfg.eval->last_doc, cfg.eval->seq_len,
               "one window of eval.seq_len");
        });
    if (cfg.calib) {
      const CalibOptions& c = *cfg.calib;
      with_context("calib", [&] {
        if (c.preproc == "random_windows" || c.preproc == "wikitext2_gptq" || c.preproc == "ptb_gptq") {
          text(model_cfg, *tok, c.dataset == "jsonl" ? "text" : c.dataset, c.path, c.first_doc, c.last_doc,
               c.seq_len + 2, "calib.seq_len + 2 for one random window");
        } else if (!c.path.empty()) {
          PTQ_CHECK(fs::is_regular_file(c.path), "calib.path: '{}': no such file", c.path);
        }
      });
    }
  });
}

}  // namespace ptq
