// RTN (docs/methods/rtn.md; LLMC rtn.py): every Linear inside the decoder blocks gets its weight replaced by the
// fake-quantized weight (the shared quantizer, the scheme's weight grid); embeddings and lm_head stay untouched.
// Data-free: the block's calibration inputs are not used. Activation quantization, when the scheme has it, is
// attached by the pipeline to every block linear.
#include <ATen/ATen.h>

#include "core/fake_quant.h"
#include "methods/method.h"

namespace ptq {

namespace {

struct RtnOptions {};  // data-free, no parameters

const OptionTable<RtnOptions>& options() {
  static const OptionTable<RtnOptions> t("rtn", {});
  return t;
}

class Rtn : public MethodWithOptions<RtnOptions> {
 public:
  using MethodWithOptions::MethodWithOptions;
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
};

}  // namespace

MethodInfo rtn_method() {
  return method_info<Rtn>("rtn", "round-to-nearest: every block linear fake-quantized with the scheme's grid (data-free)",
                          false, false, {"RTN"}, options());
}

}  // namespace ptq
