// Writes a real-quant checkpoint directory that AutoAWQ / vLLM (AutoAWQ GEMM, GEMV) or GPTQ loaders (AutoGPTQ,
// GPTQModel, vLLM, transformers) load: the HF layout of hf_checkpoint.h with every quantized block Linear's `weight`
// replaced by its packed tensors (awq_pack.h, gptq_pack.h), config.json with `quantization_config` (docs/formats.md),
// quantize_config.json for GPTQ, and the tokenizer files copied.
//
// Decisions:
//   * config.json torch_dtype: "float16" for AutoAWQ (vLLM's plain awq kernel runs fp16 activations only); for
//     GPTQ "bfloat16" when the model is bf16 (gptq_marlin accepts it), else "float16".
//   * Non-quantized tensors (embeddings, norms, lm_head, biases, block linears without recorded codes) are stored in
//     that dtype, as loaders expect; a value beyond its range is an error naming the tensor. The verifier
//     (verify_export.h) compares them, and the perplexity, with the quantized model's tensors rounded the same way.
//   * Block linears without codes are stored unquantized and listed: AutoAWQ `modules_to_not_convert` (substring
//     match on the full module name), GPTQ `dynamic` with one negative "-:^name$" rule each (GPTQModel, vLLM).
//   * Symmetric weights: codes + 2^(b-1) with every zero 2^(b-1) (integer_linear.h); AutoAWQ `zero_point: true`,
//     GPTQ `sym: true`.
//   * GPTQ desc_act is true when some layer's groups are not consecutive (act-order without static groups); g_idx is
//     written for every layer either way.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/quant_spec.h"
#include "export/export_target.h"
#include "methods/method.h"

namespace ptq {

class CausalLMImpl;

struct ExportRequest {
  ExportTarget target;
  std::string dir;                                          // created; must not exist yet
  std::string method;                                       // ptq method id, recorded in the config
  nlohmann::json method_params = nlohmann::json::object();  // GPTQ: static_groups, true_sequential, percdamp
  std::string model_path;      // the source model: its tokenizer goes with the export (copy_tokenizer_files)
  std::string tokenizer_path;  // model.tokenizer of the config, "" for none
};

struct ExportResult {
  std::string dir;
  std::vector<std::string> files;  // everything written, relative to dir
  uint64_t bytes = 0;              // total size of those files
  int64_t quantized_layers = 0;
  int64_t group_size = 0;                  // stored group size (0: one group per row, GPTQ -1)
  std::vector<std::string> not_converted;  // block linears stored unquantized
  nlohmann::json quantization_config;      // as written into config.json
};

// model: the fake-quantized model (its non-quantized tensors are written as they are); codes: the recorded integer
// form of its block linears by HF module name, scales already fp16 values (fp16_scales.h). Checks every layer
// (export_target.h and the codes: consecutive groups for AutoAWQ, no v1 zero of 0 for GPTQ v1) before writing
// anything; errors name the layer.
ExportResult write_quantized_checkpoint(const CausalLMImpl& model, const std::map<std::string, QuantizedLinear>& codes,
                                        const QuantScheme& scheme, const ExportRequest& req);

}  // namespace ptq
