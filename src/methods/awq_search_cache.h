// AWQ's per-block scale search results, content-addressed, so cells that differ only in what follows the search
// (AWQ-academic vs AWQ-LLMC clipping, exports, evaluation) and AWQ -> OmniQuant's step 1 run it once.
// The key is sha256 over everything the search reads: the block's calibration inputs and parameters (bytes), the
// weight and activation quantizers, the search settings and the ptq build. An entry holds each subset's scale s
// [in] (float32), the chosen ratio and the candidate losses, under <dir>/awq_scale_search/<key>.safetensors
// (written atomically; a partial write is never read).
#pragma once

#include <ATen/core/Tensor.h>

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>

#include "methods/method.h"

namespace ptq {

struct AwqSearchEntry {
  std::map<std::string, at::Tensor> scales;  // subset ("qkv", "o", "gate_up", "down") -> s [in] float32, CPU
  nlohmann::json ratios = nlohmann::json::object();  // subset -> chosen ratio
  nlohmann::json losses = nlohmann::json::array();   // the candidate losses, in search order (run notes)
};

// The key of block ctx's search under `settings` (the method's search parameters as JSON).
std::string awq_search_key(const BlockContext& ctx, const nlohmann::json& settings);

// The entry for `key` in folder `dir`, if one was stored.
std::optional<AwqSearchEntry> awq_search_load(const std::string& dir, const std::string& key);
void awq_search_store(const std::string& dir, const std::string& key, const AwqSearchEntry& e);

}  // namespace ptq
