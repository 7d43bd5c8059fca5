// ptq convert --model X.gguf --out DIR: a GGUF model as a Hugging Face folder (config.json, model.safetensors in the
// dtype config.json states, tokenizer.json, tokenizer_config.json, special_tokens_map.json, generation_config.json)
// that ptq and transformers load with the same weights: quantized GGUF tensors are dequantized (model/ggml_blocks.h),
// Llama q/k rows are permuted back to HF's rotate-half layout. Written under a temporary name and renamed when
// complete, so an interrupted conversion leaves no folder behind.
#include <fmt/format.h>

#include <ATen/ATen.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "model/gguf_checkpoint.h"
#include "model/hf_checkpoint.h"
#include "model/hf_side_files.h"

namespace ptq::cli {

namespace {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

std::optional<int64_t> meta_int(const GgufFile& f, const std::string& key) {
  return f.has_key(key) ? std::optional<int64_t>(f.get_int(key)) : std::nullopt;
}

}  // namespace

int cmd_convert(const std::vector<std::string>& words) {
  Args args("convert",
            "Write a GGUF model as a Hugging Face folder: config.json, model.safetensors (quantized GGUF tensors\n"
            "dequantized, in --dtype, which config.json states), tokenizer.json with tokenizer_config.json and\n"
            "special_tokens_map.json (from a BPE 'gpt2' GGUF vocabulary; otherwise give --tokenizer), and\n"
            "generation_config.json. ptq and transformers read the folder with the same weights.",
            {{"--model", "PATH", "the .gguf file", "", true},
             {"--out", "DIR", "output folder (must not exist, unless --force)", "", true},
             {"--dtype", "T", "float32, float16 or bfloat16 for every tensor", "float32"},
             {"--tokenizer", "FILE", "tokenizer.json or tokenizer.model to copy instead of the GGUF vocabulary", ""},
             {"--force", "", "replace an existing output folder", ""},
             json_option("(path, files, config, tensors, bytes)")});
  if (!args.parse(words)) return 0;
  apply_common_options(args);
  const auto model = args.get("--model");
  const auto out = args.get("--out");
  PTQ_CHECK(!model->empty() && !out->empty(), "ptq convert: --model and --out need a value");
  PTQ_CHECK(fs::path(*model).extension() == ".gguf", "ptq convert: --model {}: not a .gguf file", *model);
  const at::ScalarType dtype = parse_dtype_option("convert", args.get_or("--dtype", "float32"));
  const std::string tok = args.get_or("--tokenizer", "");
  PTQ_CHECK(tok.empty() || fs::is_regular_file(tok), "ptq convert: --tokenizer {}: no such file", tok);
  if (fs::exists(*out)) PTQ_CHECK(args.flag("--force"), "ptq convert: --out {}: exists (use --force to replace it)", *out);

  const auto ck = GgufCheckpoint::open(*model);
  const GgufFile& f = ck->file();
  PTQ_CHECK(!tok.empty() || gguf_has_bpe_vocabulary(f),
            "{}: tokenizer.ggml.model '{}': ptq convert writes tokenizer.json for BPE ('gpt2') vocabularies; give the "
            "model's tokenizer file with --tokenizer", *model, f.get_string("tokenizer.ggml.model"));
  ModelConfig c = ck->config();
  c.dtype = dtype;

  const fs::path final_dir = fs::absolute(*out).lexically_normal();
  fs::create_directories(final_dir.parent_path());
  remove_stale_temps(final_dir.parent_path().string());
  const fs::path tmp = temp_path_for(final_dir.string());
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  uint64_t bytes = 0;
  for (const auto& name : ck->names()) {
    if (!ck->has(name)) continue;
    at::Tensor t = ck->load(name).to(dtype).contiguous();
    bytes += static_cast<uint64_t>(t.numel() * t.element_size());
    tensors.emplace_back(name, std::move(t));
  }
  write_hf_checkpoint(tmp.string(), c, tensors, 5'000'000'000ULL,
                      {{"format", "pt"}, {"converted_from", fs::path(*model).filename().string()}});
  ojson gen = generation_config_json(c);
  if (const auto pad = meta_int(f, "tokenizer.ggml.padding_token_id")) gen["pad_token_id"] = *pad;
  write_file_atomically((tmp / "generation_config.json").string(), gen.dump(2) + "\n");
  if (tok.empty())
    write_gguf_tokenizer_files(f, c, tmp);
  else
    fs::copy_file(tok, tmp / (fs::path(tok).extension() == ".json" ? "tokenizer.json" : "tokenizer.model"));
  if (fs::exists(final_dir)) fs::remove_all(final_dir);
  publish_dir(tmp.string(), final_dir.string());

  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(final_dir)) files.push_back(e.path().filename().string());
  std::sort(files.begin(), files.end());
  fmt::print("{}: {} ({} layers, hidden {}, vocab {}) -> {} tensors in {}, {:.1f} MB\n", *out, *model, c.num_layers,
             c.hidden_size, c.vocab_size, tensors.size(), c10::toString(dtype), static_cast<double>(bytes) / 1e6);
  if (args.json())
    fmt::print("{}\n", nlohmann::json{{"path", *out}, {"files", files}, {"config", c.to_hf_json()},
                                      {"tensors", tensors.size()}, {"bytes", bytes}}
                           .dump());
  return 0;
}

}  // namespace ptq::cli
