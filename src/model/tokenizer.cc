#include "model/tokenizer.h"

#include <filesystem>

#include "core/error.h"
#include "model/tokenizer_hf.h"
#include "model/tokenizer_spm.h"

namespace ptq {

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path) {
  namespace fs = std::filesystem;
  PTQ_CHECK(fs::exists(path), "{}: no such tokenizer file or directory", path);
  if (fs::is_directory(path)) {
    const fs::path d(path);
    if (fs::exists(d / "tokenizer.json")) return HfBpeTokenizer::from_file((d / "tokenizer.json").string());
    if (fs::exists(d / "tokenizer.model")) return SentencePieceTokenizer::open((d / "tokenizer.model").string());
    PTQ_FAIL("{}: no tokenizer.json or tokenizer.model in this directory", path);
  }
  const std::string ext = fs::path(path).extension().string();
  if (ext == ".json") return HfBpeTokenizer::from_file(path);
  if (ext == ".model") return SentencePieceTokenizer::open(path);
  PTQ_FAIL("{}: unknown tokenizer format (expected tokenizer.json, a sentencepiece .model, or a llama2.c tokenizer "
           ".bin given together with its llama2.c checkpoint)",
           path);
}

}  // namespace ptq
