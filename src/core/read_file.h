// The whole content of a file as bytes, with the user error (exit 2) every reader of a named input wants.
#pragma once

#include <string>
#include <string_view>

namespace ptq {

// `what` names the kind of file in messages: "<what> '<path>' not found" when it is not a regular file,
// "cannot read <what> '<path>'" when reading fails.
std::string read_file(const std::string& path, std::string_view what = "file");

}  // namespace ptq
