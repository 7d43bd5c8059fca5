// Hugging Face checkpoint directories: config.json plus model.safetensors, or shards listed in
// model.safetensors.index.json (docs/formats.md). The writer produces the same layout.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "model/checkpoint.h"
#include "model/safetensors.h"

namespace ptq {

// The safetensors files of an HF directory (model.safetensors, or the shards model.safetensors.index.json lists) and
// the file each tensor lives in. Errors name the directory and the missing shard or the tensor found twice.
struct SafetensorsSet {
  std::vector<SafetensorsFile> files;
  std::map<std::string, size_t> where;  // tensor name -> index into files
};
SafetensorsSet open_safetensors_set(const std::string& dir);

// A JSON file (config.json, an index); errors name the file.
nlohmann::json read_json_file(const std::filesystem::path& p);

// True when a config.json object has a quantization_config object: the mark of a real-quant export (AutoAWQ, GPTQ),
// which HfCheckpoint does not read and export's QuantizedCheckpoint does.
bool has_quantization_config(const nlohmann::json& config);

class HfCheckpoint : public Checkpoint {
 public:
  // Opens `dir`; checks every tensor the config implies is present with the expected shape (errors name the file, the
  // tensor and both shapes). Unknown extra tensors are ignored with a warning on stderr.
  static std::unique_ptr<HfCheckpoint> open(const std::string& dir);

  const ModelConfig& config() const override { return config_; }
  std::vector<std::string> names() const override;
  bool has(const std::string& name) const override { return where_.count(name) > 0; }
  at::Tensor load(const std::string& name) const override;
  std::unique_ptr<Tokenizer> tokenizer() const override;
  std::string format() const override { return "hf-safetensors"; }
  std::string path() const override { return dir_; }
  // Files the checkpoint consists of (one, or the shards).
  std::vector<std::string> files() const;

 private:
  std::string dir_;
  ModelConfig config_;
  std::vector<SafetensorsFile> files_;
  std::map<std::string, size_t> where_;  // tensor name -> index into files_
};

// Writes config.json and the tensors as model.safetensors, or as model-0000i-of-0000N.safetensors shards of at most
// `max_shard_bytes` (tensors in the given order, an oversize tensor alone) plus model.safetensors.index.json.
// generation_config.json and tokenizer_config.json (hf_side_files.h) are written too; callers with a tokenizer copy its
// files over them (copy_tokenizer_files).
// Files are written under temporary names and renamed, config.json last. `config_extra` keys are added to config.json
// (e.g. quantization_config, export_checkpoint.h), replacing keys of the same name.
void write_hf_checkpoint(const std::string& dir, const ModelConfig& config,
                         const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                         uint64_t max_shard_bytes = 5'000'000'000ULL,
                         const std::map<std::string, std::string>& metadata = {},
                         const nlohmann::json& config_extra = nlohmann::json::object());

}  // namespace ptq
