#include "export/export_checkpoint.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include "core/atomic_file.h"
#include "core/build_info.h"
#include "core/error.h"
#include "export/awq_pack.h"
#include "export/gptq_pack.h"
#include "export/integer_linear.h"
#include "model/causal_lm.h"
#include "model/checkpoint.h"
#include "model/hf_checkpoint.h"
#include "model/hf_side_files.h"

namespace ptq {

namespace fs = std::filesystem;

namespace {

// Temporary, fsync, rename (core/atomic_file.h): a killed export never leaves a half-written JSON file.
void write_json_file(const fs::path& p, const nlohmann::json& j) { write_file_atomically(p.string(), j.dump(2) + "\n"); }

// AutoAWQ >= 0.2.0 keys (not w_bit / q_group_size); an explicit positive group size, vLLM's awq divides by it.
nlohmann::json awq_config(const ExportTarget& t, int64_t group_size, const std::vector<std::string>& not_converted) {
  return {{"quant_method", "awq"},
          {"zero_point", true},  // symmetric weights are stored with zeros 2^(b-1) (integer_linear.h)
          {"group_size", group_size},
          {"bits", 4},
          {"version", t.format == ExportFormat::kAwqGemm ? "gemm" : "gemv"},
          {"modules_to_not_convert", not_converted.empty() ? nlohmann::json(nullptr) : nlohmann::json(not_converted)}};
}

// The same dict goes into quantize_config.json and config.json's quantization_config (loaders read either).
nlohmann::json gptq_config(const ExportTarget& t, const QuantSpec& w, int64_t group_size, bool desc_act,
                           const ExportRequest& req, const std::vector<std::string>& not_converted) {
  nlohmann::json j = {{"bits", w.bits},
                      {"group_size", group_size > 0 ? group_size : -1},
                      {"desc_act", desc_act},
                      {"sym", w.symmetric},
                      {"lm_head", false},
                      {"quant_method", "gptq"},
                      {"checkpoint_format", t.gptq_zeros == GptqZeros::kV1 ? "gptq" : "gptq_v2"},
                      {"pack_dtype", "int32"},
                      {"meta",
                       {{"quantizer", nlohmann::json::array({fmt::format("ptq:{}", build_info().git_commit)})},
                        {"ptq_method", req.method}}}};
  // Solver settings mean something only for GPTQ runs; other methods leave the readers' defaults.
  if (req.method == "gptq") {
    const auto& p = req.method_params;
    j["static_groups"] = p.value("static_groups", false);
    j["true_sequential"] = p.value("true_sequential", true);
    if (p.contains("percdamp") && p["percdamp"].get<double>() > 0) j["damp_percent"] = p["percdamp"];
  } else {
    j["static_groups"] = false;
  }
  if (!not_converted.empty()) {
    nlohmann::json dyn = nlohmann::json::object();
    for (const auto& m : not_converted) {
      std::string escaped;
      for (char ch : m) escaped += ch == '.' ? std::string("\\.") : std::string(1, ch);
      dyn["-:^" + escaped + "$"] = nlohmann::json::object();
    }
    j["dynamic"] = dyn;
  }
  return j;
}

// An unquantized tensor in the export's declared dtype. A value the cast turns infinite (beyond float16's 65504) is
// refused: a loader would compute with inf.
at::Tensor stored_as(const at::Tensor& p, at::ScalarType dtype, const std::string& name) {
  at::Tensor t = p.detach().cpu();
  if (!at::isFloatingType(t.scalar_type()) || t.scalar_type() == dtype) return t;
  at::Tensor cast = t.to(dtype);
  const int64_t overflow = (at::isinf(cast) & at::isfinite(t)).sum().item<int64_t>();
  PTQ_CHECK(overflow == 0,
            "{}: {} value(s) beyond the range of {}, the dtype the export's config.json declares (largest |value| "
            "{:.6g})",
            name, overflow, c10::toString(dtype), t.abs().max().item<double>());
  return cast;
}

}  // namespace

ExportResult write_quantized_checkpoint(const CausalLMImpl& model, const std::map<std::string, QuantizedLinear>& codes,
                                        const QuantScheme& scheme, const ExportRequest& req) {
  const ModelConfig& c = model.config();
  const ExportTarget& t = req.target;
  check_export_shapes(c, scheme, t);
  const int64_t G = export_group_size(c, scheme.weight, t);
  PTQ_CHECK(!fs::exists(req.dir), "{}: already exists (ptq never overwrites an export)", req.dir);

  std::set<std::string> block_linears;
  for (const auto& l : block_linear_shapes(c)) block_linears.insert(l.module);
  const auto params = model.named_parameters();

  // Everything is packed and checked before the first byte is written.
  ExportResult res;
  res.dir = req.dir;
  res.group_size = G;
  // What config.json declares, and so the dtype of every stored unquantized tensor (header).
  ModelConfig stored = c;
  stored.dtype = !t.is_awq() && c.dtype == at::kBFloat16 ? at::kBFloat16 : at::kHalf;
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  bool desc_act = false;
  for (const auto& name : hf_tensor_names(c)) {
    const at::Tensor* p = params.find(name);
    PTQ_ASSERT(p != nullptr, "the model has no parameter '{}'", name);
    const std::string module = name.size() > 7 ? name.substr(0, name.size() - 7) : "";
    const bool linear_weight = name.ends_with(".weight") && block_linears.count(module) > 0;
    auto it = linear_weight ? codes.find(module) : codes.end();
    if (it == codes.end()) {
      if (linear_weight) res.not_converted.push_back(module);
      tensors.emplace_back(name, stored_as(*p, stored.dtype, name));
      continue;
    }
    with_context(fmt::format("{} ({} export)", module, t.name()), [&] {
      const QuantizedLinear& q = it->second;
      PTQ_ASSERT(q.spec == scheme.weight, "recorded spec {} differs from the scheme's {}", q.spec.describe(),
                 scheme.weight.describe());
      PTQ_ASSERT(q.codes.sizes() == p->sizes(), "codes and weight shapes differ");
      const IntegerLinear il = to_integer_linear(q, G > 0 ? G : q.codes.size(1));
      const bool consecutive = has_consecutive_groups(il);
      if (t.is_awq()) {
        PTQ_CHECK(consecutive,
                  "its groups were formed out of input order (GPTQ actorder without static_groups) and "
                  "AutoAWQ stores no g_idx; export GPTQ (save.save_gptq) or quantize with static_groups");
        const AwqTensors a = t.format == ExportFormat::kAwqGemm ? awq_gemm_pack(il) : awq_gemv_pack(il);
        tensors.emplace_back(module + ".qweight", a.qweight);
        tensors.emplace_back(module + ".qzeros", a.qzeros);
        tensors.emplace_back(module + ".scales", a.scales);
      } else {
        desc_act = desc_act || !consecutive;
        const GptqTensors g = gptq_pack(il, t.gptq_zeros);
        tensors.emplace_back(module + ".qweight", g.qweight);
        tensors.emplace_back(module + ".qzeros", g.qzeros);
        tensors.emplace_back(module + ".scales", g.scales);
        tensors.emplace_back(module + ".g_idx", g.g_idx);
      }
    });
    ++res.quantized_layers;
  }
  PTQ_CHECK(res.quantized_layers > 0,
            "{} export: no block linear has integer codes (the method did not quantize "
            "weights), nothing to export",
            t.name());

  res.quantization_config = t.is_awq() ? awq_config(t, G, res.not_converted)
                                       : gptq_config(t, scheme.weight, G, desc_act, req, res.not_converted);
  const std::map<std::string, std::string> meta = {
      {"ptq_method", req.method}, {"ptq_scheme", scheme.name()}, {"ptq_export", t.name()}};
  write_hf_checkpoint(req.dir, stored, tensors, 5'000'000'000ULL, meta,
                      {{"quantization_config", res.quantization_config}});
  const fs::path d(req.dir);
  if (!t.is_awq()) write_json_file(d / "quantize_config.json", res.quantization_config);
  copy_tokenizer_files(req.model_path, req.tokenizer_path, stored, d);
  for (const auto& e : fs::directory_iterator(d)) {
    if (!e.is_regular_file()) continue;
    res.files.push_back(e.path().filename().string());
    res.bytes += e.file_size();
  }
  std::sort(res.files.begin(), res.files.end());
  return res;
}

}  // namespace ptq
