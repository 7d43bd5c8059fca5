// The structure of a decoder block that quantization methods work on, declared once per architecture (the role of
// LLMC's get_subsets_in_block): a block is a sequence of subsets, each a group of linears reading one input. A subset
// names the op that produces its input (a norm, or a linear whose output rows are the input's channels), the linears
// it feeds, and the module whose output a search loss compares. Methods iterate these subsets and never name a
// projection themselves, so a new architecture is one more declaration here.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "model/layers.h"

namespace ptq {

struct BlockSubset {
  std::string name;                  // stable id: "qkv", "o", "gate_up", "down" (run notes, search-cache entries)
  std::string prev;                  // block-relative name of the op producing the subset's input
  bool prev_is_norm = false;         // prev is an RMSNorm (weight [in]); otherwise a Linear (rows [in])
  std::vector<std::string> linears;  // block-relative names, in forward order; all read the same input
  std::string inspect;               // module whose output a search loss compares ("self_attn", "mlp", or a linear)
  // The linear whose input is the subset's input (every linear of the subset sees the same tensor).
  const std::string& input_of() const { return linears.front(); }
};

struct BlockLayout {
  std::vector<BlockSubset> subsets;         // in forward order (GPTQ's true-sequential order)
  std::vector<std::string> score_linears;   // the two linears whose outputs form the attention scores (q, k)
  // The subset that holds `linear` (an internal error when none does).
  const BlockSubset& subset_of(const std::string& linear) const;
};

// The layout of `block`'s architecture (Llama, Qwen2 and Mistral share the Llama declaration: same modules, Qwen2's
// q/k/v biases fold like any other bias).
const BlockLayout& block_layout(const DecoderLayer& block);

// Whether a scale s over the subset's input channels can be folded into `prev`: always for a norm; for a linear only
// when its output rows are exactly the subset's input channels (grouped-query attention gives v_proj fewer rows than
// o_proj has columns, and both AWQ references skip that pair). `why` (when not null) says why not.
bool can_fold(const DecoderLayer& block, const BlockSubset& subset, std::string* why = nullptr);

// prev ÷ s (a norm's weight, or a linear's rows and bias) and every subset linear's columns × s, so the block
// computes the same function with the subset's input divided by s. s: [in] float32 on the block's device.
void fold_scale(DecoderLayer& block, const BlockSubset& subset, const at::Tensor& s);

// The inspected module's output on x: x [B, T, in] -> [B, T, out] in the block's dtype.
at::Tensor inspected_forward(DecoderLayer& block, const BlockSubset& subset, const at::Tensor& x,
                             const RopeTables& rope);

// The inspected module evaluated for R candidate weight sets at once, with the subset's linears replaced:
// x [R, B, T, in], w one [R, out, in] per subset linear (in subset order) -> [R, B, T, out]. Everything else in the
// module (attention, the MLP's down_proj) uses the block's own weights.
at::Tensor inspected_forward_with(DecoderLayer& block, const BlockSubset& subset, const at::Tensor& x,
                                  const std::vector<at::Tensor>& w, const RopeTables& rope);

// The parameter a subset's prev names: a norm's weight [in] or a linear's weight [out, in] (block-relative name).
at::Tensor& prev_weight(DecoderLayer& block, const BlockSubset& subset);

}  // namespace ptq
