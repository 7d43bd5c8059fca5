#include "core/output_file.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/atomic_file.h"
#include "core/error.h"

namespace ptq {

void write_output_file(const std::string& path, const std::string& bytes) {
  namespace fs = std::filesystem;
  PTQ_CHECK(!path.empty(), "no output file given");
  const fs::path target(path);
  std::error_code ec;
  if (target.has_parent_path()) {
    fs::create_directories(target.parent_path(), ec);
    PTQ_CHECK(!ec, "{}: cannot create the folder {}: {}", path, target.parent_path().string(), ec.message());
  }
  PTQ_CHECK(!fs::is_directory(target), "{}: is a folder, expected a file name", path);
  // Temporary (named with the process id, so two writers of the same file never share one), fsync, rename.
  write_file_atomically(path, bytes);
}

}  // namespace ptq
