// The unsigned integer form of one quantized Linear that every real-quant export is written from and every reader
// unpacks to (one form feeds both: AutoAWQ's own GEMM-to-GPTQ conversion matches AutoGPTQ's packing of the same
// integers bit for bit; the writers differ only in the packed dimension, the nibble order and the zero encoding).
// Dequantization is w = (q - z) * s in every format (docs/formats.md, "Conventions"), with codes and zero points
// unsigned on [0, 2^b - 1]:
//   ptq asymmetric (LLMC grid [0, 2^b-1], fake_quant.h): codes and zeros as recorded;
//   ptq symmetric  (LLMC grid [-2^(b-1), 2^(b-1)-1], zero 0): codes + 2^(b-1) with every zero 2^(b-1), the encoding
//                  every AutoAWQ loader decodes (qzeros 0x88888888) and GPTQ's own sym grid uses (z = 8).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

#include "methods/method.h"

namespace ptq {

struct IntegerLinear {
  int bits = 4;
  int64_t group_size = 0;  // G, input channels per group; every group is whole (K % G == 0)
  at::Tensor codes;        // uint8 [N, K] (HF orientation: row = output channel), values 0..2^b-1
  at::Tensor zeros;        // uint8 [N, K/G], values 0..2^b-1
  at::Tensor scales;       // float32 [N, K/G]
  at::Tensor g_idx;        // int32 [K]: group of every input channel; k / G unless GPTQ act-order formed the groups

  int64_t out_features() const { return codes.size(0); }
  int64_t in_features() const { return codes.size(1); }
  int64_t groups() const { return scales.size(1); }
};

// ptq's recorded form (QuantizedLinear; codes int8/uint8 [N, K], scales/zeros float32 [N, ranges]) as unsigned
// integers in groups of `group_size` input channels. per_group specs must have spec.group_size == group_size;
// per_channel and per_tensor ranges are repeated over K / group_size groups (exact: every group gets the row's or the
// tensor's scale and zero). Throws a user error when K % group_size != 0 (a partial last group cannot be stored: every
// format derives the group count as K / G) or when a zero is not an integer on the grid.
IntegerLinear to_integer_linear(const QuantizedLinear& q, int64_t group_size);

// float32 [N, K]: (codes - zeros[:, g_idx]) * scales[:, g_idx], computed exactly (|q - z| < 2^8 and a float32 scale
// multiply without rounding when the scale has at most 16 significant bits, as fp16 scales have).
at::Tensor dequantize_integer_linear(const IntegerLinear& q);

// True when g_idx[k] == k / G for every k (groups are consecutive input channels; no act-order reordering).
bool has_consecutive_groups(const IntegerLinear& q);

// int32 [K] with k / G.
at::Tensor consecutive_g_idx(int64_t in_features, int64_t group_size);

}  // namespace ptq
