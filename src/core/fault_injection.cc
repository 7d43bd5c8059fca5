#include "core/fault_injection.h"

#include <cstdlib>
#include <string>

namespace ptq {

bool fault_injected(std::string_view point, int64_t block) {
  const char* env = std::getenv("PTQ_FAULT");
  if (env == nullptr || *env == '\0') return false;
  std::string_view rest(env);
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    const size_t at = item.find('@');
    if (item.substr(0, at) != point) continue;
    if (at == std::string_view::npos) continue;
    const std::string_view which = item.substr(at + 1);
    if (which == "*" || which == std::to_string(block)) return true;
  }
  return false;
}

}  // namespace ptq
