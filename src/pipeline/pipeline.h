// The block-wise calibration pipeline every method runs through: embed the calibration sequences (block 0's inputs),
// then for each decoder block: let the method quantize or transform it, take its fp outputs (from the method's own
// capture forward on the untouched block when there was one, else one forward with the old parameters), rerun it
// quantized while measuring each Linear's relative output error, and hand the next block its inputs: the quantized
// outputs (quant_out true, as GPTQ and OmniQuant) or the fp ones (false, as AWQ).
// Only the current block's calibration activations are held (on the compute device), two copies at most. With
// PipelineOptions::device set to another device than the model's (offload: weights in host memory, pinned when the
// device is CUDA), each block is moved there for its turn and back, so the device holds one block at a time.
#pragma once

#include <ATen/core/Tensor.h>

#include <nlohmann/json.hpp>

#include <c10/core/Device.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/quant_spec.h"
#include "methods/method.h"

namespace ptq {

class CausalLMImpl;

struct PipelineOptions {
  bool quant_out = true;    // propagate quantized (true) or fp (false) block outputs to the next block
  bool keep_codes = false;  // keep every linear's integer codes (for export)
  bool keep_transformed = false;  // keep every linear's transformed fp weight (save.save_trans)
  // Per-linear and per-block errors (ptq.measure_errors). Off, a block costs the method and, with quant_out, one
  // forward; layer_errors and block_errors stay empty.
  bool measure_errors = true;
  // ptq.search_cache: the folder methods keep content-addressed search results in (BlockContext::search_cache).
  std::string search_cache;
  // Compute device when it differs from where the model's weights live (offload: ptq.offload, docs/config.md); nullopt:
  // compute where the model is.
  std::optional<at::Device> device;
};

struct LayerError {
  int64_t block = 0;
  std::string layer;        // HF module name, "model.layers.3.mlp.down_proj"
  double rel_output_error;  // ||x W^T - q(x) Q(W)^T|| / ||x W^T|| over the block's calibration inputs x
  double rel_weight_error;  // ||W - Q(W)|| / ||W||
};

struct PipelineResult {
  std::vector<LayerError> layer_errors;
  std::vector<double> block_errors;  // ||block_q(x) - block_fp(x)|| / ||block_fp(x)|| per block, same inputs x
  std::map<std::string, QuantizedLinear> codes;  // by HF module name, when keep_codes
  // By HF parameter name ("model.layers.0.mlp.up_proj.weight"), CPU, when keep_transformed: the fp weight each linear
  // holds after the method's equivalence transforms and before quantization (AWQ/SmoothQuant: scales folded; methods
  // without a transform: the original weight). Norm weights are transformed in place and not quantized.
  std::map<std::string, at::Tensor> transformed;
  nlohmann::json notes = nlohmann::json::object();  // per block, what methods reported
  // Numerical guards that fired (BlockContext::event), in block order: [{block, layer (HF module name, or
  // "model.layers.<b>" for the whole block), kind, fallback, detail}].
  nlohmann::json events = nlohmann::json::array();
  double seconds = 0;
};

// calib: token ids, each int64 [B, T] (any B; all batches the same T). Empty: data-free mode (each block is handed
// to the method without inputs; no errors are measured). The model is modified in place: its block
// linears hold fake-quantized (or transformed) weights afterwards and, when the scheme quantizes activations, apply
// dynamic activation fake quantization at their inputs (set_activation_quantization).
PipelineResult run_pipeline(CausalLMImpl& model, const std::vector<at::Tensor>& calib, Method& method,
                            const QuantScheme& scheme, const PipelineOptions& opt = {});

// Attaches (spec given) or removes (nullopt) activation fake quantization at the input of every Linear of a block.
void set_activation_quantization(DecoderLayerImpl& block, const std::optional<QuantSpec>& act);

}  // namespace ptq
