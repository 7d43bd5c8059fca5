// A quantization method as the block-wise pipeline sees it (docs/architecture.md): the pipeline owns capture,
// propagation and error measurement; a method only transforms or quantizes the weights of one decoder block at a
// time, using the block's captured calibration inputs. Methods are listed in one table (registry.cc) and found by id.
#pragma once

#include <ATen/core/Tensor.h>

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/fake_quant.h"
#include "core/quant_spec.h"
#include "methods/method_options.h"
#include "model/layers.h"

namespace ptq {

class CausalLMImpl;

// What a method leaves behind for one Linear so it can be exported or re-applied: integer codes on the grid and the
// parameters to dequantize them (all CPU tensors).
struct QuantizedLinear {
  at::Tensor codes;   // [out, in] int8 (symmetric) / uint8 (asymmetric)
  at::Tensor scales;  // float32 [out, n_groups]
  at::Tensor zeros;   // float32 [out, n_groups]
  at::Tensor g_idx;   // int32 [in] group of every input column, or undefined when groups are consecutive
  at::Tensor perm;    // int64 [in] column permutation (GPTQ act_order), or undefined
  QuantSpec spec;
};

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

class Method {
 public:
  virtual ~Method() = default;
  // Quantizes (fake-quant: weights replaced by their dequantized values) or transforms the block's weights.
  virtual void apply_block(BlockContext& ctx) = 0;
  // The resolved parameters, stored with every result.
  virtual nlohmann::json params() const = 0;
  // Called once after the last block (e.g. to write the artifacts the method collected). Default: nothing.
  virtual void finish() {}

  // Set from the method's MethodInfo when the registry builds it; the pipeline refuses to run a method that needs
  // calibration data without any, so no method checks that itself.
  const std::string& id() const { return id_; }
  bool needs_calibration() const { return needs_calibration_; }
  void set_info(std::string id, bool needs_calibration) {
    id_ = std::move(id);
    needs_calibration_ = needs_calibration;
  }

 private:
  std::string id_;
  bool needs_calibration_ = false;
};

struct MethodInfo {
  std::string id;       // stable; stored in results; never renamed
  std::string summary;  // one line for `ptq methods`
  bool needs_calibration = false;
  bool needs_grad = false;
  std::vector<std::string> llmc_names;  // LLMC quant.method class names selecting it ("Awq", "AWQ")
  std::vector<ParamInfo> params;        // from the method's OptionTable
  // The resolved parameters of a `special` mapping (defaults filled; unknown keys, bad types and values are user
  // errors naming the key): what params() of the method built from it returns.
  std::function<nlohmann::json(const nlohmann::json& special)> resolve;
  // Builds the method from its `special` mapping (resolve's checks apply).
  std::function<std::unique_ptr<Method>(const nlohmann::json& special)> make;
  // Why the method cannot quantize under `scheme` (e.g. HQQ fits a zero point: no symmetric grid); "" when it can.
  // Unset: every scheme. Checked when a configuration is read; registry-wide tests skip such pairs.
  std::function<std::string(const QuantScheme& scheme)> scheme_problem;
  // Why a real-quant export (AutoAWQ when `autoawq`, else GPTQ) cannot hold what a run with these resolved parameters
  // and scheme produces, with what to change; "" when it can. Unset: every export can. The runner asks after loading
  // the model and before quantizing.
  std::function<std::string(const nlohmann::json& resolved, const QuantScheme& scheme, bool autoawq)> export_problem;
};

// A method whose parameters are an options struct Opt with its OptionTable: params() is the table's view of opt_.
template <class Opt>
class MethodWithOptions : public Method {
 public:
  MethodWithOptions(Opt opt, const OptionTable<Opt>& table) : opt_(std::move(opt)), table_(&table) {}
  nlohmann::json params() const override { return table_->to_json(opt_); }

 protected:
  Opt opt_;
  const OptionTable<Opt>* table_;
};

// The MethodInfo of a method class M constructible from (Opt, const OptionTable<Opt>&).
template <class M, class Opt>
MethodInfo method_info(std::string id, std::string summary, bool needs_calibration, bool needs_grad,
                       std::vector<std::string> llmc_names, const OptionTable<Opt>& options) {
  MethodInfo m;
  m.id = std::move(id);
  m.summary = std::move(summary);
  m.needs_calibration = needs_calibration;
  m.needs_grad = needs_grad;
  m.llmc_names = std::move(llmc_names);
  m.params = options.params();
  m.resolve = [&options](const nlohmann::json& special) { return options.to_json(options.parse(special)); };
  m.make = [&options, id = m.id, needs_calibration](const nlohmann::json& special) -> std::unique_ptr<Method> {
    auto method = std::make_unique<M>(options.parse(special), options);
    method->set_info(id, needs_calibration);
    return method;
  };
  return m;
}

// The registry (registry.cc): every method, in the order `ptq methods` prints them.
const std::vector<MethodInfo>& methods();
// Throws a user error listing the known ids when `id` is unknown.
const MethodInfo& find_method(std::string_view id);
// The method an LLMC quant.method class name ("Awq", "GPTQ") or a ptq id names; find_method's error otherwise.
const MethodInfo& find_method_by_llmc_name(std::string_view name);

}  // namespace ptq
