// AWQ (Lin et al. 2024; docs/methods/awq.md; LLMC awq.py and auto_clip.py) on the block-wise pipeline.
//
// Per block: cache the inputs of q_proj, o_proj, gate_proj and down_proj; for each scaling subset
//   1 {q,k,v}   prev input_layernorm   loss on self_attn's output
//   2 {o}       prev v_proj (rows)     loss on o_proj's output; only when v_proj's rows are 1x/2x/3x o_proj's columns,
//                                      so grouped-query attention skips it (LLMC's rule; llm-awq skips on shape mismatch)
//   3 {gate,up} prev post_attention_layernorm, loss on mlp's output
//   4 {down}    prev up_proj (rows)    loss on down_proj's output
// search s over the ratios r = k/20, k = 0..19 (1.0 is not tried): v2 s = max(x_mean^r, 1e-4), v1 ("duo scaling")
// s = max(x_mean^r / w_mean^(1-r), 1e-4), then s /= sqrt(max(s) min(s)); candidate loss = fp32 MSE of the inspected
// module on Q_a(x / s) with every subset weight replaced by Q_w(W * s) (LLMC's form). The best s is folded: prev ÷ s,
// subset columns × s, cached inputs ÷ s. Then (weight_clip) the clip search (awq_clip.h) on every linear but q/k, and
// finally every block linear is fake-quantized.
//
// Decisions, numbered as the pitfalls in docs/pitfalls.md:
//   #5  with several calibration batches the candidate loss is the sample-weighted sum over ALL batches before the
//       comparison, and x_mean is taken over all tokens (LLMC compares inside its chunk loop); with one batch
//       (calib.bs: -1, the AWQ configs) both are identical.
//   #6  v1 keeps LLMC's formula (no epsilon in the denominator); a candidate whose s is not finite (0/0 from an
//       all-zero weight group) is skipped instead of propagating NaN. Zero groups get w_mean 0 (not NaN).
//   #7/#8 clip_sym defaults to the weight quantizer's symmetry (LLMC); the presets set it explicitly:
//       configs/quantization/methods/Awq/awq_w_only_academic.yml (clip_sym: True = llm-awq) and awq_w_only_llmc.yml.
//   #9  v->o under GQA is skipped as in both references; do_gqa_trans is not supported (clear error).
//
// Numerical guards (each recorded as a run event, table events in the store; the run continues):
//   awq_scale_search_nonfinite  every candidate loss of a subset's scale search is NaN/inf (non-finite inputs or
//                               outputs): the subset is not scaled (s = 1, nothing folded), as if trans were off for it.
//   awq_clip_search_nonfinite   some (row, group) ranges of a linear had no finite clip error for any ratio: those
//                               ranges keep ratio 1 (no clipping); the others use what the search found.
#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <functional>
#include <map>
#include <optional>

#include "core/error.h"
#include "core/fake_quant.h"
#include "core/fault_injection.h"
#include "methods/awq_clip.h"
#include "methods/awq_search_cache.h"
#include "methods/method.h"
#include "model/safetensors.h"

namespace ptq {

namespace {

struct AwqOptions {
  bool trans = true;
  std::string trans_version = "v2";
  bool weight_clip = false;
  std::string clip_version = "v1";
  std::optional<bool> clip_sym;  // unset: follows the weight quantizer
  bool do_gqa_trans = false;
  bool save_scale = false;       // write scales.safetensors to scale_path at the end (LLMC save_scale)
  std::string scale_path;
  bool save_clip = false;        // write clips.safetensors to clip_path at the end (LLMC save_clip)
  std::string clip_path;
  std::optional<int64_t> awq_bs;  // LLMC's sub-batch size: memory only
  bool save_mem = true;            // LLMC memory option: no effect here
  bool quantize_weights = true;  // false: leave the transformed fp weights (LLMC's `transformed` eval position)
  bool batched_search = true;    // evaluate the 20 ratios in batched passes (false: one ratio at a time, the reference)
};

const OptionTable<AwqOptions>& options() {
  using O = AwqOptions;
  static const OptionTable<AwqOptions> t(
      "awq",
      {{"trans", &O::trans, "search and fold the per-channel scales (false: clip only)"},
       {"trans_version", &O::trans_version, "v2: s = x_mean^r; v1: s = x_mean^r / w_mean^(1-r) (duo scaling)",
        one_of({"v1", "v2"})},
       {"weight_clip", &O::weight_clip, "search per-(row, group) clipping ratios (every shipped config sets true)"},
       {"clip_version", &O::clip_version, "v1: clamp the weight; v2: keep it and quantize with clip factors",
        one_of({"v1", "v2"})},
       {"clip_sym", &O::clip_sym,
        "symmetric clip [-r max|W|, r max|W|] (llm-awq); null: follow weight.symmetric (LLMC)"},
       {"do_gqa_trans", &O::do_gqa_trans, "scale v->o under grouped-query attention (not supported)",
        unsupported("the v->o pair is skipped under GQA, as in both references")},
       {"save_scale", &O::save_scale, "write every searched scale to scale_path/scales.safetensors"},
       {"scale_path", &O::scale_path, "folder for scales.safetensors"},
       {"save_clip", &O::save_clip, "write every clip factor to clip_path/clips.safetensors"},
       {"clip_path", &O::clip_path, "folder for clips.safetensors"},
       {"awq_bs", &O::awq_bs, "LLMC sub-batch size for the search (memory only; ptq uses the calibration batches)"},
       {"save_mem", &O::save_mem, "LLMC memory option (no effect)"},
       {"quantize_weights", &O::quantize_weights,
        "false: keep the transformed fp weights (evaluate the transform alone)"},
       {"batched_search", &O::batched_search, "evaluate the 20 ratios in batched passes (false: one at a time)"}},
      [](const O& o) {
        PTQ_CHECK(!o.save_scale || !o.scale_path.empty(), "method 'awq': save_scale needs scale_path");
        PTQ_CHECK(!o.save_clip || !o.clip_path.empty(), "method 'awq': save_clip needs clip_path");
        PTQ_CHECK(!o.save_clip || o.weight_clip, "method 'awq': save_clip needs weight_clip: True");
      });
  return t;
}

// x: [R, B, T, in] (one input per ratio), w: [R, out, in], bias [out] or undefined -> [R, B, T, out].
at::Tensor batched_linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& bias) {
  const int64_t R = x.size(0), B = x.size(1), T = x.size(2);
  at::Tensor y = at::bmm(x.reshape({R, B * T, x.size(3)}), w.transpose(1, 2)).view({R, B, T, w.size(1)});
  return bias.defined() ? y + bias : y;
}

// A subset's inspected module evaluated for R ratios at once: x [R, B, T, in], one stacked weight [R, out, in] per
// subset layer (in the order the subset lists them) -> [R, B, T, out].
using BatchedInspected = std::function<at::Tensor(const at::Tensor&, const std::vector<at::Tensor>&)>;

// Mean over rows of |W| / max|W| within each range of the weight quantizer's view (LLMC awq.py w_mean), [in].
at::Tensor weight_statistic(const at::Tensor& w, const QuantSpec& spec) {
  at::Tensor a = w.abs().to(at::kFloat);
  at::Tensor normed = at::empty_like(a);
  const int64_t in = a.size(1);
  const int64_t G = spec.granularity == Granularity::kPerGroup ? spec.group_size : in;
  for (int64_t g0 = 0; g0 < in; g0 += G) {
    const int64_t len = std::min(G, in - g0);
    at::Tensor s = a.narrow(1, g0, len);
    at::Tensor m = spec.granularity == Granularity::kPerTensor ? a.max().reshape({1, 1}) : s.amax(1, true);
    normed.narrow(1, g0, len).copy_(at::where(m > 0, s / m, at::zeros_like(s)));
  }
  return normed.mean(0);
}

class Awq : public MethodWithOptions<AwqOptions> {
 public:
  using MethodWithOptions::MethodWithOptions;

  // Artifacts for the AWQ -> OmniQuant combination and for inspection (safetensors; LLMC writes .pth pickles):
  // scales.safetensors  "model.layers.<i>.<linear>": s [in] multiplied into that linear's columns
  // clips.safetensors   "model.layers.<i>.<linear>.up" / ".low": clip factors in the weight quantizer's range shape
  void finish() override {
    // "kind" lets the reader (OmniQuant's search_scale_init / load_clip) refuse a file of the other kind.
    auto write = [](const std::string& dir, const char* file, const char* kind, const auto& tensors) {
      namespace fs = std::filesystem;
      fs::create_directories(dir);
      const fs::path p = fs::path(dir) / file;
      PTQ_CHECK(!fs::exists(p), "{}: already exists (ptq never overwrites results)", p.string());
      write_safetensors(p.string(), tensors, {{"producer", "ptq awq"}, {"kind", kind}});
    };
    if (opt_.save_scale) write(opt_.scale_path, "scales.safetensors", "awq_scales", saved_scales_);
    if (opt_.save_clip) write(opt_.clip_path, "clips.safetensors", "awq_clips", saved_clips_);
  }

  void apply_block(BlockContext& ctx) override {
    at::NoGradGuard no_grad;
    DecoderLayer& block = ctx.block();
    auto& attn = block->self_attn;
    auto& mlp = block->mlp;
    const QuantSpec& wspec = ctx.scheme().weight;

    // Inputs of the four subset entry points, per calibration batch: [B, T, in].
    std::map<std::string, std::vector<at::Tensor>> cache;
    ctx.forward_observing({"self_attn.q_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.down_proj"},
                          [&](const std::string& n, const at::Tensor& x) { cache[n].push_back(x.clone()); });
    if (fault_injected("awq_nan_input", ctx.index()))  // tests: the searches see a NaN and an inf (fault_injection.h)
      for (auto& [n, xs] : cache) {
        xs.front()[0][0][0] = std::numeric_limits<float>::quiet_NaN();
        xs.front()[0][0][1] = std::numeric_limits<float>::infinity();
      }

    nlohmann::json chosen = nlohmann::json::object();
    if (opt_.trans) {
      const RopeTables& rope = ctx.rope();
      // A stored search of this very block under these settings (ptq.search_cache, methods/awq_search_cache.h)
      // replaces the searches; otherwise they run and their result is stored, unless a guard fired.
      const std::string& cache_dir = ctx.search_cache();
      std::string key;
      std::optional<AwqSearchEntry> hit;
      if (!cache_dir.empty()) {
        key = awq_search_key(ctx, {{"method", "awq"}, {"trans_version", opt_.trans_version},
                                   {"batched_search", opt_.batched_search}});
        hit = awq_search_load(cache_dir, key);
      }
      AwqSearchEntry fresh;
      const size_t events_before = ctx.events().size();
      nlohmann::json& losses = ctx.notes()["awq_search_losses"];
      if (losses.is_null()) losses = nlohmann::json::array();
      const size_t losses_before = losses.size();
      auto find = [&](const char* subset, const std::function<Scale()>& run) -> Scale {
        if (hit) {
          PTQ_CHECK(hit->scales.count(subset) && hit->ratios.contains(subset),
                    "{}: AWQ search cache entry {} has no subset '{}'", cache_dir, key, subset);
          return {hit->scales.at(subset).to(ctx.inputs().front().device()), hit->ratios.at(subset).get<double>()};
        }
        Scale s = run();
        fresh.scales[subset] = s.first.cpu();
        fresh.ratios[subset] = s.second;
        return s;
      };
      // 1: input_layernorm -> q, k, v; loss on self_attn.
      {
        auto s = find("qkv", [&] { return search(ctx, cache.at("self_attn.q_proj"), {attn->q_proj, attn->k_proj, attn->v_proj},
                        {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"},
                        [&](const at::Tensor& x) { return attn->forward(x, rope); },
                        [&](const at::Tensor& x, const std::vector<at::Tensor>& w) {
                          const int64_t R = x.size(0), B = x.size(1), T = x.size(2);
                          auto flat = [&](const at::Tensor& y) { return y.reshape({R * B, T, y.size(3)}); };
                          at::Tensor out = attn->attend(flat(batched_linear(x, w[0], attn->q_proj->bias)),
                                                        flat(batched_linear(x, w[1], attn->k_proj->bias)),
                                                        flat(batched_linear(x, w[2], attn->v_proj->bias)), rope);
                          return out.view({R, B, T, out.size(2)});
                        }); });
        fold_into_norm(block->input_layernorm->weight, s, {attn->q_proj, attn->k_proj, attn->v_proj});
        divide(cache.at("self_attn.q_proj"), s);
        chosen["qkv"] = s.second;
        keep_scale(ctx.index(), {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"}, s.first);
      }
      // 2: v_proj -> o_proj, only when the shapes line up (no GQA).
      const int64_t v_out = attn->v_proj->weight.size(0), o_in = attn->o_proj->weight.size(1);
      if (v_out == o_in) {
        auto s = find("o", [&] { return search(ctx, cache.at("self_attn.o_proj"), {attn->o_proj}, {"self_attn.o_proj"},
                        [&](const at::Tensor& x) { return attn->o_proj(x); },
                        [&](const at::Tensor& x, const std::vector<at::Tensor>& w) {
                          return batched_linear(x, w[0], attn->o_proj->bias);
                        }); });
        fold_into_linear(attn->v_proj, s, {attn->o_proj});
        divide(cache.at("self_attn.o_proj"), s);
        chosen["o"] = s.second;
        keep_scale(ctx.index(), {"self_attn.o_proj"}, s.first);
      } else {
        chosen["o"] = fmt::format("skipped: v_proj has {} rows, o_proj {} columns (grouped-query attention)", v_out,
                                  o_in);
      }
      // 3: post_attention_layernorm -> gate, up; loss on mlp.
      {
        auto s = find("gate_up", [&] { return search(ctx, cache.at("mlp.gate_proj"), {mlp->gate_proj, mlp->up_proj},
                        {"mlp.gate_proj", "mlp.up_proj"},
                        [&](const at::Tensor& x) { return mlp->forward(x); },
                        [&](const at::Tensor& x, const std::vector<at::Tensor>& w) {
                          return mlp->down_proj(at::silu(batched_linear(x, w[0], mlp->gate_proj->bias)) *
                                                batched_linear(x, w[1], mlp->up_proj->bias));
                        }); });
        fold_into_norm(block->post_attention_layernorm->weight, s, {mlp->gate_proj, mlp->up_proj});
        divide(cache.at("mlp.gate_proj"), s);
        chosen["gate_up"] = s.second;
        keep_scale(ctx.index(), {"mlp.gate_proj", "mlp.up_proj"}, s.first);
      }
      // 4: up_proj -> down_proj.
      {
        auto s = find("down", [&] { return search(ctx, cache.at("mlp.down_proj"), {mlp->down_proj}, {"mlp.down_proj"},
                        [&](const at::Tensor& x) { return mlp->down_proj(x); },
                        [&](const at::Tensor& x, const std::vector<at::Tensor>& w) {
                          return batched_linear(x, w[0], mlp->down_proj->bias);
                        }); });
        fold_into_linear(mlp->up_proj, s, {mlp->down_proj});
        divide(cache.at("mlp.down_proj"), s);
        chosen["down"] = s.second;
        keep_scale(ctx.index(), {"mlp.down_proj"}, s.first);
      }
      if (hit) {
        for (const auto& l : hit->losses) ctx.notes()["awq_search_losses"].push_back(l);
      } else if (!cache_dir.empty() && ctx.events().size() == events_before) {
        const nlohmann::json& all = ctx.notes()["awq_search_losses"];
        fresh.losses = nlohmann::json(
            std::vector<nlohmann::json>(all.begin() + static_cast<std::ptrdiff_t>(losses_before), all.end()));
        awq_search_store(cache_dir, key, fresh);
      }
      if (!cache_dir.empty()) ctx.notes()["awq_search_cache"] = hit ? "hit" : "miss";
    }

    // Clip factors per linear (1 = no clipping), range shape of the weight quantizer.
    std::map<std::string, ClipFactors> clips;
    if (opt_.weight_clip) {
      const bool sym = opt_.clip_sym.value_or(wspec.symmetric);
      const std::map<std::string, std::string> input_of = {{"self_attn.v_proj", "self_attn.q_proj"},
                                                           {"self_attn.o_proj", "self_attn.o_proj"},
                                                           {"mlp.gate_proj", "mlp.gate_proj"},
                                                           {"mlp.up_proj", "mlp.gate_proj"},
                                                           {"mlp.down_proj", "mlp.down_proj"}};
      // q and k are never clipped (their product feeds the attention scores; both references skip them).
      for (auto& [name, l] : block->linears()) {
        if (!input_of.count(name)) continue;
        int64_t nonfinite = 0;
        clips[name] = awq_clip_search(l->weight, cache.at(input_of.at(name)), wspec, ctx.scheme().act, sym,
                                      cache.at(input_of.at(name)).front().size(1), &nonfinite);
        if (nonfinite > 0)
          ctx.event(name, "awq_clip_search_nonfinite", "clip ratio 1 (no clipping) for the affected ranges",
                    {{"ranges", nonfinite}, {"of", clips[name].up.numel()}});
        if (opt_.save_clip) {
          const std::string key = fmt::format("model.layers.{}.{}", ctx.index(), name);
          saved_clips_.emplace_back(key + ".up", clips[name].up.cpu());
          if (clips[name].low.defined()) saved_clips_.emplace_back(key + ".low", clips[name].low.cpu());
        }
      }
      nlohmann::json summary = nlohmann::json::object();
      for (auto& [name, c] : clips) {
        at::Tensor steps = c.up * 20;  // every factor must be one of 1.00, 0.95, ..., 0.55
        const bool on_grid = (steps - steps.round()).abs().max().item<double>() < 1e-4 &&
                             c.up.min().item<double>() >= 0.55 - 1e-6 && c.up.max().item<double>() <= 1.0 + 1e-6;
        summary[name] = {{"mean", c.up.mean().item<double>()}, {"min", c.up.min().item<double>()},
                         {"max", c.up.max().item<double>()}, {"on_grid", on_grid}};
      }
      ctx.notes()["awq_clip_ratio"] = summary;
    }
    if (!chosen.empty()) ctx.notes()["awq_best_ratio"] = chosen;

    // Errors are measured against the transformed fp weights (the inputs they see are transformed too).
    for (auto& [name, l] : block->linears()) ctx.set_reference_weight(name, l->weight.clone());
    if (!opt_.quantize_weights) return;

    // Deploy: every block linear fake-quantized (v1 clamps to the clipped range first, v2 quantizes with the factors).
    for (auto& [name, l] : block->linears()) {
      std::optional<ClipFactors> clip;
      if (auto it = clips.find(name); it != clips.end()) {
        if (opt_.clip_version == "v1") {
          awq_clamp_to(l->weight, it->second, wspec, opt_.clip_sym.value_or(wspec.symmetric));
        } else {
          clip = it->second;
        }
      }
      if (ctx.keep_codes()) {
        QuantizedTensor q = quantize(l->weight, wspec, clip);
        ctx.record(name, {q.codes.cpu(), q.scales.cpu(), q.zeros.cpu(), {}, {}, q.spec});
      }
      l->weight.copy_(fake_quantize(l->weight, wspec, clip));
    }
  }

 private:
  using Scale = std::pair<at::Tensor, double>;  // s [in] float32, and the chosen ratio

  // The scale search: the best s for `layers` whose (shared) input is `xs`; `inspected` maps that input to the loss
  // target.
  Scale search(BlockContext& ctx, const std::vector<at::Tensor>& xs, std::vector<Linear> layers,
               const std::vector<std::string>& names, const std::function<at::Tensor(const at::Tensor&)>& inspected,
               const BatchedInspected& batched) {
    const QuantSpec& wspec = ctx.scheme().weight;
    const auto& act = ctx.scheme().act;
    int64_t total = 0;
    at::Tensor abs_sum;
    std::vector<at::Tensor> refs;
    for (const auto& x : xs) {
      at::Tensor a = x.abs().to(at::kFloat).reshape({-1, x.size(-1)}).sum(0);
      abs_sum = abs_sum.defined() ? abs_sum + a : a;
      total += x.numel() / x.size(-1);
      refs.push_back(inspected(x).to(at::kFloat));
    }
    const at::Tensor x_mean = abs_sum / static_cast<double>(total);
    at::Tensor w_mean;
    if (opt_.trans_version == "v1") {
      for (auto& l : layers) {
        at::Tensor m = weight_statistic(l->weight, wspec);
        w_mean = w_mean.defined() ? w_mean + m : m;
      }
      w_mean = w_mean / static_cast<double>(layers.size());
    }
    std::vector<at::Tensor> originals;
    for (auto& l : layers) originals.push_back(l->weight.clone());

    // Candidate scales for the 20 ratios (undefined when non-finite: decision #6).
    std::vector<at::Tensor> cand(20);
    for (int k = 0; k < 20; ++k) {
      const double r = k / 20.0;
      at::Tensor s = opt_.trans_version == "v1" ? (x_mean.pow(r) / w_mean.pow(1 - r)).clamp_min(1e-4)
                                                : x_mean.pow(r).clamp_min(1e-4);
      cand[k] = s / (s.max() * s.min()).sqrt();
    }
    {  // finiteness of all 20 read back at once (one synchronisation on a GPU, not 20)
      const at::Tensor finite = at::isfinite(at::stack(cand)).all(1).cpu();
      for (int k = 0; k < 20; ++k)
        if (!finite[k].item<bool>()) cand[k] = at::Tensor();
    }
    std::vector<double> loss(20, std::numeric_limits<double>::infinity());
    auto frac = [&](const at::Tensor& x) {
      return static_cast<double>(x.numel()) / static_cast<double>(total * x.size(-1));
    };
    if (opt_.batched_search && wspec.granularity != Granularity::kPerTensor) {
      // Ratios in chunks sized to ~1 GiB: the quantized weight copies plus inputs, outputs and the inspected module's
      // intermediates, per ratio.
      int64_t width = 0, weights = 0;
      for (auto& l : layers) {
        width += l->weight.size(0);
        weights += l->weight.numel();
      }
      const int64_t per_ratio = 4 * (weights + total * (xs.front().size(-1) + 2 * width));
      const int64_t chunk = std::clamp<int64_t>((int64_t{1} << 30) / std::max<int64_t>(per_ratio, 1), 1, 20);
      std::vector<int> valid;
      for (int k = 0; k < 20; ++k)
        if (cand[k].defined()) valid.push_back(k);
      for (size_t c0 = 0; c0 < valid.size(); c0 += static_cast<size_t>(chunk)) {
        std::vector<at::Tensor> group;
        for (size_t i = c0; i < std::min(valid.size(), c0 + static_cast<size_t>(chunk)); ++i)
          group.push_back(cand[valid[i]]);
        at::Tensor S = at::stack(group);  // [R, in]
        std::vector<at::Tensor> wr;       // per layer [R, out, in]: Q_w(W · s_r), rows quantized independently
        for (auto& o : originals) wr.push_back(fake_quantize(o.unsqueeze(0) * S.unsqueeze(1).to(o.scalar_type()), wspec));
        at::Tensor acc = at::zeros({S.size(0)}, S.options().dtype(at::kDouble));  // on S's device (CUDA)
        for (size_t c = 0; c < xs.size(); ++c) {
          at::Tensor x_in = xs[c].unsqueeze(0) / S.view({S.size(0), 1, 1, S.size(1)}).to(xs[c].scalar_type());
          if (act) x_in = fake_quantize(x_in, *act);
          at::Tensor out = batched(x_in, wr).to(at::kFloat);
          acc += frac(xs[c]) * (out - refs[c].unsqueeze(0)).pow(2).mean({1, 2, 3}).to(at::kDouble);
        }
        const at::Tensor acc_host = acc.cpu();  // one copy per chunk of ratios
        for (int64_t i = 0; i < S.size(0); ++i) loss[valid[c0 + i]] = acc_host[i].item<double>();
      }
    } else {
      for (int k = 0; k < 20; ++k) {
        if (!cand[k].defined()) continue;
        for (size_t i = 0; i < layers.size(); ++i)
          layers[i]->weight.copy_(fake_quantize(originals[i] * cand[k].to(originals[i].scalar_type()), wspec));
        double l = 0;
        for (size_t c = 0; c < xs.size(); ++c) {
          at::Tensor x_in = xs[c] / cand[k].to(xs[c].scalar_type());
          if (act) x_in = fake_quantize(x_in, *act);
          l += frac(xs[c]) * (inspected(x_in).to(at::kFloat) - refs[c]).pow(2).mean().item<double>();
        }
        loss[k] = l;
      }
    }
    double best = std::numeric_limits<double>::infinity();
    Scale best_s{at::ones_like(x_mean), -1.0};
    for (int k = 0; k < 20; ++k)  // strict <: the lowest ratio wins ties, as the reference loop
      if (loss[k] < best) {
        best = loss[k];
        best_s = {cand[k], k / 20.0};
      }
    ctx.notes()["awq_search_losses"].push_back(loss);
    for (size_t i = 0; i < layers.size(); ++i) layers[i]->weight.copy_(originals[i]);
    if (best_s.second < 0) {  // no finite loss (guard, file comment): s = 1, the subset stays unscaled
      int64_t bad_inputs = 0;
      for (const auto& x : xs) bad_inputs += (~at::isfinite(x)).sum().item<int64_t>();
      ctx.event(names.front(), "awq_scale_search_nonfinite",
                "scale 1 (no scaling) for " + fmt::format("{}", fmt::join(names, ", ")),
                {{"layers", names}, {"nonfinite_inputs", bad_inputs}});
      best_s = {at::ones_like(x_mean), std::numeric_limits<double>::quiet_NaN()};
    }
    return best_s;
  }

  // prev = norm weight [in]: ÷ s; layers' columns × s.
  static void fold_into_norm(at::Tensor& norm_weight, const Scale& s, std::vector<Linear> layers) {
    norm_weight.div_(s.first.to(norm_weight.scalar_type()));
    for (auto& l : layers) l->weight.mul_(s.first.to(l->weight.scalar_type()));
  }

  // prev = a linear whose output rows feed the layers: rows (and bias) ÷ s; layers' columns × s.
  static void fold_into_linear(Linear& prev, const Scale& s, std::vector<Linear> layers) {
    prev->weight.div_(s.first.to(prev->weight.scalar_type()).unsqueeze(1));
    if (prev->bias.defined()) prev->bias.div_(s.first.to(prev->bias.scalar_type()));
    for (auto& l : layers) l->weight.mul_(s.first.to(l->weight.scalar_type()));
  }

  static void divide(std::vector<at::Tensor>& xs, const Scale& s) {
    for (auto& x : xs) x.div_(s.first.to(x.scalar_type()));
  }

  void keep_scale(int64_t block, std::initializer_list<const char*> layers, const at::Tensor& s) {
    if (!opt_.save_scale) return;
    for (const char* l : layers) saved_scales_.emplace_back(fmt::format("model.layers.{}.{}", block, l), s.cpu());
  }

  std::vector<std::pair<std::string, at::Tensor>> saved_scales_, saved_clips_;
};

}  // namespace

MethodInfo awq_method() {
  return method_info<Awq>(
      "awq", "AWQ: activation-aware per-channel scaling and weight clipping (Lin et al. 2024; LLMC variants)", true,
      false, {"Awq", "AWQ"}, options());
}

}  // namespace ptq
