// The block structure methods iterate (model/block_layout.h) and BlockContext's one quantize step, on real
// stories260K blocks (grouped-query attention: 8 query heads over 4 key/value heads) and on a Qwen2-shaped block
// with biases and one key/value head per query head, so both kinds of prev op fold.
#include <gtest/gtest.h>
#include <ATen/ATen.h>

#include "core/fake_quant.h"
#include "methods/method.h"
#include "model/block_layout.h"
#include "model/loaded_model.h"
#include "support/stories260k.h"
#include "support/test_data.h"

namespace ptq {
namespace {

LoadedModel stories() { return load_model(test::data_path("models/stories260K-hf")); }

// Block inputs for stories260K: hidden states after block 0 on two TinyStories windows, [1, 64, hidden] each.
std::vector<at::Tensor> block1_inputs(LoadedModel& m, const RopeTables& rope) {
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> xs;
  for (const auto& ids : test::tinystories_windows(*m.tokenizer, 2, 64, 500, 540))
    xs.push_back(m.model->layer(0)->forward(m.model->embed(ids), rope));
  return xs;
}

// stories260K's block 1 with its inputs on two TinyStories windows of 64 tokens.
class StoriesBlock1 : public ::testing::Test {
 protected:
  LoadedModel m = stories();
  RopeTables rope = m.model->rope(0, 64);
  std::vector<at::Tensor> xs = block1_inputs(m, rope);
  DecoderLayer block = m.model->layer(1);
};

// A Qwen2-shaped block (q/k/v biases, as many key/value heads as query heads) with seeded random weights.
ModelConfig qwen2_config() {
  ModelConfig c;
  c.arch = Arch::kQwen2;
  c.model_type = "qwen2";
  c.hidden_size = 64;
  c.intermediate_size = 96;
  c.num_layers = 1;
  c.num_heads = c.num_kv_heads = 4;
  c.head_dim = 16;
  c.vocab_size = 32;
  c.qkv_bias = true;
  return c;
}

DecoderLayer qwen2_block() {
  DecoderLayer block(qwen2_config());
  at::manual_seed(7);
  at::NoGradGuard no_grad;
  for (at::Tensor* t : block->parameter_slots()) t->copy_(at::randn_like(*t) * 0.2 + (t->dim() == 1 ? 1.0 : 0.0));
  return block;
}

std::vector<std::string> names_in_order(const DecoderLayer& block) {
  std::vector<std::string> n;
  for (const auto& [name, l] : block->linears()) n.push_back(name);
  return n;
}

// Every linear belongs to exactly one subset, the subsets list them in forward order, and the attention-score pair
// sits in the first subset; Llama, Qwen2 and Mistral blocks get the same declaration.
TEST(BlockLayout, CoversEveryLinearOnceInForwardOrder) {
  LoadedModel m = stories();
  const DecoderLayer block = m.model->layer(0);
  const BlockLayout& layout = block_layout(block);
  std::vector<std::string> listed;
  for (const auto& s : layout.subsets) listed.insert(listed.end(), s.linears.begin(), s.linears.end());
  EXPECT_EQ(listed, names_in_order(block));
  ASSERT_EQ(layout.score_linears.size(), 2u);
  for (const auto& n : layout.score_linears) EXPECT_EQ(layout.subset_of(n).name, layout.subsets.front().name);
  EXPECT_EQ(&block_layout(qwen2_block()), &layout);
  ModelConfig c = m.checkpoint->config();
  c.arch = Arch::kMistral;
  EXPECT_EQ(&block_layout(DecoderLayer(c)), &layout);
}

// Folding any positive scale leaves the block's function unchanged (float32 rounding only) and changes the subset's
// weights; under grouped-query attention the v -> o pair cannot fold and says why.
TEST_F(StoriesBlock1, FoldScaleKeepsTheBlockFunction) {
  at::NoGradGuard no_grad;
  const at::Tensor before = block->forward(xs[0], rope);
  int folded = 0;
  for (const auto& sub : block_layout(block).subsets) {
    std::string why;
    if (!can_fold(block, sub, &why)) {
      EXPECT_EQ(sub.name, "o");
      EXPECT_NE(why.find("grouped-query attention"), std::string::npos) << why;
      continue;
    }
    const int64_t in = block->linear(sub.input_of())->weight.size(1);
    const at::Tensor w0 = block->linear(sub.input_of())->weight.clone();
    at::manual_seed(folded);
    fold_scale(block, sub, at::rand({in}) * 3.0 + 0.25);
    EXPECT_FALSE(at::equal(w0, block->linear(sub.input_of())->weight)) << sub.name;
    ++folded;
  }
  EXPECT_EQ(folded, 3);
  EXPECT_TRUE(at::allclose(block->forward(xs[0], rope), before, 1e-4, 1e-5));

  DecoderLayer q = qwen2_block();  // every pair folds, v_proj's bias included
  const at::Tensor x = at::randn({2, 8, 64});
  const ModelConfig qc = qwen2_config();
  const RopeTables rq = rope_tables(qc, rope_inv_freq(qc), 0, 8, at::kCPU);
  const at::Tensor ref = q->forward(x, rq);
  for (const auto& sub : block_layout(q).subsets) {
    ASSERT_TRUE(can_fold(q, sub)) << sub.name;
    fold_scale(q, sub, at::rand({q->linear(sub.input_of())->weight.size(1)}) + 0.5);
  }
  EXPECT_TRUE(at::allclose(q->forward(x, rq), ref, 1e-4, 1e-5));
}

// The batched form with the block's own weights (R = 2 copies) computes what the module computes.
TEST_F(StoriesBlock1, InspectedForwardWithOwnWeightsEqualsTheModule) {
  at::NoGradGuard no_grad;
  for (const auto& sub : block_layout(block).subsets) {
    // Each subset's own input: capture it with a hook on its first linear.
    at::Tensor x;
    Linear first = block->linear(sub.input_of());
    first->input_observer = [&x](const at::Tensor& in) { x = in.clone(); };
    block->forward(xs[0], rope);
    first->input_observer = nullptr;
    std::vector<at::Tensor> w;
    for (const auto& n : sub.linears) w.push_back(at::stack({block->linear(n)->weight, block->linear(n)->weight}));
    const at::Tensor module = inspected_forward(block, sub, x, rope);
    const at::Tensor batched = inspected_forward_with(block, sub, at::stack({x, x}), w, rope);
    ASSERT_EQ(batched.sizes(), (std::vector<int64_t>{2, x.size(0), x.size(1), module.size(-1)})) << sub.name;
    for (int r = 0; r < 2; ++r) EXPECT_TRUE(at::allclose(batched[r], module, 1e-4, 1e-6)) << sub.name;
  }
}

// BlockContext::quantize writes the same values with and without codes (one quantization either way), and the codes
// it records dequantize to exactly the weight it wrote; set_quantized records only when codes are kept.
TEST(BlockContext, QuantizeWritesTheSameWeightWithOrWithoutCodes) {
  const QuantScheme s = QuantScheme::parse("w3g32");
  const std::vector<at::Tensor> none;
  LoadedModel a = stories(), b = stories();
  const RopeTables rope = a.model->rope(0, 8);
  BlockContext with(2, a.model->layer(2), none, rope, s, /*keep_codes=*/true);
  BlockContext without(2, b.model->layer(2), none, rope, s, /*keep_codes=*/false);
  ClipFactors clip;
  for (const auto& [name, l] : a.model->layer(2)->linears()) {
    std::optional<ClipFactors> c;
    if (name == "mlp.up_proj") {
      clip.up = at::full(range_shape(s.weight, l->weight.numel(), l->weight.size(1)), 0.8);
      c = clip;
    }
    const at::Tensor expected = fake_quantize(l->weight, s.weight, c);
    with.quantize(name, c);
    without.quantize(name, c);
    EXPECT_TRUE(at::equal(l->weight, expected)) << name;
    EXPECT_TRUE(at::equal(b.model->layer(2)->linear(name)->weight, expected)) << name;
    const QuantizedLinear& q = with.recorded().at(name);
    EXPECT_TRUE(at::equal(dequantize({q.codes, q.scales, q.zeros, q.spec, at::kFloat}), expected)) << name;
  }
  EXPECT_EQ(with.recorded().size(), 7u);
  EXPECT_TRUE(without.recorded().empty());
  const at::Tensor w = at::zeros_like(b.model->layer(2)->linear("mlp.down_proj")->weight);
  without.set_quantized("mlp.down_proj", w, {w.to(at::kByte), at::ones({1}), at::zeros({1}), {}, {}, s.weight});
  EXPECT_TRUE(at::equal(b.model->layer(2)->linear("mlp.down_proj")->weight, w));
  EXPECT_TRUE(without.recorded().empty());
}

}  // namespace
}  // namespace ptq
