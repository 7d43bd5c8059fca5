// The block-wise pipeline and every registered method on the real stories260K model, calibrated on TinyStories
// stories 500.. (evaluation uses 0..499).
#include <gtest/gtest.h>
#include <ATen/ATen.h>

#include "core/error.h"
#include "core/fake_quant.h"
#include "data/eval_text.h"
#include "model/loaded_model.h"
#include "model/safetensors.h"
#include "pipeline/pipeline.h"
#include "support/stories260k.h"
#include "support/test_data.h"

#include <nlohmann/json.hpp>

namespace ptq {
namespace {

LoadedModel stories() { return load_model(test::data_path("models/stories260K-hf")); }

// n windows of 128 tokens cut from the encoded TinyStories stories 500..540, as [1, 128] batches.
std::vector<at::Tensor> calibration(const Tokenizer& tok, int64_t n = 8, int64_t len = 128) {
  return test::tinystories_windows(tok, n, len, 500, 540);
}

std::map<std::string, double> errors_by_layer(const PipelineResult& r) {
  std::map<std::string, double> m;
  for (const auto& e : r.layer_errors) m[e.layer] = e.rel_output_error;
  return m;
}

TEST(Pipeline, RtnWeightsEqualFakeQuantOfOriginals) {
  LoadedModel m = stories();
  CausalLM ref = load_causal_lm(*m.checkpoint);
  const QuantScheme s = QuantScheme::parse("w4g32");
  auto rtn = find_method("rtn").make({});
  PipelineResult r = run_pipeline(*m.model, calibration(*m.tokenizer), *rtn, s);
  ASSERT_EQ(r.layer_errors.size(), 5u * 7u);
  ASSERT_EQ(r.block_errors.size(), 5u);
  for (int64_t b = 0; b < 5; ++b)
    for (auto& [name, l] : m.model->layer(b)->linears()) {
      at::Tensor original = ref->linear(fmt::format("model.layers.{}.{}", b, name))->weight;
      EXPECT_TRUE(at::equal(l->weight, fake_quantize(original, s.weight))) << b << " " << name;
    }
  // Embeddings, final norm and (tied) head are never touched.
  EXPECT_TRUE(at::equal(m.model->model->embed_tokens->weight, ref->model->embed_tokens->weight));
  EXPECT_TRUE(at::equal(m.model->model->norm->weight, ref->model->norm->weight));
  for (const auto& e : r.layer_errors) {
    EXPECT_GT(e.rel_output_error, 0.0) << e.layer;
    EXPECT_LT(e.rel_output_error, 0.5) << e.layer;
    EXPECT_GT(e.rel_weight_error, 0.0) << e.layer;
  }
}

TEST(Pipeline, ActivationQuantizationIsAttachedForWeightActivationSchemes) {
  LoadedModel m = stories();
  auto rtn = find_method("rtn").make({});
  run_pipeline(*m.model, calibration(*m.tokenizer, 2), *rtn, QuantScheme::parse("w8a8"));
  for (int64_t b = 0; b < 5; ++b)
    for (auto& [name, l] : m.model->layer(b)->linears()) EXPECT_TRUE(static_cast<bool>(l->input_transform)) << name;
  LoadedModel w = stories();
  run_pipeline(*w.model, calibration(*w.tokenizer, 2), *rtn, QuantScheme::parse("w8g32"));
  for (auto& [name, l] : w.model->layer(0)->linears()) EXPECT_FALSE(static_cast<bool>(l->input_transform)) << name;
}

TEST(Pipeline, KeepCodesRecordsEveryLinear) {
  LoadedModel m = stories();
  auto rtn = find_method("rtn").make({});
  PipelineOptions opt;
  opt.keep_codes = true;
  PipelineResult r = run_pipeline(*m.model, calibration(*m.tokenizer, 2), *rtn, QuantScheme::parse("w4g32"), opt);
  ASSERT_EQ(r.codes.size(), 35u);
  const QuantizedLinear& q = r.codes.at("model.layers.2.mlp.down_proj");
  EXPECT_EQ(q.codes.sizes(), at::IntArrayRef({64, 172}));
  EXPECT_EQ(q.scales.sizes(), at::IntArrayRef({64, 6}));  // 172 = 5 x 32 + a partial group of 12
  QuantizedTensor qt{q.codes, q.scales, q.zeros, q.spec, at::kFloat};
  EXPECT_TRUE(at::equal(dequantize(qt), m.model->linear("model.layers.2.mlp.down_proj")->weight));
}

// "" when `info` can quantize under `scheme` (MethodInfo::scheme_problem), else why not.
std::string supports(const MethodInfo& info, const char* scheme) {
  return info.scheme_problem ? info.scheme_problem(QuantScheme::parse(scheme)) : std::string();
}

// Every registered method, through the same pipeline: finite weights, errors below 1, and error falling from 3 to 8
// bits in every layer.
TEST(Registry, EveryMethodRunsAndErrorFallsWithBits) {
  for (const MethodInfo& info : methods()) {
    std::map<std::string, double> e3, e8;
    for (const char* scheme : {"w3g32", "w8g32"}) {
      ASSERT_EQ(supports(info, scheme), "") << info.id;  // every method quantizes asymmetric per-group weights
      LoadedModel m = stories();
      auto method = info.make({});
      PipelineResult r = run_pipeline(*m.model, calibration(*m.tokenizer, 4), *method, QuantScheme::parse(scheme));
      (std::string(scheme) == "w3g32" ? e3 : e8) = errors_by_layer(r);
      for (const auto& b : r.block_errors) EXPECT_TRUE(std::isfinite(b)) << info.id;
    }
    ASSERT_EQ(e3.size(), 35u) << info.id;
    for (const auto& [layer, err] : e3) {
      EXPECT_LT(err, 1.0) << info.id << " " << layer;
      EXPECT_LT(e8.at(layer), err) << info.id << " " << layer;
    }
  }
}

// Block 0's inputs for n calibration batches of stories260K: the embeddings, [1, 128, hidden] each.
std::vector<at::Tensor> embedded_calibration(LoadedModel& m, int n) {
  std::vector<at::Tensor> xs;
  for (const auto& ids : calibration(*m.tokenizer, n)) xs.push_back(m.model->embed(ids));
  return xs;
}

// BlockContext keeps a forward's outputs as the block's fp outputs only while the block is as handed over.
TEST(BlockContext, KeepsFpOutputsOnlyFromTheUntouchedBlock) {
  LoadedModel m = stories();
  at::NoGradGuard no_grad;
  const std::vector<at::Tensor> xs = embedded_calibration(m, 2);
  const RopeTables rope = m.model->rope(0, 128);
  const QuantScheme s = QuantScheme::parse("w4g32");
  DecoderLayer block = m.model->layer(1);
  {
    BlockContext ctx(1, block, xs, rope, s, false);
    ctx.forward_observing({"mlp.down_proj"}, [](const std::string&, const at::Tensor&) {});
    std::vector<at::Tensor> fp = ctx.take_fp_outputs();
    ASSERT_EQ(fp.size(), 2u);
    EXPECT_TRUE(at::equal(fp[1], block->forward(xs[1], rope)));
    EXPECT_TRUE(ctx.take_fp_outputs().empty());
  }
  {
    BlockContext ctx(1, block, xs, rope, s, false);
    block->mlp->down_proj->weight.mul_(1.0);  // same values, but written in place
    ctx.forward_all();
    EXPECT_TRUE(ctx.take_fp_outputs().empty());
  }
  {
    BlockContext ctx(1, block, xs, rope, s, false);
    block->input_layernorm->weight = block->input_layernorm->weight.clone();  // another tensor in the slot
    ctx.forward_all();
    EXPECT_TRUE(ctx.take_fp_outputs().empty());
  }
  {
    BlockContext ctx(1, block, xs, rope, s, false);
    block->self_attn->q_proj->input_transform = [](const at::Tensor& x) { return x; };
    ctx.forward_all();
    EXPECT_TRUE(ctx.take_fp_outputs().empty());
    block->self_attn->q_proj->input_transform = nullptr;
    ctx.forward_all();  // untouched again: the transform is gone, the parameters are those handed over
    EXPECT_EQ(ctx.take_fp_outputs().size(), 2u);
  }
}

// When the pipeline does not want the fp outputs, forward_observing stops each batch at the last named linear's
// input: the observed inputs are those of a full forward, bit for bit, and later linears never run.
TEST(BlockContext, ForwardObservingStopsAfterTheLastNamedInput) {
  LoadedModel m = stories();
  at::NoGradGuard no_grad;
  const std::vector<at::Tensor> xs = embedded_calibration(m, 3);
  const RopeTables rope = m.model->rope(0, 128);
  const QuantScheme s = QuantScheme::parse("w4g32");
  DecoderLayer block = m.model->layer(2);
  // The reference: every linear's input on a full forward.
  std::map<std::string, std::vector<at::Tensor>> full;
  for (auto& [n, l] : block->linears())
    l->input_observer = [&full, name = n](const at::Tensor& x) { full[name].push_back(x.clone()); };
  for (const auto& x : xs) block->forward(x, rope);
  for (auto& [n, l] : block->linears()) l->input_observer = nullptr;
  // down_proj is also hooked as a tripwire: it must never run when only {q, o} are observed.
  for (const std::vector<std::string>& names :
       std::vector<std::vector<std::string>>{{"self_attn.q_proj"}, {"self_attn.q_proj", "self_attn.o_proj"},
                                              {"mlp.gate_proj", "mlp.down_proj"}}) {
    BlockContext ctx(2, block, xs, rope, s, false);
    ctx.set_fp_outputs_wanted(false);
    std::map<std::string, std::vector<at::Tensor>> got;
    int up_calls = 0;
    block->mlp->up_proj->output_observer = [&up_calls](const at::Tensor&, const at::Tensor&) { ++up_calls; };
    ctx.forward_observing(names, [&](const std::string& n, const at::Tensor& x) { got[n].push_back(x.clone()); });
    block->mlp->up_proj->output_observer = nullptr;
    for (const auto& n : names) {
      ASSERT_EQ(got[n].size(), xs.size()) << n;
      for (size_t i = 0; i < xs.size(); ++i) EXPECT_TRUE(at::equal(got[n][i], full.at(n)[i])) << n << " batch " << i;
    }
    // up_proj runs before down_proj: only the subset that reaches down_proj's input runs it.
    EXPECT_EQ(up_calls, names.back() == "mlp.down_proj" ? static_cast<int>(xs.size()) : 0) << names.back();
    EXPECT_TRUE(ctx.take_fp_outputs().empty());
    for (auto& [n, l] : block->linears()) EXPECT_FALSE(l->input_observer) << n << " left hooked";
  }
}

// Sum of squares in float64, as a reference independent of the pipeline's own (row-wise float32) sums.
double sumsq64(const at::Tensor& t) { return t.to(at::kDouble).pow(2).sum().item<double>(); }

// The pipeline's error bookkeeping reuses the method's capture forward as the fp forward when it ran on the untouched
// block, else runs one with the old parameters swapped back; its per-linear error is one extra product per linear.
// For every registered method, in w4g32 and w8a8, the block errors must equal a direct measurement (each block of the
// unquantized model against the quantized one, on the inputs the pipeline propagated), RTN's and GPTQ's layer errors
// the direct ||q(x) Q(W)^T - x W^T|| / ||x W^T||, and ptq.measure_errors false must leave the same quantized model.
TEST(Pipeline, ErrorBookkeepingEqualsDirectMeasurementAndCanBeSwitchedOff) {
  for (const MethodInfo& info : methods()) {
    for (const char* scheme_name : {"w4g32", "w8a8"}) {
      SCOPED_TRACE(fmt::format("{} {}", info.id, scheme_name));
      if (!supports(info, scheme_name).empty()) continue;  // e.g. HQQ under w8a8's symmetric weights
      const QuantScheme scheme = QuantScheme::parse(scheme_name);
      LoadedModel m = stories();
      CausalLM ref = load_causal_lm(*m.checkpoint);
      const std::vector<at::Tensor> calib = calibration(*m.tokenizer, 3);
      auto method = info.make({});
      PipelineOptions opt;
      opt.quant_out = info.id != "awq";  // AWQ propagates fp outputs (its LLMC default), the others quantized ones
      PipelineResult r = run_pipeline(*m.model, calib, *method, scheme, opt);
      ASSERT_EQ(r.block_errors.size(), 5u);
      ASSERT_EQ(r.layer_errors.size(), 35u);

      at::NoGradGuard no_grad;
      std::vector<at::Tensor> xs;
      for (const auto& ids : calib) xs.push_back(m.model->embed(ids));
      const RopeTables rope = m.model->rope(0, calib.front().size(1));
      for (int64_t b = 0; b < 5; ++b) {
        DecoderLayer q = m.model->layer(b), fp = ref->layer(b);
        std::map<std::string, Linear> fp_linears;
        for (auto& [name, l] : fp->linears()) fp_linears.emplace(name, l);
        std::map<std::string, std::pair<double, double>> lerr;
        // no equivalence transform: W is the original
        const bool layers = info.id == "rtn" || info.id == "gptq" || info.id == "hqq";
        if (layers)
          for (auto& [name, l] : q->linears())
            l->input_observer = [&, name = name, l = l](const at::Tensor& x) {
              at::Tensor want = at::linear(x, fp_linears.at(name)->weight);
              at::Tensor got = at::linear(l->input_transform ? l->input_transform(x) : x, l->weight);
              lerr[name].first += sumsq64(got - want);
              lerr[name].second += sumsq64(want);
            };
        double num = 0, den = 0;
        std::vector<at::Tensor> next;
        for (const auto& x : xs) {
          at::Tensor yq = q->forward(x, rope), yf = fp->forward(x, rope);
          num += sumsq64(yq - yf);
          den += sumsq64(yf);
          next.push_back(opt.quant_out ? yq : yf);
        }
        for (auto& [name, l] : q->linears()) l->input_observer = nullptr;
        EXPECT_NEAR(r.block_errors[b], std::sqrt(num / den), 1e-4 * std::sqrt(num / den)) << "block " << b;
        for (const auto& e : r.layer_errors) {
          if (e.block != b || !layers) continue;
          const auto& [en, ed] = lerr.at(e.layer.substr(e.layer.find('.', 13) + 1));
          EXPECT_NEAR(e.rel_output_error, std::sqrt(en / ed), 1e-4 * std::sqrt(en / ed)) << e.layer;
        }
        xs = std::move(next);
      }

      LoadedModel off = stories();
      auto again = info.make({});
      opt.measure_errors = false;
      PipelineResult r_off = run_pipeline(*off.model, calib, *again, scheme, opt);
      EXPECT_TRUE(r_off.layer_errors.empty());
      EXPECT_TRUE(r_off.block_errors.empty());
      for (int64_t b = 0; b < 5; ++b) {
        for (auto& [name, l] : off.model->layer(b)->linears())
          EXPECT_TRUE(at::equal(l->weight, m.model->linear(fmt::format("model.layers.{}.{}", b, name))->weight))
              << b << " " << name;
        EXPECT_TRUE(at::equal(off.model->layer(b)->input_layernorm->weight, m.model->layer(b)->input_layernorm->weight));
      }
    }
  }
}

// GPTQ on the real model: per-layer relative output error on the calibration inputs against RTN's, same scheme.
TEST(Gptq, LayerErrorNotWorseThanRtn) {
  for (const char* scheme : {"w3g32", "w4g32", "w4"}) {
    std::map<std::string, double> rtn_err, gptq_err;
    for (const char* id : {"rtn", "gptq"}) {
      LoadedModel m = stories();
      auto method = find_method(id).make({});
      PipelineResult r = run_pipeline(*m.model, calibration(*m.tokenizer, 16), *method, QuantScheme::parse(scheme));
      (std::string(id) == "rtn" ? rtn_err : gptq_err) = errors_by_layer(r);
    }
    double rtn_sum = 0, gptq_sum = 0;
    for (const auto& [layer, e] : gptq_err) {
      EXPECT_LE(e, rtn_err.at(layer)) << scheme << " " << layer;
      rtn_sum += rtn_err.at(layer);
      gptq_sum += e;
    }
    std::printf("[ info     ] %s: mean relative layer error RTN %.4f, GPTQ %.4f (ratio %.3f)\n", scheme,
                rtn_sum / 35, gptq_sum / 35, gptq_sum / rtn_sum);
  }
}

TEST(Gptq, ActOrderChangesResultAndStaticGroupsKeepOriginalOrder) {
  auto run = [](const nlohmann::json& params) {
    LoadedModel m = stories();
    auto method = find_method("gptq").make(params);
    PipelineOptions opt;
    opt.keep_codes = true;
    PipelineResult r = run_pipeline(*m.model, calibration(*m.tokenizer, 8), *method, QuantScheme::parse("w3g32"), opt);
    return std::make_pair(m.model->linear("model.layers.1.mlp.down_proj")->weight.clone(), r);
  };
  auto [plain, r_plain] = run({});
  auto [ordered, r_ordered] = run({{"actorder", true}});
  EXPECT_FALSE(at::equal(plain, ordered));
  EXPECT_TRUE(r_ordered.codes.at("model.layers.1.mlp.down_proj").perm.defined());
  auto [stat, r_static] = run({{"actorder", true}, {"static_groups", true}});
  const QuantizedLinear& q = r_static.codes.at("model.layers.1.mlp.down_proj");
  ASSERT_EQ(q.g_idx.numel(), 172);
  for (int64_t c = 0; c < 172; ++c) EXPECT_EQ(q.g_idx[c].item<int>(), c / 32) << c;
  // Static groups: the weight is still exactly the dequantized codes.
  at::Tensor deq = (q.codes.to(at::kFloat) - q.zeros.index_select(1, q.g_idx.to(at::kLong))) *
                   q.scales.index_select(1, q.g_idx.to(at::kLong));
  EXPECT_TRUE(at::equal(deq, stat));
}

// AWQ's folded scales leave the fp function unchanged (norm or previous rows ÷ s, columns × s; docs/methods/awq.md),
// before quantization.
TEST(Awq, TransformAloneKeepsTheFpModel) {
  for (const char* version : {"v1", "v2"}) {
    LoadedModel m = stories();
    CausalLM ref = load_causal_lm(*m.checkpoint);
    auto awq = find_method("awq").make({{"trans_version", version}, {"quantize_weights", false}});
    PipelineResult r = run_pipeline(*m.model, calibration(*m.tokenizer, 4), *awq, QuantScheme::parse("w3g32"));
    // The scales were really searched and folded: weights changed.
    EXPECT_FALSE(at::equal(m.model->linear("model.layers.0.mlp.gate_proj")->weight,
                           ref->linear("model.layers.0.mlp.gate_proj")->weight));
    at::Tensor ids = calibration(*m.tokenizer, 2).back();
    at::NoGradGuard g;
    at::Tensor a = m.model->forward(ids), b = ref->forward(ids);
    const double rel = ((a - b).norm() / b.norm()).item<double>();
    EXPECT_LT(rel, 1e-5) << version;
    for (const auto& e : r.layer_errors) EXPECT_LT(e.rel_output_error, 1e-5) << e.layer;
  }
}

TEST(SmoothQuant, TransformAloneKeepsTheFpModelAndW8A8Runs) {
  LoadedModel m = stories();
  CausalLM ref = load_causal_lm(*m.checkpoint);
  auto sq = find_method("smoothquant").make({{"alpha", 0.8}, {"quantize_weights", false}});
  run_pipeline(*m.model, calibration(*m.tokenizer, 4), *sq, QuantScheme::parse("w8g32"));
  EXPECT_FALSE(at::equal(m.model->model->layers->ptr<DecoderLayerImpl>(0)->input_layernorm->weight,
                         ref->model->layers->ptr<DecoderLayerImpl>(0)->input_layernorm->weight));
  at::Tensor ids = calibration(*m.tokenizer, 2).back();
  at::NoGradGuard g;
  at::Tensor a = m.model->forward(ids), b = ref->forward(ids);
  EXPECT_LT(((a - b).norm() / b.norm()).item<double>(), 1e-5);

  LoadedModel q = stories();
  auto w8a8 = find_method("smoothquant").make({});
  PipelineResult r = run_pipeline(*q.model, calibration(*q.tokenizer, 4), *w8a8, QuantScheme::parse("w8a8"));
  for (const auto& e : r.layer_errors) EXPECT_LT(e.rel_output_error, 0.05) << e.layer;
}

// The batched 20-ratio search computes the same losses (to float32 GEMM rounding) and picks the same ratios as the
// one-ratio-at-a-time loop, for weight-only and weight-activation schemes.
TEST(Awq, BatchedSearchEqualsTheLoop) {
  for (const char* scheme : {"w3g32", "w8a8"}) {
    std::vector<PipelineResult> runs;
    std::vector<at::Tensor> weights;
    for (bool batched : {true, false}) {
      LoadedModel m = stories();
      auto awq = find_method("awq").make({{"batched_search", batched}, {"weight_clip", true}});
      runs.push_back(run_pipeline(*m.model, calibration(*m.tokenizer, 4), *awq, QuantScheme::parse(scheme)));
      weights.push_back(m.model->linear("model.layers.3.mlp.down_proj")->weight.clone());
    }
    for (int64_t b = 0; b < 5; ++b) {
      const auto& nb = runs[0].notes[std::to_string(b)];
      const auto& nl = runs[1].notes[std::to_string(b)];
      EXPECT_EQ(nb["awq_best_ratio"], nl["awq_best_ratio"]) << scheme << " block " << b;
      const auto& lb = nb["awq_search_losses"];
      const auto& ll = nl["awq_search_losses"];
      ASSERT_EQ(lb.size(), ll.size());
      for (size_t sub = 0; sub < lb.size(); ++sub)
        for (size_t k = 0; k < 20; ++k) {
          const double a = lb[sub][k].get<double>(), c = ll[sub][k].get<double>();
          EXPECT_NEAR(a, c, 1e-4 * std::abs(c) + 1e-12) << scheme << " block " << b << " subset " << sub << " k " << k;
        }
    }
    EXPECT_TRUE(at::equal(weights[0], weights[1])) << scheme;
  }
}

TEST(Awq, ScalesAndClipsAreWrittenAsArtifacts) {
  test::TempDir dir;
  LoadedModel m = stories();
  auto awq = find_method("awq").make({{"weight_clip", true}, {"save_scale", true}, {"scale_path", dir.path()},
                                      {"save_clip", true}, {"clip_path", dir.path()}});
  run_pipeline(*m.model, calibration(*m.tokenizer, 4), *awq, QuantScheme::parse("w3g32"));
  SafetensorsFile scales = SafetensorsFile::open(dir.file("scales.safetensors"));
  // GQA (8 heads, 4 KV heads) skips v->o: q, k, v, gate, up, down per block.
  EXPECT_EQ(scales.entries().size(), 5u * 6u);
  at::Tensor s = scales.load("model.layers.2.mlp.down_proj");
  EXPECT_EQ(s.sizes(), at::IntArrayRef({172}));
  EXPECT_TRUE((s > 0).all().item<bool>() && at::isfinite(s).all().item<bool>());
  EXPECT_TRUE(at::equal(scales.load("model.layers.0.self_attn.q_proj"), scales.load("model.layers.0.self_attn.v_proj")));
  SafetensorsFile clips = SafetensorsFile::open(dir.file("clips.safetensors"));
  at::Tensor up = clips.load("model.layers.1.mlp.down_proj.up");
  EXPECT_EQ(up.sizes(), at::IntArrayRef({64, 6}));
  EXPECT_TRUE(((up >= 0.55 - 1e-6) & (up <= 1.0 + 1e-6)).all().item<bool>());
  EXPECT_EQ(clips.find("model.layers.1.self_attn.q_proj.up"), nullptr);  // q and k are never clipped
  // Writing again into the same folder refuses to overwrite.
  LoadedModel again = stories();
  auto awq2 = find_method("awq").make({{"save_scale", true}, {"scale_path", dir.path()}});
  EXPECT_THROW(run_pipeline(*again.model, calibration(*again.tokenizer, 2), *awq2, QuantScheme::parse("w3g32")), Error);
}

TEST(Awq, LayerErrorNotWorseThanRtnAndClipFactorsOnTheGrid) {
  for (const char* scheme : {"w3g32", "w4g32"}) {
    double rtn_block = 0, awq_block = 0, rtn_layer = 0, awq_layer = 0;
    for (const char* id : {"rtn", "awq"}) {
      LoadedModel m = stories();
      nlohmann::json params = std::string(id) == "awq" ? nlohmann::json{{"weight_clip", true}} : nlohmann::json{};
      auto method = find_method(id).make(params);
      PipelineResult r = run_pipeline(*m.model, calibration(*m.tokenizer, 8), *method, QuantScheme::parse(scheme));
      double blocks = 0, layers = 0;
      for (double e : r.block_errors) blocks += e;
      for (const auto& e : r.layer_errors) layers += e.rel_output_error;
      (std::string(id) == "rtn" ? rtn_block : awq_block) = blocks / 5;
      (std::string(id) == "rtn" ? rtn_layer : awq_layer) = layers / 35;
      if (std::string(id) == "awq")
        for (auto it = r.notes.begin(); it != r.notes.end(); ++it)
          for (auto c = it.value()["awq_clip_ratio"].begin(); c != it.value()["awq_clip_ratio"].end(); ++c)
            EXPECT_TRUE(c.value()["on_grid"].get<bool>()) << it.key() << " " << c.key() << " " << c.value().dump();
    }
    std::printf("[ info     ] %s: mean block error RTN %.4f AWQ %.4f; mean layer error RTN %.4f AWQ %.4f\n", scheme,
                rtn_block, awq_block, rtn_layer, awq_layer);
    EXPECT_LE(awq_block, rtn_block) << scheme;
    EXPECT_LE(awq_layer, rtn_layer) << scheme;
  }
}

TEST(Registry, UnknownMethodAndParameterAreClearErrors) {
  try {
    find_method("smoothquant2");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown method 'smoothquant2' (known: rtn"), std::string::npos) << e.what();
  }
  for (const MethodInfo& info : methods()) {
    try {
      info.make({{"no_such_key", 1}});
      ADD_FAILURE() << info.id;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("unknown parameter 'no_such_key'"), std::string::npos) << e.what();
    }
  }
}

TEST(Pipeline, DataFreeRtnAndRaggedCalibration) {
  LoadedModel m = stories();
  CausalLM ref = load_causal_lm(*m.checkpoint);
  auto rtn = find_method("rtn").make({});
  PipelineResult r = run_pipeline(*m.model, {}, *rtn, QuantScheme::parse("w4g32"));
  EXPECT_TRUE(r.layer_errors.empty());
  EXPECT_TRUE(at::equal(m.model->linear("model.layers.4.mlp.up_proj")->weight,
                        fake_quantize(ref->linear("model.layers.4.mlp.up_proj")->weight,
                                      QuantScheme::parse("w4g32").weight)));
  std::vector<at::Tensor> ragged = {at::ones({1, 16}, at::kLong), at::ones({1, 8}, at::kLong)};
  EXPECT_THROW(run_pipeline(*m.model, ragged, *rtn, QuantScheme::parse("w4g32")), Error);
}

}  // namespace
}  // namespace ptq
