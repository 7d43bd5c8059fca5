#include "model/hf_checkpoint.h"

#include <ATen/ATen.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <set>

#include "model/hf_side_files.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "model/tokenizer.h"

namespace ptq {

namespace fs = std::filesystem;

nlohmann::json read_json_file(const fs::path& p) {
  std::ifstream in(p);
  PTQ_CHECK(in.good(), "{}: cannot open", p.string());
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    PTQ_FAIL("{}: not valid JSON: {}", p.string(), e.what());
  }
}

namespace {

// Writes text to `p` via a temporary file, fsync and rename (core/atomic_file.h).
void write_text_atomically(const fs::path& p, const std::string& text) { write_file_atomically(p.string(), text); }

}  // namespace

SafetensorsSet open_safetensors_set(const std::string& dir) {
  SafetensorsSet set;
  const fs::path d(dir);
  std::vector<std::string> shard_files;
  const fs::path index = d / "model.safetensors.index.json";
  if (fs::exists(index)) {
    nlohmann::json j = read_json_file(index);
    PTQ_CHECK(j.contains("weight_map") && j["weight_map"].is_object(), "{}: key 'weight_map' missing or not an object",
              index.string());
    std::set<std::string> seen;
    for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
      PTQ_CHECK(it.value().is_string(), "{}: weight_map['{}'] is not a file name", index.string(), it.key());
      if (seen.insert(it.value().get<std::string>()).second) shard_files.push_back(it.value().get<std::string>());
    }
    PTQ_CHECK(!shard_files.empty(), "{}: weight_map is empty", index.string());
  } else {
    PTQ_CHECK(fs::exists(d / "model.safetensors"), "{}: neither model.safetensors nor model.safetensors.index.json",
              dir);
    shard_files.push_back("model.safetensors");
  }
  for (const auto& f : shard_files) {
    PTQ_CHECK(fs::exists(d / f), "{}: shard '{}' listed in the index is missing", dir, f);
    set.files.push_back(SafetensorsFile::open((d / f).string()));
    for (const auto& e : set.files.back().entries()) {
      auto [it, inserted] = set.where.emplace(e.name, set.files.size() - 1);
      PTQ_CHECK(inserted, "{}: tensor '{}' appears in both {} and {}", dir, e.name, set.files[it->second].path(),
                set.files.back().path());
    }
  }
  return set;
}

bool has_quantization_config(const nlohmann::json& config) {
  return config.is_object() && config.contains("quantization_config") && config["quantization_config"].is_object();
}

std::unique_ptr<HfCheckpoint> HfCheckpoint::open(const std::string& dir) {
  auto ck = std::unique_ptr<HfCheckpoint>(new HfCheckpoint());
  ck->dir_ = dir;
  const fs::path d(dir);
  const fs::path cfg = d / "config.json";
  PTQ_CHECK(fs::exists(cfg), "{}: no config.json (not a Hugging Face checkpoint directory)", dir);
  const nlohmann::json cj = read_json_file(cfg);
  // A real-quant export reaches here only when no DirectoryReader for it was registered (model/checkpoint.h).
  PTQ_CHECK(!has_quantization_config(cj),
            "{}: config.json has a quantization_config (a real-quant export) but no reader for it is registered; "
            "a program linking ptq's export library calls register_quantized_checkpoint_reader() at start-up",
            cfg.string());
  ck->config_ = ModelConfig::from_hf_json(cj, cfg.string());
  SafetensorsSet set = open_safetensors_set(dir);
  ck->files_ = std::move(set.files);
  ck->where_ = std::move(set.where);

  // Every tensor the config implies must be there with the right shape; extras are reported and ignored.
  PTQ_CHECK(static_cast<uint64_t>(ck->config_.num_layers) * 9 <= ck->where_.size(),
            "{}: config.json has num_hidden_layers {} but the checkpoint holds only {} tensors (9 or more per layer)",
            dir, ck->config_.num_layers, ck->where_.size());
  std::set<std::string> expected;
  for (const auto& name : hf_tensor_names(ck->config_)) {
    expected.insert(name);
    auto it = ck->where_.find(name);
    PTQ_CHECK(it != ck->where_.end(), "{}: tensor '{}' is missing (config.json implies it)", dir, name);
    const SafetensorsFile& f = ck->files_[it->second];
    const auto want = hf_tensor_shape(ck->config_, name);
    PTQ_CHECK(f.find(name)->shape == want, "{}: tensor '{}' has shape [{}], config.json implies [{}]", f.path(), name,
              fmt::join(f.find(name)->shape, ", "), fmt::join(want, ", "));
    const at::ScalarType t = f.find(name)->scalar_type;
    PTQ_CHECK(t == at::kFloat || t == at::kHalf || t == at::kBFloat16 || t == at::kDouble,
              "{}: tensor '{}' has dtype {}; model weights must be F32, F16, BF16 or F64", f.path(), name,
              f.find(name)->dtype);
  }
  std::vector<std::string> extra;
  for (auto it = ck->where_.begin(); it != ck->where_.end();) {
    if (expected.count(it->first) == 0) {
      extra.push_back(it->first);
      it = ck->where_.erase(it);
    } else {
      ++it;
    }
  }
  if (!extra.empty())
    fmt::print(stderr, "ptq: warning: {}: ignoring {} tensor(s) the model does not use, e.g. '{}'\n", dir,
               extra.size(), extra.front());
  return ck;
}

std::vector<std::string> HfCheckpoint::names() const { return hf_tensor_names(config_); }

at::Tensor HfCheckpoint::load(const std::string& name) const {
  auto it = where_.find(name);
  PTQ_CHECK(it != where_.end(), "{}: no tensor named '{}'", dir_, name);
  return files_[it->second].load(name);
}

std::vector<std::string> HfCheckpoint::files() const {
  std::vector<std::string> out;
  for (const auto& f : files_) out.push_back(f.path());
  return out;
}

std::unique_ptr<Tokenizer> HfCheckpoint::tokenizer() const {
  const fs::path d(dir_);
  if (fs::exists(d / "tokenizer.json") || fs::exists(d / "tokenizer.model")) return load_tokenizer(dir_);
  return nullptr;
}

void write_hf_checkpoint(const std::string& dir, const ModelConfig& config,
                         const std::vector<std::pair<std::string, at::Tensor>>& tensors, uint64_t max_shard_bytes,
                         const std::map<std::string, std::string>& metadata, const nlohmann::json& config_extra) {
  const fs::path d(dir);
  fs::create_directories(d);
  // Shard boundaries: a new shard when the next tensor would overflow the current one.
  std::vector<std::vector<std::pair<std::string, at::Tensor>>> shards(1);
  uint64_t used = 0, total = 0;
  for (const auto& [name, t] : tensors) {
    const uint64_t bytes = t.numel() * t.element_size();
    if (!shards.back().empty() && used + bytes > max_shard_bytes) {
      shards.emplace_back();
      used = 0;
    }
    shards.back().emplace_back(name, t);
    used += bytes;
    total += bytes;
  }
  if (shards.size() == 1) {
    write_safetensors((d / "model.safetensors").string(), shards[0], metadata);
    fs::remove(d / "model.safetensors.index.json");
  } else {
    nlohmann::ordered_json index = {{"metadata", {{"total_size", total}}}, {"weight_map", nlohmann::ordered_json::object()}};
    for (size_t i = 0; i < shards.size(); ++i) {
      const std::string file = fmt::format("model-{:05d}-of-{:05d}.safetensors", i + 1, shards.size());
      write_safetensors((d / file).string(), shards[i], metadata);
      for (const auto& kv : shards[i]) index["weight_map"][kv.first] = file;
    }
    write_text_atomically(d / "model.safetensors.index.json", index.dump(2) + "\n");
    fs::remove(d / "model.safetensors");
  }
  write_hf_side_files(d, config);
  nlohmann::json cfg = config.to_hf_json();
  for (auto it = config_extra.begin(); it != config_extra.end(); ++it) cfg[it.key()] = it.value();
  write_text_atomically(d / "config.json", cfg.dump(2) + "\n");
}

}  // namespace ptq
