// The integer form of one quantized Linear: what a method leaves behind for export (AutoAWQ, GPTQ packing), for
// verification and for re-applying a quantization. Lives in core because methods produce it and export, pipeline and
// model-loading code above them consume it.
#pragma once

#include <ATen/core/Tensor.h>

#include "core/quant_spec.h"

namespace ptq {

// What a method leaves behind for one Linear so it can be exported or re-applied: integer codes on the grid and the
// parameters to dequantize them (all CPU tensors).
struct QuantizedLinear {
  at::Tensor codes;   // [out, in] int8 (symmetric) / uint8 (asymmetric)
  at::Tensor scales;  // float32 [out, n_groups]
  at::Tensor zeros;   // float32 [out, n_groups]
  at::Tensor g_idx;   // int32 [in] group of every input column, or undefined when groups are consecutive
  at::Tensor perm;    // int64 [in] column permutation (GPTQ act_order), or undefined
  QuantSpec spec;
};

}  // namespace ptq
