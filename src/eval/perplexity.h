// Perplexity over non-overlapping windows (docs/evaluation.md; the scoring rule of the stories260K reference fixture):
//   ids      = tokenizer.encode(text) once, as one string; bos: none (default) or one BOS at the stream start
//   ids      = ids[: token_limit_windows * seq_len] when the dataset sets a token limit (c4-new)
//   windows  = ids[w*L : (w+1)*L], w = 0 .. floor(N/L)-1 (remainder dropped; optionally at most max_windows)
//   each window runs alone from position 0; logits[p] (float32 [L, vocab]) scores window[p+1], p = 0..L-2
//   nll      = -log_softmax(float64(logits_p))[window[p+1]]; summed in float64
//   nll_mean = nll_sum / (windows * (L-1)), ppl = exp(nll_mean)
// Note: GPTQ/LLMC's exp(Σ ce·L / (n·L)) equals exp(window-weighted mean CE) = exp(nll_mean) here (same L-1 per window).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/eval_text.h"
#include "model/causal_lm.h"
#include "model/tokenizer.h"

namespace ptq {

struct PerplexityOptions {
  int64_t seq_len = 2048;           // L, window length in tokens
  bool bos = false;                 // one BOS at the very start of the token stream (tokenizer must have one)
  int64_t batch_size = 1;           // windows per forward call ([batch, L] int64)
  int64_t max_windows = 0;          // 0 = all windows
  int64_t token_limit_windows = 0;  // > 0: only the first token_limit_windows * seq_len tokens (c4-new: 256)
  std::string progress_label;       // names the progress lines (core/progress.h), e.g. the dataset
};

struct PerplexityResult {
  double ppl = 0;
  double nll_mean = 0;          // natural log, per scored token
  double nll_sum = 0;
  int64_t tokens = 0;           // scored tokens = windows * (L-1)
  int64_t stream_tokens = 0;    // tokens in the stream (after BOS and the token limit), before windowing
  int64_t windows = 0;
  std::vector<double> window_nll_sums;  // [windows]
  double nll_stderr = 0;        // sample std (n-1) of per-window mean NLL / sqrt(windows); 0 when windows < 2
  double ppl_stderr = 0;        // ppl * nll_stderr (delta method)
  double seconds = 0;           // forward + scoring time (not tokenization)
  double tokens_per_second = 0; // windows * L / seconds (tokens through the model)
  nlohmann::json protocol;      // filled by evaluate_perplexity
};

// The token stream for `text`: encode once, optional leading BOS. Throws a user error when bos is asked for and the
// tokenizer has none.
std::vector<int32_t> perplexity_tokens(const Tokenizer& tok, const std::string& text, bool bos);

// Scores an already built stream `ids` (model's device and dtype are used; logits are float32). Throws a user error
// when the stream is shorter than one window.
PerplexityResult perplexity(CausalLM& model, const std::vector<int32_t>& ids, const PerplexityOptions& opt);

// Tokenizes `text` with `tok`, scores it, and fills the protocol JSON: dataset, text_rule, data_path, data_sha256,
// tokenizer, seq_len, bos, dtype, device, n_windows, stream_tokens, token_limit, batch_size, scoring.
// opt.token_limit_windows is taken from text.token_limit_windows when opt's is 0.
PerplexityResult evaluate_perplexity(CausalLM& model, const Tokenizer& tok, const EvalText& text,
                                     PerplexityOptions opt);

}  // namespace ptq
