#include "support/stories260k.h"

#include <fstream>

#include "support/test_data.h"

namespace ptq::test {

const nlohmann::json& stories_reference() {
  static const nlohmann::json j = [] {
    std::ifstream in(data_path("fixtures/stories260K_reference.json"));
    return nlohmann::json::parse(in);
  }();
  return j;
}

std::string stories_path(const std::string& form) {
  if (form == "hf") return data_path("models/stories260K-hf");
  if (form == "llama2c") return data_path("models/stories260K/stories260K.bin");
  if (form == "gguf_v3") return data_path("models/stories260K/stories260K-f32.v3.gguf");
  return data_path("models/stories260K/tinyllamas-stories-260k-f32.gguf");
}

LoadedModel load_stories(const std::string& form) {
  return load_model(stories_path(form), form == "llama2c" ? data_path("models/stories260K/tok512.bin") : "");
}

}  // namespace ptq::test
