// GPTQ's packed tensors of one Linear (docs/formats.md) and their inverse, for 2, 3, 4 and 8 bits. Pure tensor
// functions on CPU tensors; shape constraints of packers and kernels are checked by export_constraints.h.
//
//   qweight I32 [K b/32, N]   packed along the input dim: column n is the bit stream of codes q[0..K-1][n], value k at
//                             bits [b k, b k + b - 1] of the stream, word r = stream bits [32 r, 32 r + 31] (natural
//                             order; at 3 bits values 10 and 21 of every 32 straddle word boundaries)
//   qzeros  I32 [K/G, N b/32] packed along the output dim, same bit stream over n; v1 stores z - 1, v2 stores z
//   scales  F16 [K/G, N]
//   g_idx   I32 [K]           group of every input channel (k / G without act-order)
// Values are masked to b bits before shifting (AutoGPTQ's writer does not: its v1 -1 corrupts whole words) and packed
// as uint32 bits stored in int32.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

#include "export/integer_linear.h"

namespace ptq {

// v1: checkpoint_format "gptq" (stored z - 1, readers add 1); v2: "gptq_v2" (stored z).
enum class GptqZeros { kV1, kV2 };

struct GptqTensors {
  at::Tensor qweight;  // int32
  at::Tensor qzeros;   // int32
  at::Tensor scales;   // float16
  at::Tensor g_idx;    // int32
};

// q: bits in {2, 3, 4, 8}, K b % 32 == 0 and N b % 32 == 0. With kV1 a zero point of 0 would be stored as -1, which
// readers decode differently (vLLM reads 16, GPTQModel carries into the next nibble); it is refused with a user
// error naming the output row and the group.
GptqTensors gptq_pack(const IntegerLinear& q, GptqZeros zeros);
// Inverse of gptq_pack: qweight int32 [K b/32, N], qzeros int32 [ng, N b/32], scales float16 [ng, N], g_idx int32
// [K]; K = 32 rows / b. Returns codes/zeros uint8 and scales float32 (the fp16 values, exactly). With kV1 a stored
// 2^b - 1 (a zero of 0 written as -1, ambiguous across readers) is a user error.
IntegerLinear gptq_unpack(const at::Tensor& qweight, const at::Tensor& qzeros, const at::Tensor& scales,
                          const at::Tensor& g_idx, int bits, GptqZeros zeros);

}  // namespace ptq
