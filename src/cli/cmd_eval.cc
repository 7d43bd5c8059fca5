// ptq eval: perplexity of a model on a named dataset (src/data/eval_text.h) with the protocol of src/eval/perplexity.h.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/device.h"
#include "core/error.h"
#include "data/eval_text.h"
#include "eval/perplexity.h"
#include "model/loaded_model.h"

namespace ptq::cli {

namespace {
std::string dataset_help() {
  std::string s = "dataset:";
  for (const auto& d : eval_datasets()) s += fmt::format("\n{:27}{:12} {}", "", d.name, d.description);
  return s;
}
}  // namespace

int cmd_eval(const std::vector<std::string>& words) {
  const auto opts = options(model_options(), {
      {"--dataset", "NAME", dataset_help(), "", true},
      {"--data-path", "FILE", "data file (default: the dataset's file under $PTQ_DATA_DIR)", ""},
      {"--seq-len", "N", "window length in tokens", "2048"},
      {"--bos", "", "one BOS token at the start of the token stream (default: none)", ""},
      {"--batch-size", "N", "windows per forward call", "1"},
      {"--max-windows", "N", "score at most N windows (0 = all)", "0"},
      json_option()});
  Args args("eval",
            "Perplexity over non-overlapping --seq-len windows of a dataset's text (encoded once; remainder dropped;\n"
            "positions 1..L-1 of each window scored; NLL in float64). Prints ppl ± stderr (over windows) and the\n"
            "protocol.",
            opts);
  if (!args.parse(words)) return 0;
  apply_common_options(args);
  const std::string model_path = args.value("--model");
  const std::string dataset = args.value("--dataset");
  PerplexityOptions opt;
  opt.seq_len = args.get_int("--seq-len");
  PTQ_CHECK(opt.seq_len >= 2, "ptq eval: --seq-len must be >= 2, got {}", opt.seq_len);
  opt.batch_size = args.get_int("--batch-size");
  PTQ_CHECK(opt.batch_size >= 1, "ptq eval: --batch-size must be >= 1, got {}", opt.batch_size);
  opt.max_windows = args.get_int("--max-windows");
  PTQ_CHECK(opt.max_windows >= 0, "ptq eval: --max-windows must be >= 0, got {}", opt.max_windows);
  opt.bos = args.flag("--bos");

  EvalTextOptions topt;
  topt.data_path = args.get_or("--data-path", "");
  // Read the data before loading the model: a bad dataset name or a missing file fails fast.
  const EvalText text = load_eval_text(dataset, topt);
  LoadOptions lo;
  lo.device = resolve_device(args.get_or("--device", "cpu"));
  LoadedModel m = load_model(model_path, args.get_or("--tokenizer", ""), lo);
  const PerplexityResult r = evaluate_perplexity(m.model, *m.tokenizer, text, opt);

  fmt::print("{}: ppl {:.4f} ± {:.4f}  (nll_mean {:.6f} ± {:.6f}; {} scored tokens, {} windows of {})\n",
             text.dataset, r.ppl, r.ppl_stderr, r.nll_mean, r.nll_stderr, r.tokens, r.windows, opt.seq_len);
  fmt::print("{:.3f} s, {:.1f} tokens/s\n", r.seconds, r.tokens_per_second);
  fmt::print("protocol: {}\n", r.protocol.dump(2));
  if (args.json()) {
    nlohmann::json j = {{"ppl", r.ppl},
                        {"ppl_stderr", r.ppl_stderr},
                        {"nll_mean", r.nll_mean},
                        {"nll_stderr", r.nll_stderr},
                        {"nll_sum", r.nll_sum},
                        {"tokens", r.tokens},
                        {"windows", r.windows},
                        {"window_nll_sums", r.window_nll_sums},
                        {"seconds", r.seconds},
                        {"tokens_per_second", r.tokens_per_second},
                        {"model", model_path},
                        {"format", m.checkpoint->format()},
                        {"protocol", r.protocol}};
    fmt::print("{}\n", j.dump());
  }
  return 0;
}

}  // namespace ptq::cli
