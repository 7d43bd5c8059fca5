#include "methods/awq_search_cache.h"

#include <ATen/ATen.h>

#include <filesystem>

#include "core/build_info.h"
#include "core/error.h"
#include "core/sha256.h"
#include "model/safetensors.h"

namespace ptq {

namespace {

namespace fs = std::filesystem;

std::string bytes_sha256(const at::Tensor& t) {
  const at::Tensor c = t.detach().cpu().contiguous();
  return sha256_hex(std::string_view(static_cast<const char*>(c.data_ptr()), c.numel() * c.element_size()));
}

fs::path entry_path(const std::string& dir, const std::string& key) {
  return fs::path(dir) / "awq_scale_search" / (key + ".safetensors");
}

}  // namespace

std::string awq_search_key(const BlockContext& ctx, const nlohmann::json& settings) {
  // Digests of each input batch and each parameter (with its shape and dtype), then one digest over all of them.
  nlohmann::json parts = {{"settings", settings},
                          {"build", build_info().git_commit},
                          {"weight", ctx.scheme().weight.describe()},
                          {"act", ctx.scheme().act ? ctx.scheme().act->describe() : "none"}};
  for (const auto& x : ctx.inputs())
    parts["inputs"].push_back({{"shape", x.sizes().vec()}, {"dtype", c10::toString(x.scalar_type())},
                               {"sha256", bytes_sha256(x)}});
  // Parameter slots in their fixed order (weights and biases of the linears, the norms).
  DecoderLayer& block = const_cast<BlockContext&>(ctx).block();
  for (const at::Tensor* p : block->parameter_slots())
    parts["params"].push_back({{"shape", p->sizes().vec()}, {"dtype", c10::toString(p->scalar_type())},
                               {"sha256", bytes_sha256(*p)}});
  return sha256_hex(parts.dump());
}

std::optional<AwqSearchEntry> awq_search_load(const std::string& dir, const std::string& key) {
  const fs::path p = entry_path(dir, key);
  if (!fs::exists(p)) return std::nullopt;
  return with_context(p.string(), [&] {
    const SafetensorsFile f = SafetensorsFile::open(p.string());
    AwqSearchEntry e;
    const auto& meta = f.metadata();
    PTQ_CHECK(meta.count("ratios") && meta.count("losses"), "not an AWQ scale-search entry (metadata missing)");
    e.ratios = nlohmann::json::parse(meta.at("ratios"));
    e.losses = nlohmann::json::parse(meta.at("losses"));
    for (const auto& entry : f.entries()) e.scales[entry.name] = f.load(entry.name);
    return e;
  });
}

void awq_search_store(const std::string& dir, const std::string& key, const AwqSearchEntry& e) {
  const fs::path p = entry_path(dir, key);
  fs::create_directories(p.parent_path());
  std::vector<std::pair<std::string, at::Tensor>> tensors(e.scales.begin(), e.scales.end());
  write_safetensors(p.string(), tensors,
                    {{"producer", "ptq awq"}, {"kind", "awq_scale_search"}, {"ratios", e.ratios.dump()},
                     {"losses", e.losses.dump()}});
}

}  // namespace ptq
