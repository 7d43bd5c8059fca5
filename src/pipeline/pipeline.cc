#include "pipeline/pipeline.h"

#include <ATen/ATen.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <utility>

#include "core/device.h"
#include "core/error.h"
#include "core/fake_quant.h"
#include "core/peak_memory.h"
#include "core/progress.h"
#include "model/causal_lm.h"

namespace ptq {

namespace {

// The block's guard events into the run's list (full module names), each also reported on standard error.
void collect_events(const BlockContext& ctx, int64_t b, nlohmann::json& out) {
  for (nlohmann::json e : ctx.events()) {
    const std::string layer = e["layer"].get<std::string>();
    e["layer"] = layer.empty() ? fmt::format("model.layers.{}", b) : fmt::format("model.layers.{}.{}", b, layer);
    e["block"] = b;
    fmt::print(stderr, "ptq: warning: {}: {}; fallback: {}\n", e["layer"].get<std::string>(),
               e["kind"].get<std::string>(), e["fallback"].get<std::string>());
    out.push_back(std::move(e));
  }
}

// Offload: the block's quantized weights go back to the host, pinned when they came from a CUDA device so the next
// transfer (evaluation, export) is a DMA copy; the device keeps nothing of the block.
void move_block_home(DecoderLayerImpl& block, const at::Device& home, const at::Device& dev) {
  if (home.is_cpu()) move_to_host(block, dev.is_cuda());
  else block.to(home);
}

// Sum of squares of any tensor: float32 per row of its last dimension (at most a few thousand terms), the rows summed
// in float64 (millions of tokens). No float64 copy of the tensor.
double sumsq(const at::Tensor& t) {
  const at::Tensor rows = at::linalg_vector_norm(t.reshape({-1, t.size(-1)}), 2, {1}, false, at::kFloat);
  return rows.to(at::kDouble).square().sum().item<double>();
}

}  // namespace

void set_activation_quantization(DecoderLayerImpl& block, const std::optional<QuantSpec>& act) {
  for (auto& [name, l] : block.linears()) {
    if (act) l->input_transform = [spec = *act](const at::Tensor& x) { return fake_quantize(x, spec); };
    else l->input_transform = nullptr;
  }
}

PipelineResult run_pipeline(CausalLMImpl& model, const std::vector<at::Tensor>& calib, Method& method,
                            const QuantScheme& scheme, const PipelineOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  scheme.validate();
  PTQ_CHECK(!method.needs_calibration() || !calib.empty(), "method '{}' needs calibration data (add a calib section)",
            method.id());
  const int64_t T = calib.empty() ? 1 : calib.front().size(1);
  for (const auto& c : calib)
    PTQ_CHECK(c.dim() == 2 && c.size(1) == T, "calibration batches must be [batch, {}] token ids", T);
  at::NoGradGuard no_grad;
  PipelineResult result;

  // Block 0's inputs: the embeddings of the calibration tokens. RoPE tables cover positions 0..T-1 for every block.
  const at::Device home = model.device();
  const at::Device dev = opt.device.value_or(home);
  const bool offload = dev != home;
  std::vector<at::Tensor> inputs;
  for (const auto& ids : calib) inputs.push_back(model.embed(ids).to(dev));
  RopeTables rope = model.rope(0, T);
  if (offload) rope = {rope.cos.to(dev), rope.sin.to(dev)};

  Progress progress("quantize block", model.num_layers());
  for (int64_t b = 0; b < model.num_layers(); ++b) {
    // The previous block's temporaries are gone now: their holes must not add up across blocks (core/peak_memory.h).
    if (b > 0) release_free_heap_memory();
    DecoderLayer block = model.layer(b);
    if (offload) block->to(dev);
    BlockContext ctx(b, block, inputs, rope, scheme, opt.keep_codes);
    ctx.set_search_cache(opt.search_cache);
    if (calib.empty()) {
      // Data-free (RTN without a calib section): nothing to propagate or measure; methods that need inputs refuse.
      method.apply_block(ctx);
      collect_events(ctx, b, result.events);
      set_activation_quantization(*block, scheme.act);
      for (auto& [name, q] : ctx.recorded()) result.codes[fmt::format("model.layers.{}.{}", b, name)] = std::move(q);
      if (offload) move_block_home(*block, home, dev);
      progress.step(b + 1);
      continue;
    }
    // What the block's parameters were before the method (clones: methods change them in place): the reference of
    // every linear's error, and what the fp forward runs with when the method's own forwards did not provide it.
    // The last block's outputs feed nothing but the error measurement: without it, no forward after the method.
    const bool measure = opt.measure_errors;
    const bool last = b + 1 == model.num_layers();
    const bool need_fp = measure || (!opt.quant_out && !last);
    std::vector<at::Tensor*> slots = block->parameter_slots();
    std::vector<at::Tensor> before;
    if (need_fp || opt.keep_transformed)
      for (at::Tensor* t : slots) before.push_back(t->clone());
    std::map<std::string, at::Tensor> original;  // linear name -> weight before the method
    if (!before.empty()) {
      size_t i = 0;
      for (auto& [name, l] : block->linears()) {
        original[name] = before[i++];
        if (l->bias.defined()) ++i;
      }
    }

    ctx.set_fp_outputs_wanted(need_fp);
    method.apply_block(ctx);
    collect_events(ctx, b, result.events);
    for (auto& [name, l] : block->linears())
      PTQ_CHECK(at::isfinite(l->weight).all().item<bool>(),
                "block {}: {} has non-finite weights after the method (NaN or inf in the calibration data or the "
                "method's arithmetic)",
                b, name);

    // fp outputs: kept from the method's capture forward when it ran on the untouched block (GPTQ, AWQ, SmoothQuant),
    // else one forward with the parameters swapped back for its duration (no copies).
    std::vector<at::Tensor> fp_out;
    if (need_fp) {
      fp_out = ctx.take_fp_outputs();
      if (fp_out.empty()) {
        std::vector<at::Tensor> after;
        for (size_t i = 0; i < slots.size(); ++i) {
          after.push_back(*slots[i]);
          *slots[i] = before[i];
        }
        std::vector<std::function<at::Tensor(const at::Tensor&)>> transforms;
        for (auto& [name, l] : block->linears()) transforms.push_back(std::exchange(l->input_transform, nullptr));
        auto restore = [&] {
          for (size_t i = 0; i < slots.size(); ++i) *slots[i] = after[i];
          size_t k = 0;
          for (auto& [name, l] : block->linears()) l->input_transform = transforms[k++];
        };
        try {
          fp_out = ctx.forward_all();
        } catch (...) {
          restore();
          throw;
        }
        restore();
      }
    }
    before.clear();

    set_activation_quantization(*block, scheme.act);
    for (const auto& [name, w] : ctx.reference_weights()) original[name] = w;
    if (opt.keep_transformed)
      for (const auto& [name, w] : original) result.transformed[fmt::format("model.layers.{}.{}.weight", b, name)] = w.cpu();

    // Quantized rerun. Measuring, each linear's product y = q(x) Q(W)^T is compared with x W^T, the reference
    // weight on the same input: one extra product per linear (the forward computes y anyway).
    std::vector<at::Tensor> q_out;
    if (measure) {
      std::map<std::string, std::pair<double, double>> err;  // name -> (sum |y_q - y|^2, sum |y|^2)
      std::vector<Linear> hooked;
      for (auto& [name, l] : block->linears()) {
        l->output_observer = [&err, &original, name = name, bias = l->bias](const at::Tensor& x, const at::Tensor& y) {
          at::Tensor ref = at::linear(x, original.at(name), bias.defined() ? std::optional<at::Tensor>(bias) : std::nullopt);
          auto& e = err[name];
          e.second += sumsq(ref);
          e.first += sumsq(ref.sub_(y));
        };
        hooked.push_back(l);
      }
      try {
        q_out = ctx.forward_all();
      } catch (...) {
        for (auto& l : hooked) l->output_observer = nullptr;
        throw;
      }
      for (auto& l : hooked) l->output_observer = nullptr;
      for (auto& [name, l] : block->linears()) {
        const auto& e = err.at(name);
        const double w_ref = sumsq(original.at(name));
        result.layer_errors.push_back({b, fmt::format("model.layers.{}.{}", b, name),
                                       e.second > 0 ? std::sqrt(e.first / e.second) : 0.0,
                                       w_ref > 0 ? std::sqrt(sumsq(l->weight - original.at(name)) / w_ref) : 0.0});
      }
      double num = 0, den = 0;
      for (size_t i = 0; i < q_out.size(); ++i) {
        num += sumsq(q_out[i] - fp_out[i]);
        den += sumsq(fp_out[i]);
      }
      result.block_errors.push_back(den > 0 ? std::sqrt(num / den) : 0.0);
    } else if (opt.quant_out && !last) {
      q_out = ctx.forward_all();
    }
    for (auto& [name, q] : ctx.recorded()) result.codes[fmt::format("model.layers.{}.{}", b, name)] = std::move(q);
    if (!ctx.notes().empty()) result.notes[std::to_string(b)] = ctx.notes();

    inputs = opt.quant_out ? q_out : fp_out;
    if (offload) move_block_home(*block, home, dev);
    progress.step(b + 1);
  }
  release_free_heap_memory();
  method.finish();
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

}  // namespace ptq
