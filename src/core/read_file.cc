#include "core/read_file.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace ptq {

std::string read_file(const std::string& path, std::string_view what) {
  PTQ_CHECK(std::filesystem::is_regular_file(path), "{} '{}' not found", what, path);
  std::ifstream in(path, std::ios::binary);
  PTQ_CHECK(in.good(), "cannot read {} '{}'", what, path);
  std::ostringstream ss;
  ss << in.rdbuf();
  PTQ_CHECK(!in.bad(), "cannot read {} '{}'", what, path);
  return ss.str();
}

}  // namespace ptq
