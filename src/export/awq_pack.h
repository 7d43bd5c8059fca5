// AutoAWQ's packed tensors of one 4-bit Linear, both layouts (docs/formats.md), and their inverses. Pure tensor
// functions on CPU tensors; shape constraints of the packers and kernels are checked by export_constraints.h, these
// functions only assert what their own arithmetic needs.
//
// GEMM (`version: "gemm"`, loaded by vLLM, SGLang, transformers, AutoAWQ):
//   qweight I32 [K, N/8]  row k = input channel k; word c holds outputs 8c..8c+7, nibble i = output 8c + ORDER[i],
//                         ORDER = [0, 2, 4, 6, 1, 3, 5, 7] (even outputs in the low 16 bits)
//   qzeros  I32 [K/G, N/8] zero points, same interleave, stored as they are (no minus one)
//   scales  F16 [K/G, N]
// GEMV (`version: "gemv"`, AutoAWQ only):
//   qweight I32 [N, K/8]  word [n][j] holds inputs 8j..8j+7 of output n, nibble i = input 8j + i (natural order)
//   qzeros  I32 [N, Wz]   zero of group 8c + i in nibble i of word [n][c]; unused nibbles 0
//   scales  F16 [N, 8 Wz] group g at column g; columns K/G .. 8 Wz - 1 are zero
//   Wz = roundup(ceil((K/G) / 8), m), m = 1 for G >= 128, 2 for G = 64, 4 for G = 32 (AutoAWQ's zeros width).
// Codes and zeros are masked to 4 bits before shifting (AutoAWQ's packer does not: a stray 16 or -1 would spill into
// the next nibble) and packed as uint32 bits stored in int32.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

#include "export/integer_linear.h"

namespace ptq {

struct AwqTensors {
  at::Tensor qweight;  // int32
  at::Tensor qzeros;   // int32
  at::Tensor scales;   // float16
};

// q: 4-bit, consecutive groups (g_idx = k / G), N % 8 == 0. Scales are converted to fp16 (round to nearest).
AwqTensors awq_gemm_pack(const IntegerLinear& q);
// Inverse of awq_gemm_pack: qweight int32 [K, N/8], qzeros int32 [K/G, N/8], scales float16 [K/G, N]; returns
// codes/zeros uint8 and scales float32 (the fp16 values, exactly).
IntegerLinear awq_gemm_unpack(const at::Tensor& qweight, const at::Tensor& qzeros, const at::Tensor& scales,
                              int64_t group_size);

// Words per row of GEMV qzeros for `groups` groups of `group_size` (Wz above). Throws a user error for group sizes
// AutoAWQ's GEMV does not implement (not 32, 64 or >= 128).
int64_t awq_gemv_zero_words(int64_t groups, int64_t group_size);
// q: 4-bit, consecutive groups, K % 8 == 0.
AwqTensors awq_gemv_pack(const IntegerLinear& q);
// Inverse of awq_gemv_pack: qweight int32 [N, K/8], qzeros int32 [N, Wz], scales float16 [N, 8 Wz]; also checks that
// the padding nibbles and scale columns are zero (a user error names the first non-zero one).
IntegerLinear awq_gemv_unpack(const at::Tensor& qweight, const at::Tensor& qzeros, const at::Tensor& scales,
                              int64_t group_size);

}  // namespace ptq
