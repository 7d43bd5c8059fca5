// Errors: one exception type, two kinds.
//   PTQ_CHECK(cond, fmt, args...)  bad input (config, file, argument): ErrorKind::kUser, the CLI exits 2.
//   PTQ_ASSERT(cond, fmt, args...) broken invariant inside ptq:       ErrorKind::kInternal, the CLI exits 1.
// Both are always on (never compiled out). Callers that know which file or key was being read add it with
// add_context(), so the one line the CLI prints names the file and the key.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>
#include <utility>

namespace ptq {

enum class ErrorKind { kUser, kInternal };

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, std::string message, std::string source_location);

  ErrorKind kind() const { return kind_; }
  // The message without context, e.g. "bits must be in 2..8, got 9".
  const std::string& message() const { return message_; }
  // Where in ptq's source the check fired, "src/core/quant_spec.cc:88" (for --verbose and bug reports).
  const std::string& source_location() const { return source_location_; }
  // Prepends context, outermost last: add_context("key quant.weight.bit") then add_context("configs/a.yml")
  // gives "configs/a.yml: key quant.weight.bit: bits must be ...".
  void add_context(const std::string& context);
  const char* what() const noexcept override { return full_.c_str(); }

 private:
  ErrorKind kind_;
  std::string message_;
  std::string source_location_;
  std::string full_;
};

namespace detail {
[[noreturn]] void throw_error(ErrorKind kind, const char* file, int line, std::string message);
}  // namespace detail

// Runs fn(); an ptq::Error escaping it gets `context` prepended and is rethrown.
template <class Fn>
decltype(auto) with_context(const std::string& context, Fn&& fn) {
  try {
    return std::forward<Fn>(fn)();
  } catch (Error& e) {
    e.add_context(context);
    throw;
  }
}

}  // namespace ptq

#define PTQ_CHECK(cond, ...)                                                                              \
  do {                                                                                                    \
    if (!(cond)) ::ptq::detail::throw_error(::ptq::ErrorKind::kUser, __FILE__, __LINE__, fmt::format(__VA_ARGS__)); \
  } while (0)

#define PTQ_ASSERT(cond, ...)                                                                               \
  do {                                                                                                      \
    if (!(cond))                                                                                            \
      ::ptq::detail::throw_error(::ptq::ErrorKind::kInternal, __FILE__, __LINE__,                           \
                                 "internal error (" #cond "): " + fmt::format(__VA_ARGS__));                \
  } while (0)

// Unconditional user error.
#define PTQ_FAIL(...) ::ptq::detail::throw_error(::ptq::ErrorKind::kUser, __FILE__, __LINE__, fmt::format(__VA_ARGS__))
