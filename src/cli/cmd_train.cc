// ptq train: the default model (src/train/trainer.h) — corpus from Debian packages, sentencepiece tokenizer, Llama
// trained from scratch, saved as an HF checkpoint under results/models/<preset>, reused when nothing changed.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/error.h"
#include "train/trainer.h"

namespace ptq::cli {

int cmd_train(const std::vector<std::string>& words) {
  Args args("train",
            "Train a Llama-architecture model from scratch on the English corpus built from Debian packages\n"
            "(KJV, fortunes, jargon, debian-handbook, perl-doc; docs/default-model.md) with a sentencepiece BPE tokenizer, and\n"
            "save it as an HF checkpoint (config.json, model.safetensors, tokenizer.model) with data/valid.txt,\n"
            "data/calib.txt and the model card ptq_train.json. A model already there with the same corpus, preset,\n"
            "seed and trainer version is reused.",
            {{"--preset", "NAME", "tiny (CI, ~2 min on 2 cores) or default (the demo's model, <= 15 min)", "default"},
             {"--out", "DIR", "output folder (default results/models/<preset>)", ""},
             {"--corpus-dir", "DIR", "where the cleaned corpus is built and cached", "results/corpus"},
             {"--seed", "N", "initialisation, batch order and tokenizer sampling", "0"},
             {"--steps", "N", "override the preset's number of optimizer steps (0 = the preset's)", "0"},
             {"--force", "", "train even when a matching model exists", ""},
             {"--json", "", "print the model card as one JSON object on the last line", ""}});
  if (!args.parse(words)) return 0;
  apply_common_options(args);
  TrainOptions opt;
  opt.preset = args.get_or("--preset", "default");
  opt.out_dir = args.get_or("--out", "");
  opt.corpus_dir = args.get_or("--corpus-dir", "results/corpus");
  const int64_t seed = args.get_int("--seed");
  PTQ_CHECK(seed >= 0, "ptq train: --seed must be >= 0, got {}", seed);
  opt.seed = static_cast<uint64_t>(seed);
  opt.steps = args.get_int("--steps");
  PTQ_CHECK(opt.steps >= 0, "ptq train: --steps must be >= 0, got {}", opt.steps);
  opt.force = args.flag("--force");
  const TrainResult r = train_model(opt);
  const auto& h = r.card["heldout"];
  fmt::print("{}: {} parameters, held-out ppl {:.3f} (unigram {:.1f}), {}\n", r.out_dir,
             r.card["parameters"].get<int64_t>(), h["ppl"].get<double>(), h["unigram_ppl"].get<double>(),
             r.cached ? "cached" : fmt::format("trained in {:.0f} s", r.card["seconds"]["total"].get<double>()));
  if (args.json()) {
    nlohmann::json out = r.card;
    out["out_dir"] = r.out_dir;
    out["cached"] = r.cached;
    fmt::print("{}\n", out.dump());
  }
  return 0;
}

}  // namespace ptq::cli
