// OmniQuant (Shao et al. 2024; docs/methods/omniquant.md; LLMC omniq.py, OpenGVLab/OmniQuant omniquant.py) on the
// block-wise pipeline: per decoder block, learn
//   LWC  learnable weight clipping: one logit per quantization range (`up`, and `low` for an asymmetric grid), the
//        range becomes [σ(low)·min, σ(up)·max] (sym: σ(up)·absmax); init 4.0 (σ ≈ 0.982) or the AWQ clip
//        ratio (awq_clip.h)
//   LET  learnable equivalent transformation (weight-activation schemes only): channel-wise scales that move
//        activation outliers into the weights, for input_layernorm -> {q,k,v}, v -> o (no GQA), post_attention_layernorm
//        -> {gate,up}, up -> down (smooth_up_down) and q/k (same shapes); init max(act^α / w^(1-α), 1e-5) or AWQ's
//        saved scales
// by AdamW on the MSE between the block's output with fake-quantized (straight-through) weights and the
// full-precision target, then fold LET into the weights and fake-quantize them with the learned clipping.
//
// Targets: block 0: fp_block(x); later blocks: fp_block(t_prev), a separate full-precision path this method
// carries from block to block; aug_loss adds mse(fp_block(x_q), out). The training input is the pipeline's block
// input (the quantized path when quant_out: True, as LLMC requires).
//
// Decisions, numbered as the pitfalls in docs/pitfalls.md (recorded in params()):
//   #13 the fp target path is kept by the method itself, so quant_out: False cannot make block 0 train against
//       block(block(x)); it then trains on the fp inputs.
//   #14 the training forward is the model's own block forward (RoPE tables included).
//   #15 targets are computed in the block's dtype without autocast; a non-finite loss stops training, is recorded,
//       and the parameters fall back to the end of the epoch with the lowest mean loss (the initial ones if none);
//       a block whose final loss is above its initial loss (diverged, e.g. a learning rate far too large) falls back
//       the same way. Both are recorded as run events (omniquant_nonfinite_loss, omniquant_diverged).
//   #16 let_weight_max: "abs" (original OmniQuant, default) or "signed" (LLMC).
//   #17 smooth_up_down scales up_proj's rows and down_proj's columns consistently (the LLMC path is broken).
//   #18 clip_init_eps: 0 keeps logit(1) = +inf for unclipped groups (faithful: they stay unclipped); > 0 clamps the
//       initial ratio to 1 - eps so those groups can learn.
//   #19 the clips/scales written by AWQ (save_clip/save_scale) are read with the keys AWQ writes and their "kind"
//       metadata checked, so swapped paths are an error, not a KeyError or silent misuse.
//   #20 the q/k scale is shared by the two elements of every rotary pair, which makes the transformation exact under
//       RoPE (the reference's free per-channel scale is not). With only linear inputs quantized (LLMC's default) it
//       gets almost no gradient: scaling q_proj's and k_proj's rows commutes with their per-row weight ranges.
#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>
#include <torch/optim/adamw.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <set>

#include "core/error.h"
#include "core/fake_quant.h"
#include "core/fake_quant_ste.h"
#include "methods/awq_clip.h"
#include "methods/method.h"
#include "model/block_layout.h"
#include "model/safetensors.h"

namespace ptq {

namespace {

// Scalars (each a 0-dim tensor on any device, any floating dtype) as doubles, with one device-to-host copy.
std::vector<double> host_values(const std::vector<at::Tensor>& scalars) {
  if (scalars.empty()) return {};
  const at::Tensor h = at::stack(scalars).to(at::kCPU, at::kDouble).contiguous();
  return std::vector<double>(h.data_ptr<double>(), h.data_ptr<double>() + h.numel());
}

struct OmniOptions {
  bool lwc = true, let = false;
  double lwc_lr = 1e-2, let_lr = 5e-3, wd = 0, alpha = 0.5;
  int64_t epochs = 20;
  bool aug_loss = false, deactive_amp = true, use_shift = false;
  bool search_clip_init = false, load_clip = false, search_scale_init = false, smooth_up_down = false;
  std::string clip_path, scale_path;
  std::optional<bool> clip_sym;
  double lwc_init = 4.0;
  std::string let_weight_max = "abs";
  double clip_init_eps = 0.0;
};

const OptionTable<OmniOptions>& options() {
  using O = OmniOptions;
  static const OptionTable<OmniOptions> t(
      "omniquant",
      {{"lwc", &O::lwc, "learnable weight clipping: one logit per quantization range and end"},
       {"let", &O::let, "learnable equivalent transformation (weight-activation schemes only)"},
       {"lwc_lr", &O::lwc_lr, "AdamW learning rate of the LWC logits", above(0.0)},
       {"let_lr", &O::let_lr, "AdamW learning rate of the LET scales", above(0.0)},
       {"wd", &O::wd, "AdamW weight decay (both groups)", at_least(0.0)},
       {"alpha", &O::alpha, "LET init: s = max(act^alpha / w^(1-alpha), 1e-5)", in_range(0.0, 1.0)},
       {"epochs", &O::epochs, "passes over the calibration batches per block (one step per batch)",
        at_least<int64_t>(0)},
       {"aug_loss", &O::aug_loss, "add mse(fp_block(x_q), out) to the loss (LLMC: true for 2 bit)"},
       {"deactive_amp", &O::deactive_amp, "false: bf16 autocast for the training forward on CUDA (no effect on the CPU)"},
       {"use_shift", &O::use_shift, "LET channel shift (not supported for Llama: RMSNorm has no bias)",
        unsupported("Llama's RMSNorm has no bias to absorb the shift; the reference disables it for Llama and for "
                    "weight-only")},
       {"search_clip_init", &O::search_clip_init,
        "initialise LWC with logit(r) of AWQ's clip ratios r; q/k get no LWC"},
       {"load_clip", &O::load_clip, "with search_clip_init: read clip_path/clips.safetensors (AWQ save_clip)"},
       {"clip_path", &O::clip_path, "folder of clips.safetensors"},
       {"search_scale_init", &O::search_scale_init,
        "initialise LET with AWQ's scales from scale_path/scales.safetensors"},
       {"scale_path", &O::scale_path, "folder of scales.safetensors (AWQ save_scale)"},
       {"smooth_up_down", &O::smooth_up_down, "also transform up_proj -> down_proj"},
       {"clip_sym", &O::clip_sym, "must equal weight.symmetric (LWC follows the quantizer)"},
       {"lwc_init", &O::lwc_init, "initial LWC logit without search_clip_init (sigmoid(4) = 0.982)"},
       {"let_weight_max", &O::let_weight_max,
        "LET init weight statistic: abs (original OmniQuant) or signed (LLMC)", one_of({"abs", "signed"})},
       {"clip_init_eps", &O::clip_init_eps,
        "clamp initial AWQ ratios to 1 - eps (0: ratio 1 stays at logit +inf, unclipped)", in_range(0.0, 0.5, true)}},
      [](const O& o) {
        PTQ_CHECK(!o.load_clip || o.search_clip_init, "method 'omniquant': load_clip needs search_clip_init: True");
        PTQ_CHECK(!o.search_scale_init || o.let,
                  "method 'omniquant': search_scale_init initialises LET: set let: True");
        PTQ_CHECK(!o.search_clip_init || o.lwc, "method 'omniquant': search_clip_init initialises LWC: set lwc: True");
        PTQ_CHECK(!o.search_clip_init || o.load_clip || !o.let,
                  "method 'omniquant': search_clip_init without load_clip runs AWQ's clip search on the "
                  "untransformed weights, which LET then changes; with let: True load the clips AWQ saved "
                  "(load_clip, clip_path), as LLMC's w8a8 combination does");
        PTQ_CHECK(!o.smooth_up_down || o.let, "method 'omniquant': smooth_up_down needs let: True");
      });
  return t;
}

// Puts temporary tensors into module slots (Linear::weight, RMSNorm::weight, ...) and restores the originals when
// it goes out of scope, so a training forward can run the model's own block code on differentiable weights.
class SlotSwap {
 public:
  using Transform = std::function<at::Tensor(const at::Tensor&)>;
  SlotSwap() = default;
  SlotSwap(const SlotSwap&) = delete;
  SlotSwap& operator=(const SlotSwap&) = delete;
  ~SlotSwap() {
    for (auto it = tensors_.rbegin(); it != tensors_.rend(); ++it) *it->first = std::move(it->second);
    for (auto it = transforms_.rbegin(); it != transforms_.rend(); ++it) *it->first = std::move(it->second);
  }
  void set(at::Tensor& slot, at::Tensor value) {
    tensors_.emplace_back(&slot, slot);
    slot = std::move(value);
  }
  void set(Transform& slot, Transform f) {
    transforms_.emplace_back(&slot, slot);
    slot = std::move(f);
  }

 private:
  std::vector<std::pair<at::Tensor*, at::Tensor>> tensors_;
  std::vector<std::pair<Transform*, Transform>> transforms_;
};

// |s| < 1e-2 -> ±1e-2 (LLMC truncation before every use of a LET scale), straight-through. s: float32 any shape.
at::Tensor truncate_scale(const at::Tensor& s) {
  at::Tensor t = at::where(s.abs() < 1e-2, at::where(s >= 0, at::full_like(s, 1e-2), at::full_like(s, -1e-2)), s);
  return s + (t - s).detach();
}

// logit(r) for clip ratios r in (0, 1]; with eps > 0, r is clamped to 1 - eps first (decision #18).
at::Tensor clip_logit(const at::Tensor& r, double eps) {
  at::Tensor c = eps > 0 ? r.clamp_max(1.0 - eps) : r;
  return at::log(c / (1.0 - c));  // r = 1 -> +inf
}

// The block's parameters the training rebuilds from at every step (float32 copies of the originals).
struct BlockWeights {
  std::map<std::string, at::Tensor> w, b;  // by block-relative linear name; b undefined when the linear has no bias
  std::map<std::string, at::Tensor> norm;  // weights of the norms that feed subsets, by block-relative name
};

// The reference keys each LET pair by one projection (OmniQuant's `pairs`: q_proj -> qkv, o_proj -> out, up_proj ->
// fc1, plus down_proj -> down): that linear's max|W| enters the init, and AWQ's saved scale is read under its name.
// Per block subset (model/block_layout.h): the reference's name of the pair and which of the subset's linears that is.
struct LetPair {
  const char* name;
  size_t weight_of;
};
const std::map<std::string, LetPair>& let_pairs() {
  static const std::map<std::string, LetPair> m = {
      {"qkv", {"qkv", 0}}, {"o", {"out", 0}}, {"gate_up", {"fc1", 1}}, {"down", {"down", 0}}};
  return m;
}

struct LetScales {
  std::vector<std::pair<const BlockSubset*, at::Tensor>> pairs;  // transformed subsets in block order, s [in]
  at::Tensor qk;  // [heads, head_dim / 2], undefined when q/k are not transformed
  std::vector<at::Tensor> params() const {
    std::vector<at::Tensor> p;
    for (const auto& [sub, t] : pairs) p.push_back(t);
    if (qk.defined()) p.push_back(qk);
    return p;
  }
};

class OmniQuant : public MethodWithOptions<OmniOptions> {
 public:
  using MethodWithOptions::MethodWithOptions;

  nlohmann::json params() const override {
    nlohmann::json j = MethodWithOptions::params();
    j["optimizer"] = "AdamW(betas 0.9/0.999, eps 1e-8), one step per calibration batch";
    j["ste"] = true;
    return j;
  }

  // Per block: init (fp targets, LWC and LET parameters), train (AdamW epochs, stop on a non-finite loss), guard
  // (no deployment of a diverged block) and deploy (fold LET, quantize with the learned clips).
  void apply_block(BlockContext& ctx) override {
    check_scheme(ctx.scheme());
    BlockState st = init(ctx);
    train(ctx, st);
    guard(ctx, st);
    deploy(ctx, st);
  }

 private:
  // What one block's four steps share.
  struct BlockState {
    std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
    std::vector<at::Tensor> targets;      // float32 [B, T, hidden] per batch: the fp block's output on the fp path
    std::vector<at::Tensor> aug_targets;  // float32, the fp block on the quantized path (aug_loss only)
    std::map<std::string, std::pair<at::Tensor, at::Tensor>> lwc;  // name -> (up, low) logits, float32
    std::vector<at::Tensor> lwc_params, let_params;
    LetScales let;
    BlockWeights orig;  // float32 copies of the weights the training rebuilds from
    bool amp = false;
    nlohmann::json note = nlohmann::json::object();
    std::vector<double> epoch_loss;  // mean training loss of each epoch (parameters changing within it)
    double loss_init = 0, loss_final = 0;
    double best_loss = std::numeric_limits<double>::infinity();
    std::vector<at::Tensor> initial, best;  // parameter snapshots: before training, end of the best epoch
    bool trainable = false;

    std::vector<at::Tensor> params() const {
      std::vector<at::Tensor> all = lwc_params;
      all.insert(all.end(), let_params.begin(), let_params.end());
      return all;
    }
    std::vector<at::Tensor> snapshot() const {
      std::vector<at::Tensor> s;
      for (auto& p : params()) s.push_back(p.detach().clone());
      return s;
    }
    void restore(const std::vector<at::Tensor>& from) {
      at::NoGradGuard no_grad;
      auto all = params();
      for (size_t k = 0; k < all.size(); ++k) all[k].copy_(from[k]);
    }
  };

  void check_scheme(const QuantScheme& scheme) const {
    PTQ_CHECK(!opt_.clip_sym || *opt_.clip_sym == scheme.weight.symmetric,
              "omniquant: clip_sym: {} differs from weight.symmetric: {}; LWC's clipping follows the quantizer's grid "
              "(sym: one factor on absmax, asym: one per end), so the AWQ clip ratios it starts from must too",
              *opt_.clip_sym, scheme.weight.symmetric);
    PTQ_CHECK(!opt_.let || scheme.act,
              "omniquant: let: True is for weight-activation schemes (w8a8, w4a4, ...); scheme {} quantizes weights "
              "only (every weight-only reference config sets let: False)",
              scheme.name());
  }

  // init: the fp targets and the per-channel input maxima LET's init needs (one pass over the fp path, no
  // gradients), the LWC logits (AWQ's clips or lwc_init), the LET scales and the original weights.
  BlockState init(BlockContext& ctx) {
    BlockState st;
    const QuantSpec& wspec = ctx.scheme().weight;
    DecoderLayer& block = ctx.block();
    const BlockLayout& layout = block_layout(block);
    auto& attn = block->self_attn;
    const RopeTables& rope = ctx.rope();
    const std::vector<at::Tensor>& xq = ctx.inputs();
    if (ctx.index() == 0) fp_inputs_.clear();
    const std::vector<at::Tensor> xfp = fp_inputs_.empty() ? xq : fp_inputs_;
    PTQ_ASSERT(xfp.size() == xq.size(), "omniquant: fp path has {} batches, quantized path {}", xfp.size(), xq.size());

    std::map<std::string, at::Tensor> act_max;
    {
      at::NoGradGuard no_grad;
      std::vector<Linear> hooked;
      for (const auto& sub : layout.subsets) {  // one hook per subset input
        Linear l = block->linear(sub.input_of());
        l->input_observer = [&act_max, n = sub.input_of()](const at::Tensor& x) {
          at::Tensor m = x.abs().reshape({-1, x.size(-1)}).amax(0).to(at::kFloat);
          act_max[n] = act_max.count(n) ? at::maximum(act_max[n], m) : m;
        };
        hooked.push_back(l);
      }
      try {
        for (const auto& x : xfp) st.targets.push_back(block->forward(x, rope));
      } catch (...) {
        for (auto& l : hooked) l->input_observer = nullptr;
        throw;
      }
      for (auto& l : hooked) l->input_observer = nullptr;
      if (opt_.aug_loss)
        for (const auto& x : xq) st.aug_targets.push_back(block->forward(x, rope).to(at::kFloat));
    }
    fp_inputs_ = st.targets;  // the next block's fp-path input
    for (auto& t : st.targets) t = t.to(at::kFloat);

    // LWC: initial clip ratios (AWQ search or loaded), linears without LWC.
    const bool sym = wspec.symmetric;
    std::map<std::string, ClipFactors> init_ratio;
    std::set<std::string> no_lwc;
    if (opt_.lwc && opt_.search_clip_init) {
      // LLMC: the attention-score linears (q, k) get no LWC when it is initialised from AWQ's clips (AWQ never clips
      // them).
      no_lwc.insert(layout.score_linears.begin(), layout.score_linears.end());
      init_ratio = opt_.load_clip ? load_clips(ctx) : search_clips(ctx);
    }
    if (opt_.lwc) {
      for (auto& [name, l] : block->linears()) {
        if (no_lwc.count(name)) continue;
        const auto shape = range_shape(wspec, l->weight.numel(), l->weight.size(1));
        const auto fopt = at::TensorOptions().dtype(at::kFloat).device(l->weight.device());
        at::Tensor up, low;
        if (auto it = init_ratio.find(name); it != init_ratio.end()) {
          up = clip_logit(it->second.up.to(fopt).reshape(shape), opt_.clip_init_eps);
          const at::Tensor& low_ratio = it->second.low.defined() ? it->second.low : it->second.up;
          if (!sym) low = clip_logit(low_ratio.to(fopt).reshape(shape), opt_.clip_init_eps);
        } else {
          up = at::full(shape, opt_.lwc_init, fopt);
          if (!sym) low = at::full(shape, opt_.lwc_init, fopt);
        }
        up.set_requires_grad(true);
        st.lwc_params.push_back(up);
        if (low.defined()) {
          low.set_requires_grad(true);
          st.lwc_params.push_back(low);
        }
        st.lwc[name] = {up, low};
      }
    }

    // LET scales.
    const Linear q = block->linear(layout.score_linears[0]), k = block->linear(layout.score_linears[1]);
    if (opt_.let) {
      st.let = init_let(ctx, act_max);
      if (q->weight.sizes() == k->weight.sizes()) {
        const auto fopt = at::TensorOptions().dtype(at::kFloat).device(q->weight.device());
        st.let.qk = at::ones({attn->num_heads, attn->head_dim / 2}, fopt);
      }
      for (auto& p : st.let.params()) p.set_requires_grad(true);
    }
    st.let_params = st.let.params();

    for (auto& [name, l] : block->linears()) {
      st.orig.w[name] = l->weight.detach().to(at::kFloat);
      if (l->bias.defined()) st.orig.b[name] = l->bias.detach().to(at::kFloat);
    }
    for (const auto& sub : layout.subsets)
      if (sub.prev_is_norm) st.orig.norm[sub.prev] = prev_weight(block, sub).detach().to(at::kFloat);
    st.amp = !opt_.deactive_amp && xq.front().is_cuda();
    return st;
  }

  // One training forward over batch i with the current parameters; returns the loss (float32 scalar).
  at::Tensor step_loss(BlockContext& ctx, const BlockState& st, size_t i) const {
    const QuantScheme& scheme = ctx.scheme();
    DecoderLayer& block = ctx.block();
    const BlockLayout& layout = block_layout(block);
    SlotSwap swap;
    BlockWeights cur = transformed(st.orig, st.let, layout);
    for (auto& [name, l] : block->linears()) {
      at::Tensor w = cur.w.at(name);
      if (auto it = st.lwc.find(name); it != st.lwc.end())
        w = fake_quantize_ste(w, scheme.weight, it->second.first, it->second.second);
      else w = fake_quantize_ste(w, scheme.weight);
      swap.set(l->weight, w);
      if (l->bias.defined()) swap.set(l->bias, cur.b.at(name));
      if (scheme.act)
        swap.set(l->input_transform, SlotSwap::Transform([a = *scheme.act](const at::Tensor& x) {
                   return fake_quantize_ste(x, a);
                 }));
    }
    for (const auto& sub : layout.subsets)
      if (sub.prev_is_norm) swap.set(prev_weight(block, sub), cur.norm.at(sub.prev));
    if (st.amp) {
      at::autocast::set_autocast_enabled(at::kCUDA, true);
      at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
    }
    at::Tensor out;
    try {
      out = block->forward(ctx.inputs()[i].to(at::kFloat), ctx.rope()).to(at::kFloat);
    } catch (...) {
      if (st.amp) at::autocast::set_autocast_enabled(at::kCUDA, false);
      throw;
    }
    if (st.amp) {
      at::autocast::set_autocast_enabled(at::kCUDA, false);
      at::autocast::clear_cache();
    }
    at::Tensor loss = at::mse_loss(out, st.targets[i]);
    if (opt_.aug_loss) loss = loss + at::mse_loss(out, st.aug_targets[i]);
    return loss;
  }

  // Mean loss over the batches with the current parameters: the per-batch losses stay on the device and come back in
  // one copy (one synchronisation per pass instead of one per batch), summed in double on the host in batch order.
  double mean_loss(BlockContext& ctx, const BlockState& st) const {
    at::NoGradGuard no_grad;
    std::vector<at::Tensor> ls;
    const size_t n = ctx.inputs().size();
    for (size_t i = 0; i < n; ++i) ls.push_back(step_loss(ctx, st, i));
    double sum = 0;
    for (double v : host_values(ls)) sum += v;
    return sum / static_cast<double>(n);
  }

  // train: AdamW, one step per calibration batch, `epochs` passes; keeps the parameters of the epoch with the lowest
  // mean loss and stops at a non-finite loss, falling back to them (decision #15).
  void train(BlockContext& ctx, BlockState& st) const {
    std::vector<torch::optim::OptimizerParamGroup> groups;
    if (!st.lwc_params.empty())
      groups.emplace_back(st.lwc_params, std::make_unique<torch::optim::AdamWOptions>(
                                             torch::optim::AdamWOptions(opt_.lwc_lr).weight_decay(opt_.wd)));
    if (!st.let_params.empty())
      groups.emplace_back(st.let_params, std::make_unique<torch::optim::AdamWOptions>(
                                             torch::optim::AdamWOptions(opt_.let_lr).weight_decay(opt_.wd)));
    st.loss_init = mean_loss(ctx, st);
    st.loss_final = st.loss_init;
    st.trainable = !groups.empty() && opt_.epochs > 0;
    if (!st.trainable) return;
    st.initial = st.snapshot();
    st.best = st.initial;
    const size_t n = ctx.inputs().size();
    {
      at::AutoGradMode grad(true);
      torch::optim::AdamW optim(std::move(groups), torch::optim::AdamWOptions(opt_.lwc_lr).weight_decay(opt_.wd));
      for (int64_t e = 0; e < opt_.epochs; ++e) {
        // The losses are read back once per epoch, not per step (a per-step read would stall the GPU's queue every
        // step). A non-finite loss is found then: the steps after it in that epoch ran on non-finite gradients,
        // which changes nothing deployed, because that epoch is discarded and the parameters restored (below) to
        // the same fallback as when training stopped at the bad step.
        std::vector<at::Tensor> ls;
        for (size_t i = 0; i < n; ++i) {
          at::Tensor loss = step_loss(ctx, st, i);
          optim.zero_grad();
          loss.backward();
          optim.step();
          ls.push_back(loss.detach());
        }
        const std::vector<double> vs = host_values(ls);
        double sum = 0;
        bool finite = true;
        for (size_t i = 0; i < vs.size() && finite; ++i) {
          if (!std::isfinite(vs[i])) {
            st.note["nan_stop"] = {{"epoch", e + 1}, {"batch", i}, {"loss", std::isnan(vs[i]) ? "nan" : "inf"}};
            finite = false;
          }
          sum += vs[i];
        }
        if (!finite) {
          st.restore(st.best);
          st.note["nan_stop"]["fallback"] = std::isfinite(st.best_loss) ? "end of the epoch with the lowest mean loss"
                                                                        : "initial parameters";
          ctx.event("", "omniquant_nonfinite_loss", st.note["nan_stop"]["fallback"].get<std::string>(),
                    st.note["nan_stop"]);
          break;
        }
        st.epoch_loss.push_back(sum / static_cast<double>(n));
        if (st.epoch_loss.back() < st.best_loss) {
          st.best_loss = st.epoch_loss.back();
          st.best = st.snapshot();
        }
      }
    }
    st.loss_final = mean_loss(ctx, st);
  }

  // guard (decision #15, continued): learned parameters that leave the block worse than it started (final loss above
  // the initial one, or not finite; e.g. a learning rate far too large) are not deployed. The fallback is the end of
  // the epoch with the lowest mean loss when that beats the initial loss, else the initial parameters; recorded as a
  // run event.
  void guard(BlockContext& ctx, BlockState& st) const {
    if (!st.trainable || !std::isfinite(st.loss_init) || st.loss_final <= st.loss_init) return;
    const double diverged = st.loss_final;
    std::string fallback = "initial parameters";
    double kept = st.loss_init;
    if (std::isfinite(st.best_loss)) {
      st.restore(st.best);
      const double b = mean_loss(ctx, st);
      if (b < st.loss_init) {
        fallback = "end of the epoch with the lowest mean loss";
        kept = b;
      }
    }
    if (fallback == "initial parameters") st.restore(st.initial);
    st.loss_final = kept;
    st.note["diverged"] = {{"loss_final", diverged}, {"fallback", fallback}, {"loss_kept", kept}};
    ctx.event("", "omniquant_diverged", fallback,
              {{"loss_init", st.loss_init},
               {"loss_final", std::isfinite(diverged) ? nlohmann::json(diverged) : nlohmann::json("non-finite")},
               {"loss_kept", kept}, {"lwc_lr", opt_.lwc_lr}, {"let_lr", opt_.let_lr}});
  }

  // deploy: fold LET into the weights, then fake-quantize every linear with its learned clipping; the block's note.
  void deploy(BlockContext& ctx, BlockState& st) const {
    at::NoGradGuard no_grad;
    DecoderLayer& block = ctx.block();
    const BlockLayout& layout = block_layout(block);
    {
      BlockWeights fin = transformed(st.orig, st.let, layout);
      for (auto& [name, l] : block->linears()) {
        l->weight.copy_(fin.w.at(name));
        if (l->bias.defined()) l->bias.copy_(fin.b.at(name));
      }
      for (const auto& sub : layout.subsets)
        if (sub.prev_is_norm) prev_weight(block, sub).copy_(fin.norm.at(sub.prev));
    }
    nlohmann::json clip_summary = nlohmann::json::object();
    for (auto& [name, l] : block->linears()) {
      ctx.set_reference_weight(name, l->weight.clone());
      std::optional<ClipFactors> clip;
      if (auto it = st.lwc.find(name); it != st.lwc.end()) {
        clip = ClipFactors{at::sigmoid(it->second.first.detach()),
                           it->second.second.defined() ? at::sigmoid(it->second.second.detach()) : at::Tensor()};
        clip_summary[name] = {{"up_mean", clip->up.mean().item<double>()}, {"up_min", clip->up.min().item<double>()}};
      }
      ctx.quantize(name, clip);
    }
    nlohmann::json& note = st.note;
    note["loss_init"] = st.loss_init;
    note["loss"] = st.epoch_loss;
    note["loss_final"] = st.loss_final;
    note["steps_per_epoch"] = ctx.inputs().size();
    note["clip"] = clip_summary;
    if (opt_.let) {
      nlohmann::json ls = nlohmann::json::object();
      auto put = [&](const char* k, const at::Tensor& s) {
        if (s.defined()) ls[k] = {{"min", s.min().item<double>()}, {"max", s.max().item<double>()}};
      };
      for (const auto& [sub, t] : st.let.pairs) put(let_pairs().at(sub->name).name, t);
      put("qk", st.let.qk);
      note["let_scale"] = ls;
    }
    note["amp"] = st.amp ? "bf16 autocast" : "off";
    note["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - st.t0).count();
    ctx.notes()["omniquant"] = note;
  }

  // The weights the block computes with under the LET scales `let` (float32; differentiable in the scales): each
  // pair folded as model/block_layout.h folds a scale (prev ÷ s, subset columns × s), then q rows ÷ s_qk and
  // k rows × s_qk.
  BlockWeights transformed(const BlockWeights& o, const LetScales& let, const BlockLayout& layout) const {
    BlockWeights c = o;
    auto col = [&](const std::string& n, const at::Tensor& s) { c.w[n] = c.w[n] * s; };
    auto row_div = [&](const std::string& n, const at::Tensor& s) {
      c.w[n] = c.w[n] / s.unsqueeze(1);
      if (c.b.count(n)) c.b[n] = c.b[n] / s;
    };
    auto row_mul = [&](const std::string& n, const at::Tensor& s) {
      c.w[n] = c.w[n] * s.unsqueeze(1);
      if (c.b.count(n)) c.b[n] = c.b[n] * s;
    };
    for (const auto& [sub, t] : let.pairs) {
      at::Tensor s = truncate_scale(t);
      if (sub->prev_is_norm) c.norm[sub->prev] = c.norm[sub->prev] / s;
      else row_div(sub->prev, s);
      for (const auto& n : sub->linears) col(n, s);
    }
    if (let.qk.defined()) {
      at::Tensor s = truncate_scale(let.qk);
      s = at::cat({s, s}, 1).reshape({-1});  // rotary pairs (j, j + d/2) share a scale: exact under RoPE
      row_div(layout.score_linears[0], s);
      row_mul(layout.score_linears[1], s);
    }
    return c;
  }

  // LET init per pair: max(act^α / w^(1-α), 1e-5) per input channel, or AWQ's saved scales (search_scale_init). Pairs
  // whose scale cannot be folded (v -> o under GQA) are not transformed; up -> down only with smooth_up_down.
  LetScales init_let(BlockContext& ctx, const std::map<std::string, at::Tensor>& act_max) {
    DecoderLayer& block = ctx.block();
    LetScales s;
    auto from_stats = [&](const std::string& act_of, const Linear& weight_of) {
      at::Tensor w = weight_of->weight.detach().to(at::kFloat);
      at::Tensor wmax = (opt_.let_weight_max == "abs" ? w.abs() : w).amax(0).clamp_min(1e-5);
      return (act_max.at(act_of).pow(opt_.alpha) / wmax.pow(1 - opt_.alpha)).clamp_min(1e-5);
    };
    auto from_file = [&](const std::string& linear) {
      const std::string key = fmt::format("model.layers.{}.{}", ctx.index(), linear);
      const SafetensorsFile& f = artifact(opt_.scale_path, "scales.safetensors", "awq_scales");
      PTQ_CHECK(f.find(key) != nullptr, "{}: no scale '{}' (search_scale_init needs AWQ's scale for every LET pair)",
                f.path(), key);
      return f.load(key).to(at::kFloat).to(block->input_layernorm->weight.device());
    };
    for (const auto& sub : block_layout(block).subsets) {
      if (!can_fold(block, sub) || (sub.name == "down" && !opt_.smooth_up_down)) continue;
      const std::string& key = sub.linears.at(let_pairs().at(sub.name).weight_of);
      const Linear weight_of = block->linear(key);
      at::Tensor v = opt_.search_scale_init ? from_file(key) : from_stats(sub.input_of(), weight_of);
      PTQ_CHECK(v.dim() == 1 && v.size(0) == weight_of->weight.size(1),
                "LET scale for {} has {} entries, the layer has {} input channels", key, v.numel(),
                weight_of->weight.size(1));
      s.pairs.emplace_back(&sub, v.clone());
    }
    return s;
  }

  // search_clip_init without load_clip (the w4a16 combination): AWQ's clip search on this block's inputs.
  std::map<std::string, ClipFactors> search_clips(BlockContext& ctx) {
    const BlockLayout& layout = block_layout(ctx.block());
    std::vector<std::string> entries;
    for (const auto& sub : layout.subsets) entries.push_back(sub.input_of());
    std::map<std::string, std::vector<at::Tensor>> cache;
    ctx.forward_observing(entries, [&](const std::string& n, const at::Tensor& x) { cache[n].push_back(x.clone()); });
    std::map<std::string, ClipFactors> r;
    for (const auto& sub : layout.subsets) {
      const auto& xs = cache.at(sub.input_of());
      for (const auto& name : sub.linears) {
        if (std::count(layout.score_linears.begin(), layout.score_linears.end(), name)) continue;
        r[name] = awq_clip_search(ctx.block()->linear(name)->weight, xs, ctx.scheme().weight, ctx.scheme().act,
                                  ctx.scheme().weight.symmetric, xs.front().size(1));
      }
    }
    return r;
  }

  // load_clip: the factors AWQ wrote with save_clip ("model.layers.<i>.<linear>.up" / ".low").
  std::map<std::string, ClipFactors> load_clips(BlockContext& ctx) {
    const SafetensorsFile& f = artifact(opt_.clip_path, "clips.safetensors", "awq_clips");
    const std::vector<std::string>& score = block_layout(ctx.block()).score_linears;
    std::map<std::string, ClipFactors> r;
    const QuantSpec& wspec = ctx.scheme().weight;
    for (auto& [name, l] : ctx.block()->linears()) {
      if (std::count(score.begin(), score.end(), name)) continue;  // AWQ never clips them
      const std::string key = fmt::format("model.layers.{}.{}", ctx.index(), name);
      PTQ_CHECK(f.find(key + ".up") != nullptr, "{}: no clip factors '{}.up' for this block", f.path(), key);
      const auto shape = range_shape(wspec, l->weight.numel(), l->weight.size(1));
      auto load = [&](const std::string& k) {
        at::Tensor t = f.load(k).to(at::kFloat);
        PTQ_CHECK(t.sizes().vec() == shape,
                  "{}: '{}' has shape {} but {} of this run needs {} (was step 1 run with another weight scheme?)",
                  f.path(), k, c10::str(t.sizes()), wspec.describe(), c10::str(at::IntArrayRef(shape)));
        return t;
      };
      ClipFactors c;
      c.up = load(key + ".up");
      if (f.find(key + ".low") != nullptr) c.low = load(key + ".low");
      r[name] = c;
    }
    return r;
  }

  // An AWQ artifact file, opened once, with its "kind" metadata checked (decision #19).
  const SafetensorsFile& artifact(const std::string& dir, const char* file, const char* kind) {
    auto it = artifacts_.find(kind);
    if (it != artifacts_.end()) return it->second;
    // Empty paths are allowed at configuration time: a ptq.step_1 with handover scales_clips fills them in.
    PTQ_CHECK(!dir.empty(), "omniquant: {} needs {} (or a ptq.step_1 with handover: scales_clips)",
              std::string_view(kind) == "awq_scales" ? "search_scale_init" : "load_clip",
              std::string_view(kind) == "awq_scales" ? "scale_path" : "clip_path");
    namespace fs = std::filesystem;
    const fs::path p = fs::path(dir) / file;
    if (!fs::exists(p)) {
      const char* other = std::string_view(file) == "scales.safetensors" ? "clips.safetensors" : "scales.safetensors";
      PTQ_CHECK(!fs::exists(fs::path(dir) / other),
                "{}: not found, but {} is there: were scale_path and clip_path swapped?", p.string(), other);
      PTQ_FAIL("{}: not found (write it with AWQ's {} first)", p.string(),
               std::string_view(kind) == "awq_scales" ? "save_scale/scale_path" : "save_clip/clip_path");
    }
    SafetensorsFile f = SafetensorsFile::open(p.string());
    auto k = f.metadata().find("kind");
    PTQ_CHECK(k != f.metadata().end() && k->second == kind, "{}: metadata kind is '{}', expected '{}'", p.string(),
              k == f.metadata().end() ? "missing" : k->second, kind);
    return artifacts_.emplace(kind, std::move(f)).first->second;
  }

  void finish() override { fp_inputs_.clear(); }

  std::vector<at::Tensor> fp_inputs_;  // fp-path input of the next block
  std::map<std::string, SafetensorsFile> artifacts_;
};

}  // namespace

MethodInfo omniquant_method() {
  return method_info<OmniQuant>("omniquant",
                                "OmniQuant: learnable weight clipping (LWC) and equivalent transformation (LET), "
                                "trained per block (Shao et al. 2024)",
                                true, true, {"OmniQuant"}, options());
}

}  // namespace ptq
