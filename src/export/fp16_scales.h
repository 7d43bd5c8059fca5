// Making the fake-quant model exactly the model a real-quant export holds. Every export format stores scales as fp16
// (awq_pack.h, gptq_pack.h) while ptq's quantizer computes them in float32 (fake_quant.h), so an export would
// dequantize to (q - z) * fp16(s), not to the evaluated (q - z) * s: a relative weight change of up to 2^-11 per group
// (more for scales below fp16's normal minimum 6.1e-5) that no bit-for-bit verification could pass, and perplexity
// differences beyond 1e-6 (3.7e-6 measured for GPTQ w4g128 on a random hidden-256 Llama). When a run exports, ptq
// therefore rounds the recorded scales to fp16 once, after quantization, and rewrites the fake-quantized weights with
// them before the fake_quant evaluation; the recorded codes are kept (re-quantizing against the rounded scales would
// give the same codes while |q - z| * 2^-11 < 1/2). The evaluated, saved (save_fake), exported and verified models
// are then one and the same.
#pragma once

#include <map>
#include <string>

#include "methods/method.h"

namespace ptq {

class CausalLMImpl;

// codes: every recorded linear by HF module name (PipelineResult::codes); their scales are replaced by the fp16
// values (kept as float32) and each linear's weight in `model` by (codes - zeros) * scales, cast to the model dtype.
// Throws a user error naming the layer when a scale is not finite or not positive in fp16 (beyond fp16's range).
// Returns the largest relative change of any scale.
double round_scales_to_fp16(CausalLMImpl& model, std::map<std::string, QuantizedLinear>& codes);

// The fake-quantized weight of a recorded linear: float32 [out, in] = (codes - zeros) * scales with every column's
// range (g_idx when recorded, else consecutive groups of the spec, the last one partial when in % G != 0).
at::Tensor dequantize_recorded(const QuantizedLinear& q);

}  // namespace ptq
