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
#include "methods/block_context.h"
#include "methods/method_options.h"
#include "model/layers.h"

namespace ptq {

class CausalLMImpl;

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
