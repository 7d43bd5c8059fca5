// AWQ (Lin et al. 2024; docs/methods/awq.md; LLMC awq.py and auto_clip.py) on the block-wise pipeline.
//
// Per block, for each subset of model/block_layout.h in order (Llama, LLMC's subsets):
//   qkv     {q,k,v}   prev input_layernorm           loss on self_attn's output
//   o       {o}       prev v_proj (rows)             loss on o_proj's output; only when v_proj's rows are o_proj's
//                                                    columns, so grouped-query attention skips it (as both references)
//   gate_up {gate,up} prev post_attention_layernorm  loss on mlp's output
//   down    {down}    prev up_proj (rows)            loss on down_proj's output
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
#include "model/block_layout.h"
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
    const BlockLayout& layout = block_layout(block);
    const QuantSpec& wspec = ctx.scheme().weight;

    // Inputs of every subset, per calibration batch: [B, T, in], keyed by the linear that reads them first.
    std::map<std::string, std::vector<at::Tensor>> cache;
    std::vector<std::string> entries;
    for (const auto& sub : layout.subsets) entries.push_back(sub.input_of());
    ctx.forward_observing(entries, [&](const std::string& n, const at::Tensor& x) { cache[n].push_back(x.clone()); });
    if (fault_injected("awq_nan_input", ctx.index()))  // tests: the searches see a NaN and an inf (fault_injection.h)
      for (auto& [n, xs] : cache) {
        xs.front()[0][0][0] = std::numeric_limits<float>::quiet_NaN();
        xs.front()[0][0][1] = std::numeric_limits<float>::infinity();
      }

    nlohmann::json chosen = nlohmann::json::object();
    if (opt_.trans) {
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
      // Each subset in forward order: search s on its cached input, fold it (prev ÷ s, columns × s), divide the
      // cached input by s so the later clip search sees what the transformed block sees.
      for (const auto& sub : layout.subsets) {
        std::string why;
        if (!can_fold(block, sub, &why)) {
          chosen[sub.name] = why;
          continue;
        }
        std::vector<at::Tensor>& xs = cache.at(sub.input_of());
        Scale s;
        if (hit) {
          PTQ_CHECK(hit->scales.count(sub.name) && hit->ratios.contains(sub.name),
                    "{}: AWQ search cache entry {} has no subset '{}'", cache_dir, key, sub.name);
          s = {hit->scales.at(sub.name).to(ctx.inputs().front().device()), hit->ratios.at(sub.name).get<double>()};
        } else {
          s = search(ctx, sub, xs);
          fresh.scales[sub.name] = s.first.cpu();
          fresh.ratios[sub.name] = s.second;
        }
        fold_scale(block, sub, s.first);
        for (auto& x : xs) x.div_(s.first.to(x.scalar_type()));
        chosen[sub.name] = s.second;
        if (opt_.save_scale)
          for (const auto& l : sub.linears)
            saved_scales_.emplace_back(fmt::format("model.layers.{}.{}", ctx.index(), l), s.first.cpu());
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
      // The attention-score linears (q, k) are never clipped: both references skip them.
      for (const auto& sub : layout.subsets) {
        const std::vector<at::Tensor>& xs = cache.at(sub.input_of());
        for (const auto& name : sub.linears) {
          if (std::count(layout.score_linears.begin(), layout.score_linears.end(), name)) continue;
          int64_t nonfinite = 0;
          clips[name] = awq_clip_search(block->linear(name)->weight, xs, wspec, ctx.scheme().act, sym,
                                        xs.front().size(1), &nonfinite);
          if (nonfinite > 0)
            ctx.event(name, "awq_clip_search_nonfinite", "clip ratio 1 (no clipping) for the affected ranges",
                      {{"ranges", nonfinite}, {"of", clips[name].up.numel()}});
          if (opt_.save_clip) {
            const std::string key = fmt::format("model.layers.{}.{}", ctx.index(), name);
            saved_clips_.emplace_back(key + ".up", clips[name].up.cpu());
            if (clips[name].low.defined()) saved_clips_.emplace_back(key + ".low", clips[name].low.cpu());
          }
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

    // Deploy: every block linear quantized (v1 clamps to the clipped range first, v2 quantizes with the factors).
    for (auto& [name, l] : block->linears()) {
      std::optional<ClipFactors> clip;
      if (auto it = clips.find(name); it != clips.end()) {
        if (opt_.clip_version == "v1") {
          awq_clamp_to(l->weight, it->second, wspec, opt_.clip_sym.value_or(wspec.symmetric));
        } else {
          clip = it->second;
        }
      }
      ctx.quantize(name, clip);
    }
  }

 private:
  using Scale = std::pair<at::Tensor, double>;  // s [in] float32, and the chosen ratio

  // The scale search of one subset: the best s [in] for its linears, whose shared input is `xs` (per calibration
  // batch [B, T, in]); the loss compares the subset's inspected module (model/block_layout.h).
  Scale search(BlockContext& ctx, const BlockSubset& sub, const std::vector<at::Tensor>& xs) {
    DecoderLayer& block = ctx.block();
    const RopeTables& rope = ctx.rope();
    std::vector<Linear> layers;
    for (const auto& n : sub.linears) layers.push_back(block->linear(n));
    const std::vector<std::string>& names = sub.linears;
    const QuantSpec& wspec = ctx.scheme().weight;
    const auto& act = ctx.scheme().act;
    int64_t total = 0;
    at::Tensor abs_sum;
    std::vector<at::Tensor> refs;
    for (const auto& x : xs) {
      at::Tensor a = x.abs().to(at::kFloat).reshape({-1, x.size(-1)}).sum(0);
      abs_sum = abs_sum.defined() ? abs_sum + a : a;
      total += x.numel() / x.size(-1);
      refs.push_back(inspected_forward(block, sub, x, rope).to(at::kFloat));
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
          at::Tensor out = inspected_forward_with(block, sub, x_in, wr, rope).to(at::kFloat);
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
          const at::Tensor out = inspected_forward(block, sub, x_in, rope).to(at::kFloat);
          l += frac(xs[c]) * (out - refs[c]).pow(2).mean().item<double>();
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

  std::vector<std::pair<std::string, at::Tensor>> saved_scales_, saved_clips_;
};

}  // namespace

MethodInfo awq_method() {
  return method_info<Awq>(
      "awq", "AWQ: activation-aware per-channel scaling and weight clipping (Lin et al. 2024; LLMC variants)", true,
      false, {"Awq", "AWQ"}, options());
}

}  // namespace ptq
