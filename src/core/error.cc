#include "core/error.h"

#include <cstring>

namespace ptq {

Error::Error(ErrorKind kind, std::string message, std::string source_location)
    : std::runtime_error(message),
      kind_(kind),
      message_(std::move(message)),
      source_location_(std::move(source_location)),
      full_(message_) {}

void Error::add_context(const std::string& context) {
  if (!context.empty()) full_ = context + ": " + full_;
}

namespace detail {

void throw_error(ErrorKind kind, const char* file, int line, std::string message) {
  // Keep the path from src/ on, so messages do not depend on where the tree was cloned.
  const char* rel = std::strstr(file, "src/");
  throw Error(kind, std::move(message), fmt::format("{}:{}", rel ? rel : file, line));
}

}  // namespace detail
}  // namespace ptq
