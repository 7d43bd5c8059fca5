#include "model/block_layout.h"

#include <ATen/ATen.h>

#include <fmt/format.h>

#include "core/error.h"

namespace ptq {

namespace {

// Llama: x + attn(input_layernorm(x)), h + mlp(post_attention_layernorm(h)). The four subsets are LLMC's for
// LlamaForCausalLM (llmc/models/llama.py get_subsets_in_block), in the same order.
const BlockLayout& llama_layout() {
  static const BlockLayout l{
      {{"qkv", "input_layernorm", true, {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"}, "self_attn"},
       {"o", "self_attn.v_proj", false, {"self_attn.o_proj"}, "self_attn.o_proj"},
       {"gate_up", "post_attention_layernorm", true, {"mlp.gate_proj", "mlp.up_proj"}, "mlp"},
       {"down", "mlp.up_proj", false, {"mlp.down_proj"}, "mlp.down_proj"}},
      {"self_attn.q_proj", "self_attn.k_proj"}};
  return l;
}

// x: [R, B, T, in], w: [R, out, in], bias [out] or undefined -> [R, B, T, out].
at::Tensor batched_linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& bias) {
  const int64_t R = x.size(0), B = x.size(1), T = x.size(2);
  at::Tensor y = at::bmm(x.reshape({R, B * T, x.size(3)}), w.transpose(1, 2)).view({R, B, T, w.size(1)});
  return bias.defined() ? y + bias : y;
}

RMSNorm& norm(DecoderLayer& block, const std::string& name) {
  if (name == "input_layernorm") return block->input_layernorm;
  PTQ_ASSERT(name == "post_attention_layernorm", "decoder block has no norm '{}'", name);
  return block->post_attention_layernorm;
}

}  // namespace

const BlockSubset& BlockLayout::subset_of(const std::string& linear) const {
  for (const auto& s : subsets)
    for (const auto& l : s.linears)
      if (l == linear) return s;
  PTQ_ASSERT(false, "no block subset holds linear '{}'", linear);
  return subsets.front();
}

const BlockLayout& block_layout(const DecoderLayer& block) {
  switch (block->arch) {
    case Arch::kLlama:
    case Arch::kQwen2:
    case Arch::kMistral:
      return llama_layout();
  }
  PTQ_ASSERT(false, "no block layout for architecture {}", arch_name(block->arch));
  return llama_layout();
}

bool can_fold(const DecoderLayer& block, const BlockSubset& subset, std::string* why) {
  if (subset.prev_is_norm) return true;
  const int64_t rows = block->linear(subset.prev)->weight.size(0);
  const int64_t in = block->linear(subset.input_of())->weight.size(1);
  if (rows == in) return true;
  if (why)
    *why = fmt::format("skipped: {} has {} rows, {} {} columns (grouped-query attention)", subset.prev, rows,
                       subset.input_of(), in);
  return false;
}

at::Tensor& prev_weight(DecoderLayer& block, const BlockSubset& subset) {
  return subset.prev_is_norm ? norm(block, subset.prev)->weight : block->linear(subset.prev)->weight;
}

void fold_scale(DecoderLayer& block, const BlockSubset& subset, const at::Tensor& s) {
  PTQ_ASSERT(can_fold(block, subset), "subset '{}': scale cannot be folded into {}", subset.name, subset.prev);
  if (subset.prev_is_norm) {
    at::Tensor& w = norm(block, subset.prev)->weight;
    w.div_(s.to(w.scalar_type()));
  } else {
    Linear prev = block->linear(subset.prev);
    prev->weight.div_(s.to(prev->weight.scalar_type()).unsqueeze(1));
    if (prev->bias.defined()) prev->bias.div_(s.to(prev->bias.scalar_type()));
  }
  for (const auto& name : subset.linears) {
    Linear l = block->linear(name);
    l->weight.mul_(s.to(l->weight.scalar_type()));
  }
}

at::Tensor inspected_forward(DecoderLayer& block, const BlockSubset& subset, const at::Tensor& x,
                             const RopeTables& rope) {
  if (subset.inspect == "self_attn") return block->self_attn->forward(x, rope);
  if (subset.inspect == "mlp") return block->mlp->forward(x);
  return block->linear(subset.inspect)->forward(x);
}

at::Tensor inspected_forward_with(DecoderLayer& block, const BlockSubset& subset, const at::Tensor& x,
                                  const std::vector<at::Tensor>& w, const RopeTables& rope) {
  PTQ_ASSERT(w.size() == subset.linears.size(), "subset '{}': {} weights for {} linears", subset.name, w.size(),
             subset.linears.size());
  auto proj = [&](size_t i) { return batched_linear(x, w[i], block->linear(subset.linears[i])->bias); };
  if (subset.inspect == "self_attn") {  // q, k, v replaced; RoPE, attention and o_proj as the block has them
    auto& attn = block->self_attn;
    const int64_t R = x.size(0), B = x.size(1), T = x.size(2);
    auto flat = [&](const at::Tensor& y) { return y.reshape({R * B, T, y.size(3)}); };
    at::Tensor out = attn->attend(flat(proj(0)), flat(proj(1)), flat(proj(2)), rope);
    return out.view({R, B, T, out.size(2)});
  }
  if (subset.inspect == "mlp")  // gate, up replaced; down_proj as the block has it
    return block->mlp->down_proj(at::silu(proj(0)) * proj(1));
  PTQ_ASSERT(subset.linears.size() == 1 && subset.inspect == subset.linears.front(),
             "subset '{}': inspected module '{}' is not its single linear", subset.name, subset.inspect);
  return proj(0);
}

}  // namespace ptq
