// The small JSON files transformers reads beside config.json, written by every ptq checkpoint writer
// (write_hf_checkpoint, exports, `ptq convert`) so a folder ptq writes loads with AutoTokenizer / GenerationConfig:
//   generation_config.json  bos/eos token ids from the model config (what transformers derives when the file is
//                           missing, written out so generate() does not warn and other tools see the same ids);
//   tokenizer_config.json   model_max_length, and the special tokens when the tokenizer is known.
// A GGUF with a BPE ("gpt2") vocabulary also yields tokenizer.json and special_tokens_map.json, so a model quantized
// from a GGUF is saved with a tokenizer transformers can load.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model/gguf_file.h"
#include "model/model_config.h"

namespace ptq {

nlohmann::ordered_json generation_config_json(const ModelConfig& c);
// Without a tokenizer: model_max_length and clean_up_tokenization_spaces only (transformers then picks the tokenizer
// class from config.json's model_type).
nlohmann::ordered_json minimal_tokenizer_config_json(const ModelConfig& c);

// Writes generation_config.json and tokenizer_config.json into `dir` (atomically each).
void write_hf_side_files(const std::filesystem::path& dir, const ModelConfig& c);

// True when the GGUF's vocabulary is byte-level BPE ("gpt2"), which write_gguf_tokenizer_files can express.
bool gguf_has_bpe_vocabulary(const GgufFile& f);
// tokenizer.json, tokenizer_config.json (special tokens, add_bos_token, the chat template) and
// special_tokens_map.json from a "gpt2" GGUF vocabulary, into `dir` (replacing those files).
void write_gguf_tokenizer_files(const GgufFile& f, const ModelConfig& c, const std::filesystem::path& dir);

// The tokenizer files of a model source that exist: from an HF folder tokenizer.json, tokenizer.model,
// tokenizer_config.json, special_tokens_map.json, added_tokens.json, generation_config.json; plus `tokenizer_path`.
std::vector<std::string> tokenizer_files_of(const std::string& model_path, const std::string& tokenizer_path);
// Gives the checkpoint folder `dir` the tokenizer of its source model: the files tokenizer_files_of lists, copied over
// what write_hf_side_files wrote; for a GGUF source without `tokenizer_path`, the files write_gguf_tokenizer_files
// derives from its BPE vocabulary (none for another vocabulary type).
void copy_tokenizer_files(const std::string& model_path, const std::string& tokenizer_path, const ModelConfig& c,
                          const std::filesystem::path& dir);

}  // namespace ptq
