// OmniQuant (LWC, LET) and its AWQ initialisation on the real stories260K model, calibrated on TinyStories stories
// 500.. (evaluation elsewhere uses 0..499).
#include <gtest/gtest.h>
#include <ATen/ATen.h>

#include <cmath>
#include <limits>

#include "core/error.h"
#include "core/fake_quant.h"
#include "core/fake_quant_ste.h"
#include "data/eval_text.h"
#include "model/causal_lm.h"
#include "model/loaded_model.h"
#include "model/safetensors.h"
#include "pipeline/pipeline.h"
#include "support/stories260k.h"
#include "support/test_data.h"

namespace ptq {
namespace {

LoadedModel stories() { return load_model(test::data_path("models/stories260K-hf")); }

// n windows of len tokens from TinyStories stories 500..560, as [1, len] batches.
std::vector<at::Tensor> calibration(const Tokenizer& tok, int64_t n, int64_t len = 128) {
  return test::tinystories_windows(tok, n, len, 500, 560);
}

const nlohmann::json& block_note(const PipelineResult& r, int64_t b) { return r.notes.at(std::to_string(b)).at("omniquant"); }

at::Tensor logits(CausalLMImpl& m, const at::Tensor& ids) {
  at::NoGradGuard g;
  return m.forward(ids).to(at::kFloat);
}

double rel(const at::Tensor& a, const at::Tensor& b) { return ((a - b).norm() / b.norm()).item<double>(); }

// The differentiable quantizer is the shared one: equal values (float rounding of σ aside) on every granularity,
// including a partial last group, and gradients reach the clip logits.
TEST(OmniQuant, SteQuantizerMatchesFakeQuantAndHasClipGradients) {
  at::manual_seed(3);
  at::Tensor w = at::randn({24, 72});
  for (const char* name : {"w4g32", "w3g32-sym", "w4", "w2g16", "w8a8"}) {
    const QuantSpec spec = QuantScheme::parse(name).weight;
    const auto shape = range_shape(spec, w.numel(), w.size(1));
    at::Tensor up = at::full(shape, 1.5).requires_grad_(true), low = at::full(shape, 2.5).requires_grad_(true);
    at::Tensor got = fake_quantize_ste(w, spec, up, low);
    at::Tensor want = fake_quantize(w, spec, ClipFactors{at::sigmoid(up.detach()),
                                                         spec.symmetric ? at::Tensor() : at::sigmoid(low.detach())});
    EXPECT_LT((got - want).abs().max().item<double>(), 1e-5) << name;
    got.pow(2).sum().backward();
    EXPECT_GT(up.grad().abs().sum().item<double>(), 0.0) << name;
    if (!spec.symmetric) {
      EXPECT_GT(low.grad().abs().sum().item<double>(), 0.0) << name;
    }
    // Without clip factors: the plain grid.
    EXPECT_LT((fake_quantize_ste(w, spec) - fake_quantize(w, spec)).abs().max().item<double>(), 1e-6) << name;
  }
}

// Acceptance: LWC at its init (4.0) without training reproduces RTN with the clip σ(4) bit for bit.
TEST(OmniQuant, UntrainedLwcEqualsRtnWithThatClip) {
  LoadedModel m = stories();
  CausalLM ref = load_causal_lm(*m.checkpoint);
  const QuantScheme s = QuantScheme::parse("w3g32");
  auto omni = find_method("omniquant").make({{"epochs", 0}});
  run_pipeline(*m.model, calibration(*m.tokenizer, 2), *omni, s);
  const double f = 1.0 / (1.0 + std::exp(-4.0));
  for (int64_t b = 0; b < 5; ++b)
    for (auto& [name, l] : m.model->layer(b)->linears()) {
      at::Tensor w = ref->linear(fmt::format("model.layers.{}.{}", b, name))->weight;
      const auto shape = range_shape(s.weight, w.numel(), w.size(1));
      at::Tensor c = at::sigmoid(at::full(shape, 4.0));
      EXPECT_NEAR(c.max().item<double>(), f, 1e-7);
      EXPECT_TRUE(at::equal(l->weight, fake_quantize(w, s.weight, ClipFactors{c, c}))) << b << " " << name;
    }
}

// Acceptance: LET at identity (AWQ-format scale file of ones, search_scale_init) and LWC at 4.0 without training give
// the RTN-with-that-clip model (same logits), weight-activation scheme.
TEST(OmniQuant, IdentityLetAndUntrainedLwcEqualRtnWithThatClip) {
  test::TempDir dir;
  LoadedModel m = stories();
  std::vector<std::pair<std::string, at::Tensor>> ones;
  for (int64_t b = 0; b < 5; ++b)
    for (auto& [name, l] : m.model->layer(b)->linears())
      ones.emplace_back(fmt::format("model.layers.{}.{}", b, name), at::ones({l->weight.size(1)}));
  write_safetensors(dir.path() + "/scales.safetensors", ones, {{"kind", "awq_scales"}});
  const QuantScheme s = QuantScheme::parse("w4a8g32");
  auto omni = find_method("omniquant").make(
      {{"epochs", 0}, {"let", true}, {"search_scale_init", true}, {"scale_path", dir.path()}});
  const auto calib = calibration(*m.tokenizer, 2);
  run_pipeline(*m.model, calib, *omni, s);

  LoadedModel r = stories();
  for (int64_t b = 0; b < 5; ++b) {
    DecoderLayer block = r.model->layer(b);
    for (auto& [name, l] : block->linears()) {
      const auto shape = range_shape(s.weight, l->weight.numel(), l->weight.size(1));
      at::Tensor c = at::sigmoid(at::full(shape, 4.0));
      at::NoGradGuard g;
      l->weight.copy_(fake_quantize(l->weight, s.weight, ClipFactors{c, c}));
    }
    set_activation_quantization(*block, s.act);
  }
  EXPECT_TRUE(at::equal(logits(*m.model, calib[0]), logits(*r.model, calib[0])));
}

// Acceptance: training lowers the block loss on real blocks (w2: the hard case), and beats RTN at the model level.
TEST(OmniQuant, LossDecreasesOverEpochsAndBeatsRtn) {
  const QuantScheme s = QuantScheme::parse("w2g32");
  LoadedModel m = stories();
  const auto calib = calibration(*m.tokenizer, 16);
  auto omni = find_method("omniquant").make({{"epochs", 10}});
  PipelineResult r = run_pipeline(*m.model, calib, *omni, s);
  double omni_err = 0, rtn_err = 0;
  for (int64_t b = 0; b < 5; ++b) {
    const auto& n = block_note(r, b);
    const auto loss = n.at("loss").get<std::vector<double>>();
    ASSERT_EQ(loss.size(), 10u);
    EXPECT_LT(loss.back(), loss.front()) << "block " << b;
    EXPECT_LT(n.at("loss_final").get<double>(), n.at("loss_init").get<double>()) << "block " << b;
    EXPECT_FALSE(n.contains("nan_stop"));
    omni_err += r.block_errors[b];
  }
  LoadedModel q = stories();
  auto rtn = find_method("rtn").make({});
  PipelineResult rr = run_pipeline(*q.model, calib, *rtn, s);
  for (double e : rr.block_errors) rtn_err += e;
  EXPECT_LT(omni_err, rtn_err);
  // Held-out windows (stories 0..): the trained model predicts better than RTN.
  EvalTextOptions o;
  o.first_story = 0;
  o.last_story = 40;
  const auto ids = m.tokenizer->encode(load_eval_text("tinystories", o).text, false);
  at::Tensor x = at::tensor(std::vector<int64_t>(ids.begin(), ids.begin() + 4 * 256), at::kLong).view({4, 256});
  auto nll = [&](CausalLMImpl& model) {
    at::Tensor lg = logits(model, x);
    return at::cross_entropy_loss(lg.narrow(1, 0, 255).reshape({-1, lg.size(2)}), x.narrow(1, 1, 255).reshape({-1}))
        .item<double>();
  };
  EXPECT_LT(nll(*m.model), nll(*q.model));
}

// Weight-activation OmniQuant with LET: the learned transformation folded into the weights is an equivalence of the
// fp model (the quantizer aside): the transformed fp weights with the transformed norms reproduce the fp logits.
TEST(OmniQuant, LetFoldIsAnEquivalence) {
  const QuantScheme s = QuantScheme::parse("w4a4");
  {
    LoadedModel m = stories();
    const auto calib = calibration(*m.tokenizer, 4);
    auto omni = find_method("omniquant").make(
        {{"epochs", 3}, {"let", true}, {"let_lr", 0.01}, {"lwc_lr", 0.01}});
    PipelineOptions po;
    po.keep_transformed = true;
    PipelineResult r = run_pipeline(*m.model, calib, *omni, s, po);
    for (int64_t b = 0; b < 5; ++b) {
      const auto loss = block_note(r, b).at("loss").get<std::vector<double>>();
      EXPECT_LT(block_note(r, b).at("loss_final").get<double>(), block_note(r, b).at("loss_init").get<double>()) << b;
      EXPECT_TRUE(block_note(r, b).contains("let_scale"));
    }
    // fp model with the transformed weights and the (transformed, unquantized) norms of the quantized model.
    LoadedModel fp = stories();
    LoadedModel t = stories();
    {
      at::NoGradGuard g;
      for (int64_t b = 0; b < 5; ++b) {
        for (auto& [name, l] : t.model->layer(b)->linears())
          l->weight.copy_(r.transformed.at(fmt::format("model.layers.{}.{}.weight", b, name)));
        t.model->layer(b)->input_layernorm->weight.copy_(m.model->layer(b)->input_layernorm->weight);
        t.model->layer(b)->post_attention_layernorm->weight.copy_(m.model->layer(b)->post_attention_layernorm->weight);
      }
    }
    // The transform really moved the weights.
    EXPECT_GT(rel(t.model->layer(2)->self_attn->q_proj->weight, fp.model->layer(2)->self_attn->q_proj->weight), 1e-3);
    // down_proj is not transformed without smooth_up_down; gate_proj is (post_attention_layernorm -> gate, up).
    EXPECT_TRUE(at::equal(t.model->layer(2)->mlp->down_proj->weight, fp.model->layer(2)->mlp->down_proj->weight));
    EXPECT_GT(rel(t.model->layer(2)->mlp->gate_proj->weight, fp.model->layer(2)->mlp->gate_proj->weight), 1e-3);
    EXPECT_LT(rel(logits(*t.model, calib[0]), logits(*fp.model, calib[0])), 1e-5);
  }
}

// Acceptance: LWC initialised from AWQ's clip search starts from AWQ's clipped error: untrained, it gives AWQ's
// clip-only result (trans off, clip v2 = quantize with the factors) with the same integer codes (values differ by the
// last bit of σ(logit(r)) at most), and q/k stay plain RTN.
TEST(OmniQuant, AwqInitialisedLwcStartsFromAwqClip) {
  const QuantScheme s = QuantScheme::parse("w3g32");
  LoadedModel a = stories(), o = stories();
  CausalLM ref = load_causal_lm(*a.checkpoint);
  const auto calib = calibration(*a.tokenizer, 4);
  PipelineOptions po;
  po.keep_codes = true;
  auto awq = find_method("awq").make({{"trans", false}, {"weight_clip", true}, {"clip_version", "v2"}});
  PipelineResult ra = run_pipeline(*a.model, calib, *awq, s, po);
  auto omni = find_method("omniquant").make({{"epochs", 0}, {"search_clip_init", true}});
  PipelineResult ro = run_pipeline(*o.model, calib, *omni, s, po);
  ASSERT_EQ(ro.codes.size(), 35u);
  for (const auto& [layer, q] : ro.codes) {
    EXPECT_TRUE(at::equal(q.codes, ra.codes.at(layer).codes)) << layer;
    at::Tensor wo = o.model->linear(layer)->weight, wa = a.model->linear(layer)->weight;
    EXPECT_LE((wo - wa).abs().max().item<double>(), 1e-6 * wa.abs().max().item<double>()) << layer;
  }
  for (int64_t b = 0; b < 5; ++b) {
    for (const char* name : {"self_attn.q_proj", "self_attn.k_proj"}) {
      const std::string layer = fmt::format("model.layers.{}.{}", b, name);
      EXPECT_TRUE(at::equal(o.model->linear(layer)->weight, fake_quantize(ref->linear(layer)->weight, s.weight)))
          << layer;
    }
    EXPECT_NEAR(ro.block_errors[b], ra.block_errors[b], 1e-4 * ra.block_errors[b]) << b;
    EXPECT_FALSE(block_note(ro, b).at("clip").contains("self_attn.q_proj"));
  }
  // Trained from there (same block-0 start), the loss goes down.
  LoadedModel t = stories();
  auto trained = find_method("omniquant").make({{"epochs", 4}, {"search_clip_init", true}});
  PipelineResult rt = run_pipeline(*t.model, calib, *trained, s);
  const double init0 = block_note(ro, 0).at("loss_init").get<double>();
  EXPECT_NEAR(block_note(rt, 0).at("loss_init").get<double>(), init0, 1e-6 * init0);
  for (int64_t b = 0; b < 5; ++b) {
    const auto& n = block_note(rt, b);
    EXPECT_LT(n.at("loss_final").get<double>(), n.at("loss_init").get<double>()) << b;
  }
}

// NaN guard: a batch whose embeddings are NaN stops the block's training at that step, the stop is recorded, and the
// parameters fall back (here: no epoch finished, so to the initial ones: RTN with the σ(4) clip).
TEST(OmniQuant, NonFiniteLossStopsAndFallsBack) {
  LoadedModel m = stories();
  CausalLM ref = load_causal_lm(*m.checkpoint);
  auto calib = calibration(*m.tokenizer, 2);
  const int64_t poisoned = calib[1][0][5].item<int64_t>();
  // Token `poisoned` must not occur in batch 0, so that batch 0 trains normally.
  ASSERT_EQ((calib[0] == poisoned).sum().item<int64_t>(), 0) << "pick another position";
  {
    at::NoGradGuard g;
    m.model->model->embed_tokens->weight[poisoned].fill_(std::numeric_limits<float>::quiet_NaN());
  }
  const QuantScheme s = QuantScheme::parse("w3g32");
  auto omni = find_method("omniquant").make({{"epochs", 3}});
  PipelineResult r = run_pipeline(*m.model, calib, *omni, s);
  const auto& n = block_note(r, 0);
  ASSERT_TRUE(n.contains("nan_stop")) << n.dump();
  EXPECT_EQ(n["nan_stop"]["epoch"], 1);
  EXPECT_EQ(n["nan_stop"]["batch"], 1);
  EXPECT_EQ(n["nan_stop"]["fallback"], "initial parameters");
  EXPECT_TRUE(n["loss"].empty());
  for (auto& [name, l] : m.model->layer(0)->linears()) {
    at::Tensor w = ref->linear(fmt::format("model.layers.0.{}", name))->weight;
    at::Tensor c = at::sigmoid(at::full(range_shape(s.weight, w.numel(), w.size(1)), 4.0));
    EXPECT_TRUE(at::equal(l->weight, fake_quantize(w, s.weight, ClipFactors{c, c}))) << name;
  }
}

// The w8a8 combination's hand-over: AWQ saves scales and clips, OmniQuant reads them (search_scale_init, load_clip);
// swapped paths and a clip file from another weight scheme are clear errors.
TEST(OmniQuant, LoadsAwqScalesAndClipsAndRefusesSwappedPaths) {
  test::TempDir dir;
  const std::string sp = dir.path() + "/scales", cp = dir.path() + "/clips";
  const QuantScheme s = QuantScheme::parse("w8a8-asym");
  {
    LoadedModel a = stories();
    auto awq = find_method("awq").make({{"weight_clip", true}, {"clip_version", "v2"}, {"save_scale", true},
                                        {"scale_path", sp}, {"save_clip", true}, {"clip_path", cp}});
    run_pipeline(*a.model, calibration(*a.tokenizer, 2), *awq, s);
  }
  LoadedModel o = stories();
  const auto calib = calibration(*o.tokenizer, 2);
  auto omni = find_method("omniquant").make({{"epochs", 1},
                                             {"let", true},
                                             {"search_scale_init", true},
                                             {"scale_path", sp},
                                             {"search_clip_init", true},
                                             {"load_clip", true},
                                             {"clip_path", cp}});
  PipelineResult r = run_pipeline(*o.model, calib, *omni, s);
  // LET starts at AWQ's q/k/v scale: its range is reported.
  const SafetensorsFile f = SafetensorsFile::open(sp + "/scales.safetensors");
  EXPECT_EQ(f.metadata().at("kind"), "awq_scales");
  for (int64_t b = 0; b < 5; ++b) EXPECT_EQ(block_note(r, b).at("loss").size(), 1u);

  auto expect_error = [&](const nlohmann::json& p, const QuantScheme& scheme, const std::string& needle) {
    LoadedModel x = stories();
    auto method = find_method("omniquant").make(p);
    try {
      run_pipeline(*x.model, calib, *method, scheme);
      ADD_FAILURE() << "no error for " << p.dump();
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error({{"let", true}, {"search_scale_init", true}, {"scale_path", cp}}, s, "swapped");
  expect_error({{"search_clip_init", true}, {"load_clip", true}, {"clip_path", cp}}, QuantScheme::parse("w8a8g32-asym"),
               "another weight scheme");
  expect_error({{"let", true}}, QuantScheme::parse("w4g32"), "weight-activation");
  EXPECT_THROW(find_method("omniquant").make({{"use_shift", true}}), Error);
  EXPECT_THROW(find_method("omniquant").make({{"load_clip", true}}), Error);
}

}  // namespace
}  // namespace ptq
