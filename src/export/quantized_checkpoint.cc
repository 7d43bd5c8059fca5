#include "export/quantized_checkpoint.h"

#include <ATen/ATen.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <set>

#include "core/error.h"
#include "export/awq_pack.h"
#include "export/gptq_pack.h"
#include "model/hf_checkpoint.h"
#include "model/tokenizer.h"

namespace ptq {

namespace fs = std::filesystem;

namespace {

int64_t int_key(const nlohmann::json& q, std::initializer_list<const char*> keys, const std::string& where) {
  for (const char* k : keys)
    if (q.contains(k) && q[k].is_number_integer()) return q[k].get<int64_t>();
  PTQ_FAIL("{}: quantization_config needs integer key '{}'", where, *keys.begin());
}

}  // namespace

bool QuantizedCheckpoint::is_quantized_dir(const std::string& dir) {
  const fs::path cfg = fs::path(dir) / "config.json";
  if (!fs::is_regular_file(cfg)) return false;
  return has_quantization_config(read_json_file(cfg));
}

std::unique_ptr<QuantizedCheckpoint> QuantizedCheckpoint::open(const std::string& dir) {
  auto ck = std::unique_ptr<QuantizedCheckpoint>(new QuantizedCheckpoint());
  ck->dir_ = dir;
  const fs::path cfg_path = fs::path(dir) / "config.json";
  const std::string where = cfg_path.string();
  const nlohmann::json j = read_json_file(cfg_path);
  ck->config_ = ModelConfig::from_hf_json(j, where);
  PTQ_CHECK(j.contains("quantization_config") && j["quantization_config"].is_object(),
            "{}: no quantization_config object", where);
  const nlohmann::json& q = j["quantization_config"];
  ck->qconfig_ = q;
  const std::string method = q.value("quant_method", "");
  ck->bits_ = static_cast<int>(int_key(q, {"bits", "w_bit"}, where));
  const int64_t g = int_key(q, {"group_size", "q_group_size"}, where);
  if (method == "awq") {
    std::string version = q.value("version", "gemm");
    std::transform(version.begin(), version.end(), version.begin(), [](unsigned char ch) { return std::tolower(ch); });
    PTQ_CHECK(version == "gemm" || version == "gemv",
              "{}: quantization_config.version '{}' is not supported (gemm, "
              "gemv)",
              where, version);
    ck->target_.format = version == "gemm" ? ExportFormat::kAwqGemm : ExportFormat::kAwqGemv;
    PTQ_CHECK(ck->bits_ == 4, "{}: AutoAWQ checkpoints hold 4-bit weights, bits is {}", where, ck->bits_);
    PTQ_CHECK(q.value("zero_point", true), "{}: zero_point false is not supported (AutoAWQ cannot write it)", where);
    PTQ_CHECK(g > 0, "{}: AutoAWQ group_size must be positive, got {}", where, g);
  } else if (method == "gptq") {
    ck->target_.format = ExportFormat::kGptq;
    const std::string fmt_name = q.value("checkpoint_format", "gptq");
    PTQ_CHECK(fmt_name == "gptq" || fmt_name == "gptq_v2",
              "{}: quantization_config.checkpoint_format '{}' is not supported (gptq, gptq_v2)", where, fmt_name);
    ck->target_.gptq_zeros = fmt_name == "gptq" ? GptqZeros::kV1 : GptqZeros::kV2;
    PTQ_CHECK(ck->bits_ == 2 || ck->bits_ == 3 || ck->bits_ == 4 || ck->bits_ == 8,
              "{}: GPTQ bits must be 2, 3, 4 or 8, got {}", where, ck->bits_);
    PTQ_CHECK(g > 0 || g == -1, "{}: GPTQ group_size must be positive or -1, got {}", where, g);
  } else {
    PTQ_FAIL("{}: quantization_config.quant_method '{}' is not supported (awq, gptq)", where, method);
  }
  ck->group_size_ = g > 0 ? g : 0;
  ck->set_ = open_safetensors_set(dir);

  std::set<std::string> expected;
  auto find = [&](const std::string& name) -> const SafetensorsEntry* {
    auto it = ck->set_.where.find(name);
    return it == ck->set_.where.end() ? nullptr : ck->set_.files[it->second].find(name);
  };
  for (const auto& name : hf_tensor_names(ck->config_)) {
    const auto want = hf_tensor_shape(ck->config_, name);
    const std::string module = name.ends_with(".weight") ? name.substr(0, name.size() - 7) : "";
    if (!module.empty() && find(module + ".qweight") != nullptr) {
      const int64_t N = want[0], K = want[1];
      ck->quantized_.push_back(module);
      ck->shapes_[module] = {N, K};
      for (const char* suffix : {".qweight", ".qzeros", ".scales"}) {
        PTQ_CHECK(find(module + suffix) != nullptr, "{}: tensor '{}{}' is missing (its qweight is there)", dir, module,
                  suffix);
        expected.insert(module + suffix);
      }
      if (find(module + ".g_idx") != nullptr) expected.insert(module + ".g_idx");
      continue;
    }
    const SafetensorsEntry* e = find(name);
    PTQ_CHECK(e != nullptr, "{}: tensor '{}' is missing (config.json implies it)", dir, name);
    PTQ_CHECK(e->shape == want, "{}: tensor '{}' has shape [{}], config.json implies [{}]", dir, name,
              fmt::join(e->shape, ", "), fmt::join(want, ", "));
    expected.insert(name);
  }
  PTQ_CHECK(!ck->quantized_.empty(), "{}: quantization_config is present but no tensor '*.qweight' is", dir);
  std::vector<std::string> extra;
  for (const auto& kv : ck->set_.where)
    if (expected.count(kv.first) == 0) extra.push_back(kv.first);
  if (!extra.empty())
    fmt::print(stderr, "ptq: warning: {}: ignoring {} tensor(s) the model does not use, e.g. '{}'\n", dir, extra.size(),
               extra.front());
  // Compute in the dtype the non-quantized tensors were stored in (see the header).
  ck->config_.dtype = find("model.embed_tokens.weight")->scalar_type;
  return ck;
}

std::vector<std::string> QuantizedCheckpoint::names() const { return hf_tensor_names(config_); }

bool QuantizedCheckpoint::has(const std::string& name) const {
  const auto all = names();
  return std::find(all.begin(), all.end(), name) != all.end();
}

bool QuantizedCheckpoint::is_quantized(const std::string& module) const { return shapes_.count(module) > 0; }

at::Tensor QuantizedCheckpoint::raw(const std::string& name) const {
  auto it = set_.where.find(name);
  PTQ_CHECK(it != set_.where.end(), "{}: no tensor named '{}'", dir_, name);
  return set_.files[it->second].load(name);
}

int64_t QuantizedCheckpoint::group_size_for(int64_t in_features) const {
  return group_size_ > 0 ? group_size_ : in_features;
}

std::map<std::string, at::Tensor> QuantizedCheckpoint::packed(const std::string& module) const {
  PTQ_CHECK(is_quantized(module), "{}: '{}' is not a quantized linear", dir_, module);
  std::map<std::string, at::Tensor> out;
  for (const char* s : {"qweight", "qzeros", "scales", "g_idx"})
    if (set_.where.count(module + "." + s) > 0) out[s] = raw(module + "." + s);
  return out;
}

IntegerLinear QuantizedCheckpoint::unpack(const std::string& module) const {
  return with_context(fmt::format("{}: {} ({})", dir_, module, target_.name()), [&] {
    const auto [N, K] = shapes_.at(module);
    const auto p = packed(module);
    const int64_t G = group_size_for(K);
    IntegerLinear q;
    if (target_.is_awq()) {
      q = target_.format == ExportFormat::kAwqGemm
              ? awq_gemm_unpack(p.at("qweight"), p.at("qzeros"), p.at("scales"), G)
              : awq_gemv_unpack(p.at("qweight"), p.at("qzeros"), p.at("scales"), G);
    } else {
      const at::Tensor g_idx = p.count("g_idx") ? p.at("g_idx") : consecutive_g_idx(K, G);
      q = gptq_unpack(p.at("qweight"), p.at("qzeros"), p.at("scales"), g_idx, bits_, target_.gptq_zeros);
      PTQ_CHECK(q.group_size == G, "{} groups of {} inputs, but group_size is {}", q.groups(), q.group_size, G);
    }
    PTQ_CHECK(q.out_features() == N && q.in_features() == K, "unpacks to [{}, {}], config.json implies [{}, {}]",
              q.out_features(), q.in_features(), N, K);
    return q;
  });
}

at::Tensor QuantizedCheckpoint::load(const std::string& name) const {
  if (name.ends_with(".weight")) {
    const std::string module = name.substr(0, name.size() - 7);
    if (is_quantized(module)) return dequantize_integer_linear(unpack(module));
  }
  return raw(name);
}

std::unique_ptr<Tokenizer> QuantizedCheckpoint::tokenizer() const {
  const fs::path d(dir_);
  if (fs::exists(d / "tokenizer.json") || fs::exists(d / "tokenizer.model")) return load_tokenizer(dir_);
  return nullptr;
}

void register_quantized_checkpoint_reader() {
  register_directory_reader({"real-quant export", &QuantizedCheckpoint::is_quantized_dir,
                             [](const std::string& dir) -> std::unique_ptr<Checkpoint> {
                               return QuantizedCheckpoint::open(dir);
                             }});
}

}  // namespace ptq
