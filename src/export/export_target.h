// Real-quant export targets and the shape constraints each one's packer and kernels impose (docs/formats.md), checked
// before anything is written (and, from the model's config alone, before calibration starts), with errors that name
// the layer and the constraint.
//
//   AutoAWQ GEMM  4-bit weight-only; K % G == 0 (no partial last group); N % 32 (AutoAWQ packer), N % 64, G % 32 and
//                 N % G (AWQ CUDA GEMM, vLLM awq_gemm); consecutive groups (no g_idx in the format)
//   AutoAWQ GEMV  4-bit weight-only; K % G == 0; K % 8 and N % 8 (packer); G in {32, 64} or G >= 128 (zeros width)
//   GPTQ          2/3/4/8-bit weight-only; K % G == 0; K % 32 and N % 32 (AutoGPTQ / GPTQModel packers)
//
// Group sizes: per_group schemes store their G. Per-channel and per-tensor ranges are stored exactly as groups with
// repeated scales: GPTQ as one group per row (config group_size -1, G = K per layer); AutoAWQ, whose loaders need one
// explicit positive G for every layer (vLLM's awq divides by it), with the largest of 128, 64, 32 that meets every
// layer's constraints.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/quant_spec.h"
#include "export/gptq_pack.h"
#include "model/model_config.h"

namespace ptq {

enum class ExportFormat { kAwqGemm, kAwqGemv, kGptq };

struct ExportTarget {
  ExportFormat format = ExportFormat::kAwqGemm;
  GptqZeros gptq_zeros = GptqZeros::kV1;  // GPTQ only

  bool is_awq() const { return format != ExportFormat::kGptq; }
  // "autoawq-gemm", "autoawq-gemv", "gptq-v1", "gptq-v2".
  std::string name() const;
  // Folder under save.save_path (LLMC's name for AutoAWQ): "autoawq_quant_model", "gptq_quant_model".
  std::string folder() const;
};

// One block Linear as the export sees it: HF module name and weight shape [N, K].
struct LinearShape {
  std::string module;  // "model.layers.0.self_attn.q_proj"
  int64_t out_features = 0, in_features = 0;
};
std::vector<LinearShape> block_linear_shapes(const ModelConfig& c);

// The group size every layer is stored with (see above); 0 for GPTQ per-channel/per-tensor (G = K per layer, -1 in
// the config). Throws a user error when an AutoAWQ target finds no group size that fits every layer.
int64_t export_group_size(const ModelConfig& c, const QuantSpec& weight, const ExportTarget& t);

// Throws a user error naming the scheme (bits, activation quantization) or the first layer and constraint that the
// target cannot store.
void check_export_shapes(const ModelConfig& c, const QuantScheme& scheme, const ExportTarget& t);

// One layer's constraints (the loop body of check_export_shapes): G is the stored group size (K when 0 is given).
void check_layer_shape(const LinearShape& l, int bits, int64_t group_size, const ExportTarget& t);

}  // namespace ptq
