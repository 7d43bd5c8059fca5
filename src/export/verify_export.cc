#include "export/verify_export.h"

#include <ATen/ATen.h>
#include <fmt/ranges.h>

#include <chrono>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "export/awq_pack.h"
#include "export/gptq_pack.h"
#include "export/integer_linear.h"
#include "export/quantized_checkpoint.h"

namespace ptq {

namespace {

bool bitwise_equal(const at::Tensor& a, const at::Tensor& b) {
  if (a.sizes() != b.sizes() || a.scalar_type() != b.scalar_type()) return false;
  const at::Tensor x = a.contiguous().cpu(), y = b.contiguous().cpu();
  return std::memcmp(x.data_ptr(), y.data_ptr(), x.nbytes()) == 0;
}

// "N of M elements differ, first at [i, j]: a vs b" (or the shape/dtype difference).
std::string describe_difference(const at::Tensor& got, const at::Tensor& want) {
  if (got.sizes() != want.sizes())
    return fmt::format("shape [{}] vs [{}]", fmt::join(got.sizes(), ", "), fmt::join(want.sizes(), ", "));
  if (got.scalar_type() != want.scalar_type())
    return fmt::format("dtype {} vs {}", c10::toString(got.scalar_type()), c10::toString(want.scalar_type()));
  const at::Tensor g = got.cpu().to(at::kDouble), w = want.cpu().to(at::kDouble);
  const at::Tensor diff = (g != w).logical_or(g.signbit() != w.signbit());
  const int64_t n = diff.sum().item<int64_t>();
  if (n == 0) return "same values, different bits (NaN payloads)";
  const at::Tensor first = diff.flatten().nonzero()[0][0];
  const int64_t i = first.item<int64_t>();
  std::vector<int64_t> index;
  int64_t rest = i;
  for (int64_t d = got.dim() - 1; d >= 0; --d) {
    index.insert(index.begin(), rest % got.size(d));
    rest /= got.size(d);
  }
  return fmt::format("{} of {} elements differ, first at [{}]: {} vs {}", n, got.numel(), fmt::join(index, ", "),
                     g.flatten()[i].item<double>(), w.flatten()[i].item<double>());
}

void expect_equal(VerifyReport& r, const std::string& what, const at::Tensor& got, const at::Tensor& want) {
  if (!bitwise_equal(got, want)) r.mismatches.push_back(fmt::format("{}: {}", what, describe_difference(got, want)));
}

// The packed tensors the export's own layout produces from `q` (the repack of check 1a).
std::map<std::string, at::Tensor> repack(const IntegerLinear& q, const ExportTarget& t) {
  if (t.is_awq()) {
    const AwqTensors a = t.format == ExportFormat::kAwqGemm ? awq_gemm_pack(q) : awq_gemv_pack(q);
    return {{"qweight", a.qweight}, {"qzeros", a.qzeros}, {"scales", a.scales}};
  }
  const GptqTensors g = gptq_pack(q, t.gptq_zeros);
  return {{"qweight", g.qweight}, {"qzeros", g.qzeros}, {"scales", g.scales}, {"g_idx", g.g_idx}};
}

}  // namespace

nlohmann::json VerifyReport::to_json() const {
  return {{"dir", dir},
          {"format", format},
          {"ok", ok()},
          {"layers_checked", layers_checked},
          {"tensors_checked", tensors_checked},
          {"mismatches", mismatches},
          {"ppl_export", ppl_export},
          {"ppl_reference", ppl_reference},
          {"ppl_rel_diff", ppl_rel_diff},
          {"ppl_tokens", ppl_tokens},
          {"seconds", seconds}};
}

VerifyReport verify_export(const std::string& dir, CausalLM& reference, const Tokenizer& tok, const VerifyOptions& opt,
                           const std::map<std::string, QuantizedLinear>* recorded) {
  const auto t0 = std::chrono::steady_clock::now();
  at::NoGradGuard no_grad;
  VerifyReport r;
  r.dir = dir;
  auto ck = QuantizedCheckpoint::open(dir);
  r.format = ck->format();
  const at::ScalarType dtype = reference->dtype();
  // The dtype the export stores unquantized tensors in (the reader's model dtype, quantized_checkpoint.h; ptq's
  // exports store what config.json declares): the reference's unquantized tensors are compared, and evaluated,
  // rounded to it.
  const at::ScalarType stored_dtype = ck->config().dtype;
  auto rounded = [&](const at::Tensor& t) { return t.detach().cpu().to(stored_dtype).to(dtype); };

  // The architecture: everything config.json describes except the declared dtype.
  ModelConfig a = ck->config(), b = reference->config();
  a.dtype = b.dtype;
  if (a.to_hf_json() != b.to_hf_json())
    r.mismatches.push_back(fmt::format("config.json: architecture differs from the reference model's: {} vs {}",
                                       a.to_hf_json().dump(), b.to_hf_json().dump()));

  const auto params = reference->named_parameters();
  std::vector<at::Tensor> unquantized;  // the reference's parameters the export stores as they are
  for (const auto& name : ck->names()) {
    const at::Tensor* want = params.find(name);
    if (want == nullptr) {
      r.mismatches.push_back(fmt::format("{}: the reference model has no such parameter", name));
      continue;
    }
    const std::string module = name.ends_with(".weight") ? name.substr(0, name.size() - 7) : "";
    if (module.empty() || !ck->is_quantized(module)) {
      expect_equal(r, name, ck->load(name).to(dtype), rounded(*want));
      unquantized.push_back(*want);
      ++r.tensors_checked;
      continue;
    }
    ++r.layers_checked;
    const IntegerLinear q = ck->unpack(module);
    // 1a: the stored bits are exactly what the layout produces from the unpacked integers.
    const auto stored = ck->packed(module);
    for (const auto& [suffix, t] : repack(q, ck->target()))
      if (stored.count(suffix)) expect_equal(r, fmt::format("{}.{} (repacked)", module, suffix), stored.at(suffix), t);
    // 1b: the dequantized weight is the fake-quantized weight.
    expect_equal(r, fmt::format("{}.weight (dequantized vs fake-quantized)", module),
                 dequantize_integer_linear(q).to(dtype), want->detach().cpu());
    // 1c: the integers are the ones ptq recorded.
    if (recorded != nullptr) {
      auto it = recorded->find(module);
      if (it == recorded->end()) {
        r.mismatches.push_back(fmt::format("{}: quantized in the export, but ptq recorded no codes for it", module));
        continue;
      }
      const IntegerLinear want_q = to_integer_linear(it->second, q.group_size);
      expect_equal(r, module + " codes", q.codes, want_q.codes);
      expect_equal(r, module + " zero points", q.zeros, want_q.zeros);
      expect_equal(r, module + " scales", q.scales, want_q.scales);
      expect_equal(r, module + " g_idx", q.g_idx, want_q.g_idx);
    }
  }
  if (recorded != nullptr)
    for (const auto& [module, q] : *recorded)
      if (!ck->is_quantized(module))
        r.mismatches.push_back(fmt::format("{}: ptq recorded codes, but the export stores it unquantized", module));

  // 3: the reloaded export against the reference, same windows.
  LoadOptions lo;
  lo.dtype = dtype;
  lo.device = reference->device();
  CausalLM reloaded = load_causal_lm(*ck, lo);
  const EvalText text = load_eval_text(opt.dataset, opt.text);
  const PerplexityResult pe = evaluate_perplexity(reloaded, tok, text, opt.ppl);
  // The reference as the export stores it: its unquantized parameters rounded to the stored dtype for this one
  // evaluation, then restored in reverse order (a tensor listed twice, e.g. tied embeddings, gets its first copy).
  std::vector<at::Tensor> kept;
  if (stored_dtype != dtype)
    for (at::Tensor& p : unquantized) {
      kept.push_back(p.clone());
      p.copy_(p.to(stored_dtype));
    }
  auto restore = [&] {
    for (size_t i = kept.size(); i-- > 0;) unquantized[i].copy_(kept[i]);
  };
  PerplexityResult pr;
  try {
    pr = evaluate_perplexity(reference, tok, text, opt.ppl);
  } catch (...) {
    restore();
    throw;
  }
  restore();
  r.ppl_export = pe.ppl;
  r.ppl_reference = pr.ppl;
  r.ppl_tokens = pe.tokens;
  r.ppl_rel_diff = std::abs(pe.ppl - pr.ppl) / pr.ppl;
  if (!(r.ppl_rel_diff <= opt.tolerance))
    r.mismatches.push_back(
        fmt::format("perplexity: export {:.9g} vs fake-quant {:.9g} on {} tokens of {}: relative "
                    "difference {:.3g} > {:.3g}",
                    pe.ppl, pr.ppl, pe.tokens, opt.dataset, r.ppl_rel_diff, opt.tolerance));
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace ptq
