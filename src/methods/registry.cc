// The one table of quantization methods. Adding a method: one file in src/methods defining its maker, one
// declaration and one row here, one line in the CMake source list; the registry-driven tests then cover it.
#include <fmt/format.h>

#include "core/did_you_mean.h"
#include "core/error.h"
#include "methods/method.h"

namespace ptq {

std::unique_ptr<Method> make_rtn(const nlohmann::json& params);
std::unique_ptr<Method> make_gptq(const nlohmann::json& params);
std::unique_ptr<Method> make_awq(const nlohmann::json& params);
std::unique_ptr<Method> make_smoothquant(const nlohmann::json& params);
std::unique_ptr<Method> make_omniquant(const nlohmann::json& params);

const std::vector<MethodInfo>& methods() {
  static const std::vector<MethodInfo> table = {
      {"rtn", "round-to-nearest: every block linear fake-quantized with the scheme's grid (data-free)", false, false,
       {}, make_rtn},
      {"gptq", "GPTQ: column-wise quantization with Hessian-based error compensation (Frantar et al. 2023)", true,
       false,
       {{"actorder", "false", "process columns in descending Hessian-diagonal order"},
        {"static_groups", "false", "per_group: group ranges from the original weight in original column order"},
        {"percdamp", "0.01", "damping, as a fraction of the mean Hessian diagonal"},
        {"blocksize", "128", "columns per lazy-update block"},
        {"true_sequential", "true", "quantize {q,k,v}, {o}, {gate,up}, {down} in turn, each on inputs of the "
                                    "already quantized earlier subsets"},
        {"exact_group_ranges", "false", "dynamic groups: ranges from fully updated columns (reference: block start)"}},
       make_gptq},
      {"awq", "AWQ: activation-aware per-channel scaling and weight clipping (Lin et al. 2024; LLMC variants)", true,
       false,
       {{"trans", "true", "search and fold the per-channel scales (false: clip only)"},
        {"trans_version", "\"v2\"", "v2: s = x_mean^r; v1: s = x_mean^r / w_mean^(1-r) (duo scaling)"},
        {"weight_clip", "false", "search per-(row, group) clipping ratios (every shipped config sets true)"},
        {"clip_version", "\"v1\"", "v1: clamp the weight; v2: keep it and quantize with clip factors"},
        {"clip_sym", "null", "symmetric clip [-r max|W|, r max|W|] (llm-awq); null: follow weight.symmetric (LLMC)"},
        {"do_gqa_trans", "false", "scale v->o under grouped-query attention (not supported)"},
        {"save_scale", "false", "write every searched scale to scale_path/scales.safetensors"},
        {"scale_path", "\"\"", "folder for scales.safetensors"},
        {"save_clip", "false", "write every clip factor to clip_path/clips.safetensors"},
        {"clip_path", "\"\"", "folder for clips.safetensors"},
        {"awq_bs", "null", "LLMC sub-batch size for the search (memory only; ptq uses the calibration batches)"},
        {"save_mem", "true", "LLMC memory option (no effect)"},
        {"quantize_weights", "true", "false: keep the transformed fp weights (evaluate the transform alone)"},
        {"batched_search", "true", "evaluate the 20 ratios in batched passes (false: one at a time)"}},
       make_awq},
      {"smoothquant", "SmoothQuant: migrate activation outliers into the weights, norm -> linear (Xiao et al. 2023)",
       true, false,
       {{"alpha", "0.5", "migration strength: s = max|X|^alpha / max|W|^(1-alpha)"},
        {"quantize_weights", "true", "false: keep the smoothed fp weights (evaluate the transform alone)"}},
       make_smoothquant},
      {"omniquant", "OmniQuant: learnable weight clipping (LWC) and equivalent transformation (LET), trained per block "
                    "(Shao et al. 2024)",
       true, true,
       {{"lwc", "true", "learnable weight clipping: one logit per quantization range and end"},
        {"let", "false", "learnable equivalent transformation (weight-activation schemes only)"},
        {"lwc_lr", "0.01", "AdamW learning rate of the LWC logits"},
        {"let_lr", "0.005", "AdamW learning rate of the LET scales"},
        {"wd", "0", "AdamW weight decay (both groups)"},
        {"alpha", "0.5", "LET init: s = max(act^alpha / w^(1-alpha), 1e-5)"},
        {"epochs", "20", "passes over the calibration batches per block (one step per batch)"},
        {"aug_loss", "false", "add mse(fp_block(x_q), out) to the loss (LLMC: true for 2 bit)"},
        {"deactive_amp", "true", "false: bf16 autocast for the training forward on CUDA (no effect on the CPU)"},
        {"use_shift", "false", "LET channel shift (not supported for Llama: RMSNorm has no bias)"},
        {"search_clip_init", "false", "initialise LWC with logit(r) of AWQ's clip ratios r; q/k get no LWC"},
        {"load_clip", "false", "with search_clip_init: read clip_path/clips.safetensors (AWQ save_clip)"},
        {"clip_path", "\"\"", "folder of clips.safetensors"},
        {"search_scale_init", "false", "initialise LET with AWQ's scales from scale_path/scales.safetensors"},
        {"scale_path", "\"\"", "folder of scales.safetensors (AWQ save_scale)"},
        {"smooth_up_down", "false", "also transform up_proj -> down_proj"},
        {"clip_sym", "null", "must equal weight.symmetric (LWC follows the quantizer)"},
        {"lwc_init", "4.0", "initial LWC logit without search_clip_init (sigmoid(4) = 0.982)"},
        {"let_weight_max", "\"abs\"", "LET init weight statistic: abs (original OmniQuant) or signed (LLMC)"},
        {"clip_init_eps", "0.0", "clamp initial AWQ ratios to 1 - eps (0: ratio 1 stays at logit +inf, unclipped)"}},
       make_omniquant},
  };
  return table;
}

const MethodInfo& find_method(std::string_view id) {
  std::string known;
  std::vector<std::string> ids;
  for (const auto& m : methods()) {
    if (m.id == id) return m;
    known += (known.empty() ? "" : ", ") + std::string(m.id);
    ids.emplace_back(m.id);
  }
  PTQ_FAIL("unknown method '{}' (known: {}){}", id, known, did_you_mean(id, ids));
}

void check_known_params(const MethodInfo& info, const nlohmann::json& params) {
  PTQ_CHECK(params.is_object() || params.is_null(), "method '{}': parameters must be a mapping", info.id);
  if (params.is_null()) return;
  for (auto it = params.begin(); it != params.end(); ++it) {
    bool ok = false;
    std::string known;
    std::vector<std::string> names;
    for (const auto& p : info.params) {
      ok = ok || p.name == it.key();
      known += (known.empty() ? "" : ", ") + std::string(p.name);
      names.emplace_back(p.name);
    }
    PTQ_CHECK(ok, "method '{}': unknown parameter '{}' (known: {}){}", info.id, it.key(),
              known.empty() ? "none" : known, did_you_mean(it.key(), names));
  }
}

template <class T>
T param_value(const MethodInfo& info, const nlohmann::json& params, std::string_view name) {
  const ParamInfo* decl = nullptr;
  for (const auto& p : info.params)
    if (p.name == name) decl = &p;
  PTQ_ASSERT(decl != nullptr, "method '{}' reads undeclared parameter '{}'", info.id, name);
  const std::string key(name);
  nlohmann::json v = params.is_object() && params.contains(key) ? params[key]
                                                                  : nlohmann::json::parse(decl->default_value);
  try {
    if constexpr (std::is_same_v<T, bool>) {
      PTQ_CHECK(v.is_boolean(), "expected true or false, got {}", v.dump());
    } else if constexpr (std::is_integral_v<T>) {
      PTQ_CHECK(v.is_number_integer(), "expected an integer, got {}", v.dump());
    } else if constexpr (std::is_floating_point_v<T>) {
      PTQ_CHECK(v.is_number(), "expected a number, got {}", v.dump());
    } else {
      PTQ_CHECK(v.is_string(), "expected a string, got {}", v.dump());
    }
    return v.get<T>();
  } catch (Error& e) {
    e.add_context(fmt::format("method '{}': parameter '{}'", info.id, name));
    throw;
  }
}

template bool param_value<bool>(const MethodInfo&, const nlohmann::json&, std::string_view);
template int64_t param_value<int64_t>(const MethodInfo&, const nlohmann::json&, std::string_view);
template double param_value<double>(const MethodInfo&, const nlohmann::json&, std::string_view);
template std::string param_value<std::string>(const MethodInfo&, const nlohmann::json&, std::string_view);

}  // namespace ptq
