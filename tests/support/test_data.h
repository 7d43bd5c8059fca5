// Where tests find ../shared/data (real models, corpora, reference fixtures) and the ptq binary.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace ptq::test {

// $PTQ_DATA_DIR if set, else the PTQ_DATA_DIR CMake cache value (the shared/ folder beside the checkout).
std::string data_dir();
// data_dir() + "/" + relative; fails the calling test's setup (throws) when the file is missing.
std::string data_path(const std::string& relative);
// PTQ_SOURCE_DIR + "/tests/fixtures/" + relative (small fixtures kept in the source tree); throws when missing.
std::string fixture_path(const std::string& relative);
// The ptq executable under test ($PTQ_BIN, set by ctest).
std::string ptq_bin();

struct ProcessResult {
  int exit_code = -1;
  std::string out;  // standard output
  std::string err;  // standard error
};
// A fresh directory under the system temp folder, removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Whole file as bytes; writes bytes to a file.
std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& bytes);

// Runs `ptq_bin() + " " + args` through the shell, capturing both streams.
ProcessResult run_ptq(const std::string& args);

// The object `--json` prints as the last line of standard output (the CLI contract); throws when it is not JSON.
nlohmann::json last_json_line(const std::string& out);
// PTQ_SOURCE_DIR + "/configs/" + relative: a shipped run configuration.
std::string config_path(const std::string& relative);

}  // namespace ptq::test
