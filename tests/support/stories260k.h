// The shipped stories260K model and its reference fixture (../shared/data/fixtures/stories260K_reference.json), as
// several test files use them.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "model/loaded_model.h"

namespace ptq::test {

// The parsed fixture (loaded once).
const nlohmann::json& stories_reference();
// Path of one on-disk form: "hf" (directory), "llama2c" (.bin), "gguf_v3", "gguf_v1" (the original v1 file).
std::string stories_path(const std::string& form);
// Model and tokenizer of a form (llama2c with its tok512.bin).
LoadedModel load_stories(const std::string& form);

}  // namespace ptq::test
