#include "support/test_data.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace ptq::test {

std::string data_dir() {
  const char* env = std::getenv("PTQ_DATA_DIR");
  return env && *env ? env : PTQ_DEFAULT_DATA_DIR;
}

std::string data_path(const std::string& relative) {
  std::string p = data_dir() + "/" + relative;
  PTQ_CHECK(std::filesystem::exists(p), "test data '{}' not found (set PTQ_DATA_DIR to the shared/data folder)", p);
  return p;
}

std::string fixture_path(const std::string& relative) {
  std::string p = std::string(PTQ_SOURCE_DIR) + "/tests/fixtures/" + relative;
  PTQ_CHECK(std::filesystem::exists(p), "test fixture '{}' not found", p);
  return p;
}

std::string ptq_bin() {
  const char* env = std::getenv("PTQ_BIN");
  PTQ_CHECK(env && *env, "PTQ_BIN is not set (run the test through ctest)");
  return env;
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "ptq_test_XXXXXX").string();
  PTQ_CHECK(::mkdtemp(tmpl.data()) != nullptr, "cannot create a temporary directory");
  path_ = tmpl;
}

TempDir::~TempDir() {
  if (std::getenv("PTQ_KEEP_TMP") != nullptr) return;  // debugging: keep the test's files
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  PTQ_CHECK(in.good(), "{}: cannot open", path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  PTQ_CHECK(out.good(), "{}: cannot write", path);
}

ProcessResult run_ptq(const std::string& args) {
  namespace fs = std::filesystem;
  fs::path err_file = fs::temp_directory_path() / fmt::format("ptq_test_stderr_{}", ::getpid());
  std::string cmd = fmt::format("{} {} 2>{}", ptq_bin(), args, err_file.string());
  ProcessResult r;
  FILE* pipe = ::popen(cmd.c_str(), "r");
  PTQ_CHECK(pipe != nullptr, "cannot run '{}'", cmd);
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) r.out.append(buf, n);
  int status = ::pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(err_file);
  std::stringstream ss;
  ss << in.rdbuf();
  r.err = ss.str();
  fs::remove(err_file);
  return r;
}

nlohmann::json last_json_line(const std::string& out) {
  std::string s = out;
  while (!s.empty() && s.back() == '\n') s.pop_back();
  const size_t nl = s.rfind('\n');
  return nlohmann::json::parse(nl == std::string::npos ? s : s.substr(nl + 1));
}

std::string config_path(const std::string& relative) { return std::string(PTQ_SOURCE_DIR) + "/configs/" + relative; }

}  // namespace ptq::test
