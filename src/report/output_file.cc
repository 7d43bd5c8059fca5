#include "report/output_file.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

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
  // The process id keeps two writers of the same file from sharing a temporary.
  const fs::path tmp = target.string() + ".tmp" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    PTQ_CHECK(out.good(), "{}: cannot write", tmp.string());
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    PTQ_CHECK(out.good(), "{}: write failed", tmp.string());
  }
  fs::rename(tmp, target, ec);
  if (ec) fs::remove(tmp);
  PTQ_CHECK(!ec, "{}: cannot move the written file into place: {}", path, ec.message());
}

}  // namespace ptq
