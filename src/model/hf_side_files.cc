#include "model/hf_side_files.h"

#include <optional>

#include "core/atomic_file.h"
#include "model/gguf_checkpoint.h"
#include "model/tokenizer_hf_json.h"

namespace ptq {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

ojson generation_config_json(const ModelConfig& c) {
  ojson gen = {{"_from_model_config", true}};
  if (c.bos_token_id) gen["bos_token_id"] = *c.bos_token_id;
  if (c.eos_token_id) gen["eos_token_id"] = *c.eos_token_id;
  return gen;
}

ojson minimal_tokenizer_config_json(const ModelConfig& c) {
  return {{"model_max_length", c.max_position_embeddings}, {"clean_up_tokenization_spaces", false}};
}

void write_hf_side_files(const fs::path& dir, const ModelConfig& c) {
  write_file_atomically((dir / "generation_config.json").string(), generation_config_json(c).dump(2) + "\n");
  write_file_atomically((dir / "tokenizer_config.json").string(), minimal_tokenizer_config_json(c).dump(2) + "\n");
}

bool gguf_has_bpe_vocabulary(const GgufFile& f) {
  return f.has_key("tokenizer.ggml.model") && f.get_string("tokenizer.ggml.model") == "gpt2";
}

void write_gguf_tokenizer_files(const GgufFile& f, const ModelConfig& c, const fs::path& dir) {
  const HfBpeSpec spec = gguf_bpe_spec(f);
  const auto& meta = f.metadata();
  const bool add_bos = meta.contains("tokenizer.ggml.add_bos_token") &&
                       meta.at("tokenizer.ggml.add_bos_token").is_boolean() &&
                       meta.at("tokenizer.ggml.add_bos_token").get<bool>();
  write_file_atomically((dir / "tokenizer.json").string(), hf_tokenizer_json(spec, add_bos).dump(1) + "\n");
  auto token = [&](const char* key) -> std::optional<std::string> {
    if (!f.has_key(key)) return std::nullopt;
    const int64_t id = f.get_int(key);
    if (id < 0 || static_cast<size_t>(id) >= spec.vocab.size()) return std::nullopt;
    return spec.vocab[static_cast<size_t>(id)];
  };
  ojson special = ojson::object();
  for (const auto& [name, key] : {std::pair{"bos_token", "tokenizer.ggml.bos_token_id"},
                                  {"eos_token", "tokenizer.ggml.eos_token_id"},
                                  {"unk_token", "tokenizer.ggml.unknown_token_id"},
                                  {"pad_token", "tokenizer.ggml.padding_token_id"}})
    if (auto t = token(key)) special[name] = *t;
  ojson tc = {{"tokenizer_class", "PreTrainedTokenizerFast"}, {"add_bos_token", add_bos}, {"add_eos_token", false},
              {"clean_up_tokenization_spaces", false}, {"model_max_length", c.max_position_embeddings}};
  for (auto it = special.begin(); it != special.end(); ++it) tc[it.key()] = it.value();
  if (f.has_key("tokenizer.chat_template")) tc["chat_template"] = f.get_string("tokenizer.chat_template");
  write_file_atomically((dir / "tokenizer_config.json").string(), tc.dump(2) + "\n");
  write_file_atomically((dir / "special_tokens_map.json").string(), special.dump(2) + "\n");
}

std::vector<std::string> tokenizer_files_of(const std::string& model_path, const std::string& tokenizer_path) {
  std::vector<std::string> out;
  if (fs::is_directory(model_path))
    for (const char* f : {"tokenizer.json", "tokenizer.model", "tokenizer_config.json", "special_tokens_map.json",
                          "added_tokens.json", "generation_config.json"})
      if (fs::is_regular_file(fs::path(model_path) / f)) out.push_back((fs::path(model_path) / f).string());
  if (!tokenizer_path.empty() && fs::is_regular_file(tokenizer_path)) out.push_back(tokenizer_path);
  return out;
}

void copy_tokenizer_files(const std::string& model_path, const std::string& tokenizer_path, const ModelConfig& c,
                          const fs::path& dir) {
  if (tokenizer_path.empty() && fs::path(model_path).extension() == ".gguf" && fs::is_regular_file(model_path)) {
    const GgufFile f = GgufFile::open(model_path);
    if (gguf_has_bpe_vocabulary(f)) write_gguf_tokenizer_files(f, c, dir);
  }
  for (const auto& file : tokenizer_files_of(model_path, tokenizer_path))
    fs::copy_file(file, dir / fs::path(file).filename(), fs::copy_options::overwrite_existing);
}

}  // namespace ptq
