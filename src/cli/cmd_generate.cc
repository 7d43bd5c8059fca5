// ptq generate: greedy continuation of a prompt, to check a model (and later a quantized model) by eye.
#include <fmt/format.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/device.h"
#include "core/error.h"
#include "model/generate.h"
#include "model/loaded_model.h"

namespace ptq::cli {

int cmd_generate(const std::vector<std::string>& words) {
  Args args("generate",
            "Greedy decoding with a KV cache. --model is a Hugging Face checkpoint directory (tokenizer.json or\n"
            "tokenizer.model inside), a llama2.c .bin (with --tokenizer tokenizer.bin) or a .gguf.",
            options(model_options(), {
             {"--prompt", "TEXT", "prompt text", "", true},
             {"-n,--tokens", "N", "new tokens to generate at most", "64"},
             {"--no-bos", "", "do not prepend the BOS token", ""},
             json_option()}));
  if (!args.parse(words)) return 0;
  apply_common_options(args);
  const std::string model_path = args.value("--model");
  const std::string prompt = args.value("--prompt");
  const int n = args.get_int("--tokens");
  PTQ_CHECK(n >= 0, "ptq generate: --tokens must be >= 0, got {}", n);

  LoadOptions lo;
  lo.device = resolve_device(args.get_or("--device", "cpu"));
  LoadedModel m = load_model(model_path, args.get_or("--tokenizer", ""), lo);
  const auto ids = m.tokenizer->encode(prompt, !args.flag("--no-bos"));
  const auto t0 = std::chrono::steady_clock::now();
  GenerateResult r = generate_greedy(*m.model, ids, n, m.tokenizer->eos_id());
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::vector<int32_t> all = ids;
  all.insert(all.end(), r.tokens.begin(), r.tokens.end());
  const std::string text = m.tokenizer->decode(all);
  if (args.json()) {
    nlohmann::json j = {{"text", text},
                        {"prompt_tokens", ids},
                        {"tokens", r.tokens},
                        {"stopped_at_eos", r.stopped_at_eos},
                        {"seconds", secs},
                        {"tokenizer", m.tokenizer->kind()},
                        {"format", m.checkpoint->format()}};
    fmt::print("{}\n", j.dump());
  } else {
    fmt::print("{}\n", text);
    fmt::print(stderr, "({} tokens in {:.3f} s, {:.1f} tokens/s)\n", r.tokens.size(), secs,
               secs > 0 ? static_cast<double>(r.tokens.size()) / secs : 0.0);
  }
  return 0;
}

}  // namespace ptq::cli
