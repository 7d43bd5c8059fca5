// ptq random-model --out DIR [--shape llama2-7b | --hidden N ...]: a randomly initialised Llama HF checkpoint
// (src/model/random_model.h) for speed and memory benchmarks of shapes no offline pretrained model has.
#include <fmt/format.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/error.h"
#include "model/random_model.h"
#include "model/tokenizer.h"

namespace ptq::cli {

int cmd_random_model(const std::vector<std::string>& words) {
  namespace fs = std::filesystem;
  Args args("random-model",
            "Write a randomly initialised Llama checkpoint (HF layout: config.json, model.safetensors; GPT-2 style\n"
            "normal(0, 0.02) weights, norms 1) for speed and memory measurements of a shape that no offline model\n"
            "has. A named --shape gives every size; each size option overrides it. --tokenizer copies a tokenizer\n"
            "into the folder (its ids must fit --vocab), so ptq eval and ptq run can feed the model text.",
            {{"--out", "DIR", "output folder (must not exist, unless --force)", "", true},
             {"--shape", "NAME", "llama2-7b, llama2-13b or llama3-8b (sizes below override it)", ""},
             {"--hidden", "N", "hidden size", ""},
             {"--intermediate", "N", "MLP intermediate size", ""},
             {"--layers", "N", "decoder layers", ""},
             {"--heads", "N", "attention heads (head_dim = hidden / heads)", ""},
             {"--kv-heads", "N", "key/value heads (default: --heads when given, else the shape's)", ""},
             {"--vocab", "N", "vocabulary size", ""},
             {"--tied", "", "tie the LM head to the embedding", ""},
             {"--dtype", "T", "float32, float16 or bfloat16", "float16"},
             {"--seed", "N", "generator seed", "0"},
             {"--tokenizer", "FILE", "tokenizer.model or tokenizer.json to copy into the folder", ""},
             {"--force", "", "replace an existing output folder", ""},
             json_option("(path, config, parameters, bytes)")});
  if (!args.parse(words)) return 0;
  apply_common_options(args);
  const auto out = args.get("--out");
  PTQ_CHECK(!out->empty(), "ptq random-model: --out needs a value");
  ModelConfig c;
  if (const auto shape = args.get("--shape"); shape && !shape->empty()) {
    c = with_context("ptq random-model: --shape", [&] { return random_model_shape(*shape); });
  } else {
    c.rms_norm_eps = 1e-5;
    c.bos_token_id = 1;
    c.eos_token_id = 2;
  }
  auto set_size = [&](const char* opt, int64_t& field) {
    if (!args.get(opt)) return;
    field = args.get_int(opt);
    PTQ_CHECK(field > 0, "ptq random-model: {} must be positive (got {})", opt, field);
  };
  set_size("--hidden", c.hidden_size);
  set_size("--intermediate", c.intermediate_size);
  set_size("--layers", c.num_layers);
  set_size("--heads", c.num_heads);
  set_size("--kv-heads", c.num_kv_heads);
  set_size("--vocab", c.vocab_size);
  if (!args.get("--kv-heads") && (args.get("--heads") || c.num_kv_heads == 0)) c.num_kv_heads = c.num_heads;
  for (const auto& [opt, v] : {std::pair{"--hidden", c.hidden_size}, {"--intermediate", c.intermediate_size},
                               {"--layers", c.num_layers}, {"--heads", c.num_heads}, {"--vocab", c.vocab_size}})
    PTQ_CHECK(v > 0, "ptq random-model: {} is required without --shape", opt);
  PTQ_CHECK(c.hidden_size % c.num_heads == 0, "ptq random-model: --hidden {} is not a multiple of --heads {}",
            c.hidden_size, c.num_heads);
  PTQ_CHECK(c.num_heads % c.num_kv_heads == 0, "ptq random-model: --heads {} is not a multiple of --kv-heads {}",
            c.num_heads, c.num_kv_heads);
  c.head_dim = c.hidden_size / c.num_heads;
  c.tie_word_embeddings = args.flag("--tied");
  const at::ScalarType dtype = parse_dtype_option("random-model", args.get_or("--dtype", "float16"));
  const std::string tok = args.get_or("--tokenizer", "");
  if (!tok.empty()) {
    PTQ_CHECK(fs::is_regular_file(tok), "ptq random-model: --tokenizer {}: no such file", tok);
    const auto t = load_tokenizer(tok);
    PTQ_CHECK(t->vocab_size() <= c.vocab_size, "ptq random-model: --tokenizer {}: {} ids do not fit --vocab {}", tok,
              t->vocab_size(), c.vocab_size);
  }
  if (fs::exists(*out)) {
    PTQ_CHECK(args.flag("--force"), "ptq random-model: --out {}: exists (use --force to replace it)", *out);
    fs::remove_all(*out);
  }
  fs::create_directories(*out);
  const uint64_t bytes = write_random_checkpoint(*out, c, dtype, static_cast<uint64_t>(args.get_int("--seed")));
  // Under the name the HF reader looks for.
  if (!tok.empty())
    fs::copy_file(tok, fs::path(*out) / (fs::path(tok).extension() == ".json" ? "tokenizer.json" : "tokenizer.model"));
  const int64_t params = static_cast<int64_t>(bytes / c10::elementSize(dtype));
  fmt::print("{}: random {} ({} layers, hidden {}, intermediate {}, {} heads / {} KV, vocab {}): {:.1f} M parameters, "
             "{:.1f} MB\n",
             *out, c10::toString(dtype), c.num_layers, c.hidden_size, c.intermediate_size, c.num_heads,
             c.num_kv_heads, c.vocab_size, static_cast<double>(params) / 1e6, static_cast<double>(bytes) / 1e6);
  if (args.json()) {
    c.dtype = dtype;
    fmt::print("{}\n", nlohmann::json{{"path", *out}, {"config", c.to_hf_json()}, {"parameters", params},
                                      {"bytes", bytes}}
                           .dump());
  }
  return 0;
}

}  // namespace ptq::cli
