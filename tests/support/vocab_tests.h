// llama.cpp's tokenizer test vectors (../shared/data/tokenizers/llama.cpp-vocab-tests): <name>.inp holds the texts,
// each followed by "\n__ggml_vocab_test__\n"; <name>.out one line of space-separated expected ids per text (no BOS).
#pragma once

#include <string>
#include <vector>

#include "model/tokenizer.h"

namespace ptq::test {

struct VocabCase {
  std::string text;
  std::vector<int32_t> ids;
};

// name: e.g. "ggml-vocab-llama-spm.gguf".
std::vector<VocabCase> read_vocab_tests(const std::string& name);

// "1 2 3": ids for failure messages.
std::string ids_str(const std::vector<int32_t>& ids);

// Encodes every case (no BOS) and fails the calling test for each mismatch; with `round_trip` also requires
// decode(encode(text)) == text. Prints "<name>: P/N ids match" and returns the number of matching cases.
int check_vocab_tests(const Tokenizer& tok, const std::string& name, bool round_trip);

}  // namespace ptq::test
