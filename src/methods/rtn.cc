// RTN (docs/methods/rtn.md; LLMC rtn.py): every Linear inside the decoder blocks gets its weight replaced by the
// fake-quantized weight (the shared quantizer, the scheme's weight grid); embeddings and lm_head stay untouched.
// Data-free: the block's calibration inputs are not used. Activation quantization, when the scheme has it, is
// attached by the pipeline to every block linear.
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
    for (const auto& [name, linear] : ctx.block()->linears()) ctx.quantize(name);
  }
};

}  // namespace

MethodInfo rtn_method() {
  return method_info<Rtn>("rtn", "round-to-nearest: every block linear fake-quantized with the scheme's grid (data-free)",
                          false, false, {"RTN"}, options());
}

}  // namespace ptq
