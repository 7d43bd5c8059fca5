#include <gtest/gtest.h>

#include "core/error.h"

namespace ptq {
namespace {

TEST(Error, CheckThrowsUserErrorWithFormattedMessage) {
  try {
    int bits = 9;
    PTQ_CHECK(bits <= 8, "bits must be at most 8, got {}", bits);
    FAIL() << "PTQ_CHECK did not throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUser);
    EXPECT_EQ(e.message(), "bits must be at most 8, got 9");
    EXPECT_STREQ(e.what(), "bits must be at most 8, got 9");
    EXPECT_NE(e.source_location().find("tests/unit/error_test.cc:"), std::string::npos) << e.source_location();
  }
}

TEST(Error, CheckPassesSilently) { EXPECT_NO_THROW(PTQ_CHECK(1 + 1 == 2, "arithmetic")); }

TEST(Error, AssertIsInternal) {
  try {
    PTQ_ASSERT(false, "value {}", 3);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInternal);
    EXPECT_NE(std::string(e.what()).find("value 3"), std::string::npos);
  }
}

TEST(Error, ContextIsPrependedOutermostFirst) {
  try {
    with_context("configs/a.yml", [] { with_context("key quant.weight.bit", [] { PTQ_FAIL("got {}", 9); }); });
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "configs/a.yml: key quant.weight.bit: got 9");
    EXPECT_EQ(e.message(), "got 9");
  }
}

TEST(Error, WithContextReturnsValue) {
  int v = with_context("unused", [] { return 42; });
  EXPECT_EQ(v, 42);
}

}  // namespace
}  // namespace ptq
