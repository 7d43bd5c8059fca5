// The list of quantization methods. A method is one file in src/methods defining `MethodInfo <id>_method()` (its
// options table, summary, LLMC names and maker: method.h, method_options.h); adding one adds its name to
// PTQ_METHODS below. `ptq methods` prints them in this order, and the registry-driven tests then cover it.
#include <fmt/format.h>

#include "core/did_you_mean.h"
#include "core/error.h"
#include "methods/method.h"

#define PTQ_METHODS(X) X(rtn) X(gptq) X(awq) X(smoothquant) X(omniquant) X(hqq)

namespace ptq {

#define PTQ_DECLARE_METHOD(id) MethodInfo id##_method();
PTQ_METHODS(PTQ_DECLARE_METHOD)
#undef PTQ_DECLARE_METHOD

const std::vector<MethodInfo>& methods() {
#define PTQ_METHOD_ROW(id) id##_method(),
  static const std::vector<MethodInfo> table = {PTQ_METHODS(PTQ_METHOD_ROW)};
#undef PTQ_METHOD_ROW
  return table;
}

const MethodInfo& find_method(std::string_view id) {
  std::string known;
  std::vector<std::string> ids;
  for (const auto& m : methods()) {
    if (m.id == id) return m;
    known += (known.empty() ? "" : ", ") + m.id;
    ids.push_back(m.id);
  }
  PTQ_FAIL("unknown method '{}' (known: {}){}", id, known, did_you_mean(id, ids));
}

const MethodInfo& find_method_by_llmc_name(std::string_view name) {
  for (const auto& m : methods())
    for (const auto& n : m.llmc_names)
      if (n == name) return m;
  return find_method(name);  // a ptq id, or the error listing them
}

}  // namespace ptq
