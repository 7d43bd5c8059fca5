// What every libFuzzer harness in tests/fuzz checks: a parser given arbitrary bytes either accepts them or rejects
// them with ptq::Error of kind user (what the CLI turns into exit 2 and one clear message). A crash, a sanitizer
// report (ASan, UBSan), an internal error or any other exception escaping is a finding: the harness aborts, and
// libFuzzer saves the input (crash-<sha1>) for a regression test.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <exception>

#include "core/error.h"

namespace ptq::fuzz {

template <class Fn>
void expect_accept_or_user_error(Fn&& fn) {
  try {
    fn();
  } catch (const ptq::Error& e) {
    if (e.kind() == ptq::ErrorKind::kUser) return;
    std::fprintf(stderr, "fuzz finding: internal error on bad input: %s (raised at %s)\n", e.what(),
                 e.source_location().c_str());
    std::abort();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz finding: exception other than ptq::Error on bad input: %s\n", e.what());
    std::abort();
  }
}

}  // namespace ptq::fuzz
