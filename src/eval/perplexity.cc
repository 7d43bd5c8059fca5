#include "eval/perplexity.h"

#include <ATen/ATen.h>
#include <c10/core/ScalarType.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/error.h"
#include "core/progress.h"
#include "core/sha256.h"
#include "eval/sampled_windows.h"

namespace ptq {

std::vector<int32_t> perplexity_tokens(const Tokenizer& tok, const std::string& text, bool bos) {
  std::vector<int32_t> ids = tok.encode(text, /*add_bos=*/false);
  if (bos) {
    const auto b = tok.bos_id();
    PTQ_CHECK(b.has_value(), "--bos: the {} tokenizer has no BOS token", tok.kind());
    ids.insert(ids.begin(), *b);
  }
  return ids;
}

PerplexityResult perplexity(CausalLM& model, const std::vector<int32_t>& ids_in, const PerplexityOptions& opt) {
  const int64_t L = opt.seq_len;
  PTQ_CHECK(L >= 2, "seq_len must be >= 2, got {}", L);
  PTQ_CHECK(opt.batch_size >= 1, "batch_size must be >= 1, got {}", opt.batch_size);
  PTQ_CHECK(opt.max_windows >= 0, "max_windows must be >= 0, got {}", opt.max_windows);
  int64_t n = static_cast<int64_t>(ids_in.size());
  if (opt.token_limit_windows > 0) n = std::min(n, opt.token_limit_windows * L);
  int64_t W = n / L;
  PTQ_CHECK(W >= 1, "the text has {} tokens, fewer than one window of seq_len {}", n, L);
  if (opt.max_windows > 0) W = std::min(W, opt.max_windows);

  PerplexityResult r;
  r.stream_tokens = n;
  r.windows = W;
  r.tokens = W * (L - 1);
  r.window_nll_sums.resize(static_cast<size_t>(W));

  const at::Device dev = model->device();
  at::Tensor all = at::tensor(std::vector<int64_t>(ids_in.begin(), ids_in.begin() + W * L), at::kLong).view({W, L});
  at::NoGradGuard no_grad;
  const auto t0 = std::chrono::steady_clock::now();
  Progress progress(opt.progress_label.empty() ? "eval window" : "eval " + opt.progress_label + " window", W);
  for (int64_t w0 = 0; w0 < W; w0 += opt.batch_size) {
    const int64_t k = std::min(opt.batch_size, W - w0);
    at::Tensor x = all.narrow(0, w0, k).to(dev);                        // int64 [k, L]
    at::Tensor logits = model->forward(x);                              // float32 [k, L, V]
    // float64 log-softmax a chunk of positions at a time: the float64 copy of a whole batch's logits ([k, L-1, V],
    // 1 GB at 8 x 512 x 32000) would set the run's peak memory; per row the arithmetic is the same.
    const int64_t V = logits.size(2), rows = std::max<int64_t>(1, (int64_t{8} << 20) / V);  // <= 64 MiB float64
    at::Tensor sums = at::zeros({k}, logits.options().dtype(at::kDouble));  // float64 [k] on the device
    for (int64_t i = 0; i < k; ++i)
      for (int64_t p0 = 0; p0 < L - 1; p0 += rows) {
        const int64_t c = std::min(rows, L - 1 - p0);
        at::Tensor logp = at::log_softmax(logits[i].narrow(0, p0, c).to(at::kDouble), -1);  // float64 [c, V]
        at::Tensor target = x[i].narrow(0, p0 + 1, c).unsqueeze(-1);                        // int64 [c, 1]
        sums[i] -= logp.gather(1, target).sum();
      }
    sums = sums.cpu();
    const double* s = sums.data_ptr<double>();
    for (int64_t i = 0; i < k; ++i) r.window_nll_sums[static_cast<size_t>(w0 + i)] = s[i];
    progress.step(w0 + k);
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  for (double s : r.window_nll_sums) r.nll_sum += s;
  r.nll_mean = r.nll_sum / static_cast<double>(r.tokens);
  r.ppl = std::exp(r.nll_mean);
  if (W >= 2) {
    double m = 0;
    for (double s : r.window_nll_sums) m += s / static_cast<double>(L - 1);
    m /= static_cast<double>(W);
    double ss = 0;
    for (double s : r.window_nll_sums) {
      const double d = s / static_cast<double>(L - 1) - m;
      ss += d * d;
    }
    r.nll_stderr = std::sqrt(ss / static_cast<double>(W - 1)) / std::sqrt(static_cast<double>(W));
  }
  r.ppl_stderr = r.ppl * r.nll_stderr;
  r.tokens_per_second = r.seconds > 0 ? static_cast<double>(W * L) / r.seconds : 0.0;
  return r;
}

PerplexityResult evaluate_perplexity(CausalLM& model, const Tokenizer& tok, const EvalText& text,
                                     PerplexityOptions opt) {
  if (opt.token_limit_windows == 0) opt.token_limit_windows = text.token_limit_windows;
  if (opt.progress_label.empty()) opt.progress_label = text.dataset;
  std::vector<int32_t> ids;
  std::string picks;  // c4_gptq: "doc:start " per window, recorded as a digest
  if (text.sampled_windows > 0) {
    PTQ_CHECK(!opt.bos, "dataset {}: each window is cut from a document encoded with BOS by the dataset's rule; "
              "--bos (eval.bos) does not apply", text.dataset);
    SampledWindows sw = gptq_c4_windows(tok, text.documents, opt.seq_len, text.sampled_windows, text.window_seed);
    ids = std::move(sw.ids);
    for (const auto& [doc, start] : sw.picks) picks += fmt::format("{}:{} ", doc, start);
  } else {
    ids = perplexity_tokens(tok, text.text, opt.bos);
  }
  // Errors about the text (too short for one window, ...) name the file it came from.
  PerplexityResult r = with_context(fmt::format("'{}' (dataset {})", text.path, text.dataset),
                                    [&] { return perplexity(model, ids, opt); });
  r.protocol = {
      {"dataset", text.dataset},
      {"text_rule", text.text_rule},
      {"data_path", text.path},
      {"data_sha256", text.file_sha256},
      {"tokenizer", tok.kind()},
      {"seq_len", opt.seq_len},
      {"bos", opt.bos ? "one BOS at the stream start" : "none"},
      {"dtype", std::string(c10::toString(model->dtype()))},
      {"device", model->device().str()},
      {"n_windows", r.windows},
      {"max_windows", opt.max_windows},
      {"stream_tokens", r.stream_tokens},
      {"encoded_tokens", static_cast<int64_t>(ids.size())},
      {"token_limit", opt.token_limit_windows > 0 ? opt.token_limit_windows * opt.seq_len : 0},
      {"batch_size", opt.batch_size},
      {"scoring",
       "text encoded once; non-overlapping seq_len windows, remainder dropped; each window from position 0; "
       "positions 1..L-1 scored; NLL in float64 from float32 logits; ppl = exp(sum NLL / scored tokens)"},
  };
  if (text.sampled_windows > 0) {
    r.protocol["scoring"] = "windows drawn by the dataset's rule (text_rule), concatenated; each window from position 0; "
                            "positions 1..L-1 scored; NLL in float64 from float32 logits; ppl = exp(sum NLL / scored "
                            "tokens)";
    r.protocol["window_picks_sha256"] = sha256_hex(picks);  // the (document, start) list, "doc:start " per window
  }
  return r;
}

}  // namespace ptq
