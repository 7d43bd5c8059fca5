#include "support/errors.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace ptq::test {

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a ptq::Error, none was thrown";
  return "";
}

std::string user_error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUser) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "expected a ptq user error, none was thrown";
  return "";
}

}  // namespace ptq::test
