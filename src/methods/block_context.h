// The one decoder block a method is working on, with the operations every method needs (defined in
// block_context.cc): its calibration inputs, forward passes with hooks, the shared quantize step that records codes
// when the run keeps them, numerical-guard events and the content-addressed search cache.
#pragma once

#include <ATen/core/Tensor.h>

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/fake_quant.h"
#include "core/quant_spec.h"
#include "core/quantized_linear.h"
#include "model/layers.h"

namespace ptq {

// Everything a method may use while it processes one block.
class BlockContext {
 public:
  BlockContext(int64_t index, DecoderLayer block, const std::vector<at::Tensor>& inputs, const RopeTables& rope,
               const QuantScheme& scheme, bool keep_codes);

  int64_t index() const { return index_; }
  DecoderLayer& block() { return block_; }
  // Calibration inputs of this block: each [B, T, hidden] on the compute device.
  const std::vector<at::Tensor>& inputs() const { return inputs_; }
  const RopeTables& rope() const { return rope_; }
  const QuantScheme& scheme() const { return scheme_; }

  // Runs the block on every input batch without gradients and returns the outputs ([B, T, hidden] each; callers
  // must not modify them in place: the first run on the untouched block is kept as the block's fp outputs).
  std::vector<at::Tensor> forward_all();
  // Calls observe(name, x) with the input x ([B, T, in]) of each linear named in `names` (block-relative names such
  // as "self_attn.q_proj") for every calibration batch. Each batch's forward stops once every named linear has seen
  // its input (GPTQ's first true-sequential subset costs an RMSNorm, not a block), except when it is the forward the
  // pipeline would otherwise run itself: the block untouched and its fp outputs wanted (then it runs to the end and
  // the outputs are kept, see take_fp_outputs).
  void forward_observing(const std::vector<std::string>& names,
                         const std::function<void(const std::string&, const at::Tensor&)>& observe);
  // The quantize step every method ends with: linear `name`'s weight ([out, in], block-relative name) quantized once
  // on the scheme's weight grid (with `clip` factors when given), its codes recorded when the run keeps them (export),
  // and the dequantized values written back into the weight (same dtype). Identical values with or without codes.
  void quantize(const std::string& name, const std::optional<ClipFactors>& clip = {});
  // For methods that compute the grid themselves (GPTQ, HQQ): writes `dequantized` ([out, in], any float dtype, the
  // weight's device) into the weight and records `q` (moved to the CPU) when the run keeps codes.
  void set_quantized(const std::string& name, const at::Tensor& dequantized, QuantizedLinear q);
  bool keep_codes() const { return keep_codes_; }
  std::map<std::string, QuantizedLinear>& recorded() { return recorded_; }
  // Methods that transform weights (AWQ's folded scales) name the fp weight each linear's error is measured against:
  // the transformed, unquantized weight (its input is transformed the same way). Default: the weight before the method.
  void set_reference_weight(const std::string& linear_name, at::Tensor w) { references_[linear_name] = std::move(w); }
  const std::map<std::string, at::Tensor>& reference_weights() const { return references_; }
  // Free-form facts a method reports about the block (e.g. GPTQ's Cholesky retries), stored with the run.
  nlohmann::json& notes() { return notes_; }
  // A numerical guard fired in this block: what it detected (`kind`, e.g. "awq_scale_search_nonfinite"), on which
  // linear (block-relative name, "" for the whole block), the documented fallback it applied instead, and the numbers
  // behind it. The pipeline reports each on standard error and the store keeps them (table events), so a run that
  // continued past a problem says so.
  void event(const std::string& layer, const std::string& kind, const std::string& fallback,
             nlohmann::json detail = nlohmann::json::object());
  // [{layer, kind, fallback, detail}] in the order reported.
  const nlohmann::json& events() const { return events_; }
  // The block's fp outputs on inputs() ([B, T, hidden] each) when a forward_all() ran while the block was still as
  // handed over (same parameter tensors, none modified in place, no input transform): the pipeline takes them
  // instead of running a forward of its own (most methods' capture forward is exactly that forward). Empty otherwise.
  std::vector<at::Tensor> take_fp_outputs() { return std::move(fp_outputs_); }
  // Whether the pipeline uses the fp outputs (error measurement, or fp inputs for the next block); default true.
  void set_fp_outputs_wanted(bool wanted) { fp_outputs_wanted_ = wanted; }
  // Folder of content-addressed search results a method may reuse across runs (ptq.search_cache; "" = none): a
  // result is keyed by everything it depends on (block inputs and parameters, scheme, settings, ptq build), so a hit
  // gives the very numbers the search would.
  void set_search_cache(std::string dir) { search_cache_ = std::move(dir); }
  const std::string& search_cache() const { return search_cache_; }

 private:
  int64_t index_;
  DecoderLayer block_;
  const std::vector<at::Tensor>& inputs_;
  const RopeTables& rope_;
  const QuantScheme& scheme_;
  bool keep_codes_;
  std::map<std::string, QuantizedLinear> recorded_;
  std::map<std::string, at::Tensor> references_;
  nlohmann::json notes_ = nlohmann::json::object();
  nlohmann::json events_ = nlohmann::json::array();
  bool untouched() const;
  std::vector<std::pair<const void*, uint32_t>> handed_over_;  // per parameter slot: tensor identity, version
  std::vector<at::Tensor> fp_outputs_;
  bool fp_outputs_wanted_ = true;
  std::string search_cache_;
};

}  // namespace ptq
