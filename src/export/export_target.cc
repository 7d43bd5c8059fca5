#include "export/export_target.h"

#include <fmt/format.h>

#include "core/error.h"
#include "model/checkpoint.h"

namespace ptq {

std::string ExportTarget::name() const {
  switch (format) {
    case ExportFormat::kAwqGemm:
      return "autoawq-gemm";
    case ExportFormat::kAwqGemv:
      return "autoawq-gemv";
    case ExportFormat::kGptq:
      return gptq_zeros == GptqZeros::kV1 ? "gptq-v1" : "gptq-v2";
  }
  return "?";
}

std::string ExportTarget::folder() const { return is_awq() ? "autoawq_quant_model" : "gptq_quant_model"; }

std::vector<LinearShape> block_linear_shapes(const ModelConfig& c) {
  std::vector<LinearShape> out;
  for (int64_t i = 0; i < c.num_layers; ++i)
    for (const char* m : {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                          "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"}) {
      const std::string module = fmt::format("model.layers.{}.{}", i, m);
      const auto shape = hf_tensor_shape(c, module + ".weight");
      out.push_back({module, shape[0], shape[1]});
    }
  return out;
}

void check_layer_shape(const LinearShape& l, int bits, int64_t group_size, const ExportTarget& t) {
  const int64_t N = l.out_features, K = l.in_features, G = group_size > 0 ? group_size : K;
  const std::string where = fmt::format("{} ({} export, weight [{}, {}], group size {})", l.module, t.name(), N, K, G);
  PTQ_CHECK(K % G == 0,
            "{}: in_features {} is not a multiple of the group size {}: the last group would be partial, "
            "and every format derives the group count as in_features / group_size",
            where, K, G);
  switch (t.format) {
    case ExportFormat::kAwqGemm:
      PTQ_CHECK(N % 32 == 0, "{}: out_features {} must be a multiple of 32 (AutoAWQ GEMM packer)", where, N);
      PTQ_CHECK(N % 64 == 0, "{}: out_features {} must be a multiple of 64 (AWQ CUDA GEMM kernel)", where, N);
      PTQ_CHECK(G % 32 == 0, "{}: group size {} must be a multiple of 32 (AWQ CUDA GEMM kernel)", where, G);
      PTQ_CHECK(N % G == 0, "{}: out_features {} must be a multiple of the group size {} (AWQ CUDA GEMM kernel)", where,
                N, G);
      break;
    case ExportFormat::kAwqGemv:
      PTQ_CHECK(K % 8 == 0, "{}: in_features {} must be a multiple of 8 (AutoAWQ GEMV packs 8 inputs per word)", where,
                K);
      PTQ_CHECK(N % 8 == 0, "{}: out_features {} must be a multiple of 8 (AutoAWQ GEMV packer)", where, N);
      PTQ_CHECK(G == 32 || G == 64 || G >= 128, "{}: group size {} is not implemented by AutoAWQ GEMV (32, 64, >= 128)",
                where, G);
      break;
    case ExportFormat::kGptq:
      PTQ_CHECK(K * bits % 32 == 0 && K % 32 == 0,
                "{}: in_features {} must be a multiple of 32 (AutoGPTQ / GPTQModel packers)", where, K);
      PTQ_CHECK(N % 32 == 0, "{}: out_features {} must be a multiple of 32 (AutoGPTQ / GPTQModel packers)", where, N);
      break;
  }
}

int64_t export_group_size(const ModelConfig& c, const QuantSpec& weight, const ExportTarget& t) {
  if (weight.granularity == Granularity::kPerGroup) return weight.group_size;
  if (!t.is_awq()) return 0;
  // AutoAWQ: one explicit positive group size for every layer; repeated ranges make any divisor exact.
  const auto shapes = block_linear_shapes(c);
  for (const int64_t g : {128, 64, 32}) {
    bool fits = true;
    for (const auto& l : shapes) {
      try {
        check_layer_shape(l, weight.bits, g, t);
      } catch (const Error&) {
        fits = false;
        break;
      }
    }
    if (fits) return g;
  }
  // None fits: report the constraint the preferred size breaks.
  for (const auto& l : shapes) check_layer_shape(l, weight.bits, 128, t);
  PTQ_ASSERT(false, "no group size fits, but 128 passed every layer");
  return 0;
}

void check_export_shapes(const ModelConfig& c, const QuantScheme& scheme, const ExportTarget& t) {
  const QuantSpec& w = scheme.weight;
  PTQ_CHECK(!scheme.act.has_value(),
            "{} export stores weight-only models; scheme {} quantizes activations, which the exported kernels would "
            "not reproduce",
            t.name(), scheme.name());
  if (t.is_awq())
    PTQ_CHECK(w.bits == 4, "{} export stores 4-bit weights (AutoAWQ w_bit 4, vLLM awq), the scheme has {} bits",
              t.name(), w.bits);
  else
    PTQ_CHECK(w.bits == 2 || w.bits == 3 || w.bits == 4 || w.bits == 8,
              "{} export stores 2, 3, 4 or 8-bit weights, the scheme has {} bits", t.name(), w.bits);
  const int64_t g = export_group_size(c, w, t);
  for (const auto& l : block_linear_shapes(c)) check_layer_shape(l, w.bits, g, t);
}

}  // namespace ptq
