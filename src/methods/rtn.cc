// RTN (docs/methods/rtn.md; LLMC rtn.py): every Linear inside the decoder blocks gets its weight replaced by the
// fake-quantized weight (the shared quantizer, the scheme's weight grid); embeddings and lm_head stay untouched.
// Data-free: the block's calibration inputs are not used. Activation quantization, when the scheme has it, is
// attached by the pipeline to every block linear.
#include <ATen/ATen.h>

#include "core/fake_quant.h"
#include "methods/method.h"

namespace ptq {

namespace {

class Rtn : public Method {
 public:
  void apply_block(BlockContext& ctx) override {
    at::NoGradGuard no_grad;
    for (auto& [name, linear] : ctx.block()->linears()) {
      if (ctx.keep_codes()) {
        QuantizedTensor q = quantize(linear->weight, ctx.scheme().weight);
        ctx.record(name, {q.codes.cpu(), q.scales.cpu(), q.zeros.cpu(), {}, {}, q.spec});
      }
      fake_quantize_(linear->weight, ctx.scheme().weight);
    }
  }
  nlohmann::json params() const override { return nlohmann::json::object(); }
};

}  // namespace

std::unique_ptr<Method> make_rtn(const nlohmann::json& params) {
  check_known_params(find_method("rtn"), params);
  return std::make_unique<Rtn>();
}

}  // namespace ptq
