// libFuzzer harness: experiment files, i.e. run configurations (src/experiment/run_config.h, LLMC-style YAML) and
// matrices (src/experiment/matrix.h), from arbitrary bytes. A YAML mapping with `axes` is read as a matrix whose
// `base` may name base.yml (a shipped configuration copied into a scratch folder at start-up); anything else as a run
// configuration. Everything must be accepted or a user error (fuzz_support.h); YAML syntax errors are user errors too
// (load_run_config / load_matrix report them as such).
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "experiment/matrix.h"
#include "experiment/run_config.h"
#include "fuzz_support.h"

namespace {

// A scratch folder holding base.yml; the matrix is "read" from fuzz.yaml beside it.
const std::string& scratch() {
  static const std::string dir = [] {
    namespace fs = std::filesystem;
    std::string tmpl = (fs::temp_directory_path() / "ptq_fuzz_XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    fs::copy_file(std::string(PTQ_SOURCE_DIR) + "/configs/quantization/methods/GPTQ/gptq_w_only.yml",
                  fs::path(tmpl) / "base.yml");
    return tmpl;
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception&) {
    return 0;  // not YAML: the loaders turn this into a user error before parsing
  }
  ptq::fuzz::expect_accept_or_user_error([&] {
    if (root.IsMap() && root["axes"]) {
      const ptq::Matrix m = ptq::parse_matrix(root, scratch() + "/fuzz.yaml");
      for (const auto& c : m.cells) (void)c.config.to_json();
    } else {
      (void)ptq::parse_run_config(root, "fuzz.yml").to_json();
    }
  });
  return 0;
}
