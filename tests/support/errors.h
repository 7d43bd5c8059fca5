// Catching the ptq::Error a call must throw, for tests that check what its message names (file, key, value).
#pragma once

#include <functional>
#include <string>

namespace ptq::test {

// The message of the ptq::Error `fn` throws; fails the calling test (and returns "") when it throws none.
std::string error_of(const std::function<void()>& fn);
// The same, and the error must be a user error (bad input, exit 2), not an internal one.
std::string user_error_of(const std::function<void()>& fn);

}  // namespace ptq::test
