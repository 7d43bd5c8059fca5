#include <ATen/ATen.h>

#include <algorithm>

#include "core/error.h"
#include "methods/block_context.h"

namespace ptq {

BlockContext::BlockContext(int64_t index, DecoderLayer block, const std::vector<at::Tensor>& inputs,
                           const RopeTables& rope, const QuantScheme& scheme, bool keep_codes)
    : index_(index), block_(std::move(block)), inputs_(inputs), rope_(rope), scheme_(scheme), keep_codes_(keep_codes) {
  for (at::Tensor* t : block_->parameter_slots()) handed_over_.emplace_back(t->unsafeGetTensorImpl(), t->_version());
}

// A method changes parameters in place (copy_, mul_: the version counter moves) or swaps in other tensors.
bool BlockContext::untouched() const {
  const std::vector<at::Tensor*> slots = block_->parameter_slots();
  if (slots.size() != handed_over_.size()) return false;
  for (size_t i = 0; i < slots.size(); ++i)
    if (slots[i]->unsafeGetTensorImpl() != handed_over_[i].first || slots[i]->_version() != handed_over_[i].second)
      return false;
  for (auto& [name, l] : block_->linears())
    if (l->input_transform) return false;
  return true;
}

void BlockContext::event(const std::string& layer, const std::string& kind, const std::string& fallback,
                         nlohmann::json detail) {
  events_.push_back({{"layer", layer}, {"kind", kind}, {"fallback", fallback}, {"detail", std::move(detail)}});
}

std::vector<at::Tensor> BlockContext::forward_all() {
  at::NoGradGuard no_grad;
  const bool keep = fp_outputs_.empty() && untouched();
  std::vector<at::Tensor> out;
  out.reserve(inputs_.size());
  for (const auto& x : inputs_) out.push_back(block_->forward(x, rope_));
  if (keep) fp_outputs_ = out;
  return out;
}

namespace {
// Thrown by the last observer a batch needs, caught in forward_observing: the rest of that forward is skipped.
struct ObservedEnough {};
}  // namespace

void BlockContext::forward_observing(const std::vector<std::string>& names,
                                     const std::function<void(const std::string&, const at::Tensor&)>& observe) {
  at::NoGradGuard no_grad;
  const bool to_the_end = fp_outputs_wanted_ && fp_outputs_.empty() && untouched();
  size_t seen = 0;  // named linears observed in the current batch (each linear runs once per forward)
  std::vector<Linear> hooked;
  for (auto& [n, l] : block_->linears()) {
    if (std::find(names.begin(), names.end(), n) == names.end()) continue;
    PTQ_ASSERT(!l->input_observer, "linear {} already observed", n);
    l->input_observer = [&observe, &seen, to_the_end, count = names.size(), name = n](const at::Tensor& x) {
      observe(name, x);
      if (!to_the_end && ++seen == count) throw ObservedEnough{};
    };
    hooked.push_back(l);
  }
  auto unhook = [&] {
    for (auto& l : hooked) l->input_observer = nullptr;
  };
  if (hooked.size() != names.size()) {
    unhook();
    PTQ_ASSERT(false, "forward_observing: {} of {} linears found", hooked.size(), names.size());
  }
  try {
    if (to_the_end) {
      forward_all();
    } else {
      for (const auto& x : inputs_) {
        seen = 0;
        try {
          block_->forward(x, rope_);
        } catch (const ObservedEnough&) {
        }
      }
    }
  } catch (...) {
    unhook();
    throw;
  }
  unhook();
}

void BlockContext::quantize(const std::string& name, const std::optional<ClipFactors>& clip) {
  at::NoGradGuard no_grad;
  at::Tensor& w = block_->linear(name)->weight;
  if (!keep_codes_) {
    fake_quantize_(w, scheme_.weight, clip);
    return;
  }
  // dequantize(quantize(w)) equals fake_quantize(w) bit for bit (core/fake_quant.h), so keeping codes costs one pass.
  QuantizedTensor q = ptq::quantize(w, scheme_.weight, clip);
  w.copy_(dequantize(q));
  recorded_[name] = {q.codes.cpu(), q.scales.cpu(), q.zeros.cpu(), {}, {}, q.spec};
}

void BlockContext::set_quantized(const std::string& name, const at::Tensor& dequantized, QuantizedLinear q) {
  at::NoGradGuard no_grad;
  at::Tensor& w = block_->linear(name)->weight;
  w.copy_(dequantized.to(w.scalar_type()));
  if (!keep_codes_) return;
  for (at::Tensor* t : {&q.codes, &q.scales, &q.zeros, &q.g_idx, &q.perm})
    if (t->defined()) *t = t->cpu();
  recorded_[name] = std::move(q);
}

}  // namespace ptq
