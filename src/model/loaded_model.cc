#include "model/loaded_model.h"

#include <filesystem>

#include "core/error.h"

namespace ptq {

void check_tokenizer_fits(const Tokenizer& tok, const ModelConfig& c, const std::string& model_path) {
  PTQ_CHECK(tok.vocab_size() <= c.vocab_size,
            "{}: the tokenizer ({}, {} tokens) is larger than the model's embedding ({} rows): the tokenizer does not "
            "belong to this model",
            model_path, tok.kind(), tok.vocab_size(), c.vocab_size);
}

LoadedModel load_model(const std::string& path, const std::string& tokenizer_path, const LoadOptions& opt,
                       bool require_tokenizer) {
  LoadedModel m;
  const bool llama2c = !std::filesystem::is_directory(path) && std::filesystem::path(path).extension() != ".gguf";
  m.checkpoint = open_checkpoint(path, llama2c ? tokenizer_path : "");
  if (!tokenizer_path.empty() && !llama2c) m.tokenizer = load_tokenizer(tokenizer_path);
  else m.tokenizer = m.checkpoint->tokenizer();
  PTQ_CHECK(m.tokenizer != nullptr || !require_tokenizer, "{}: no tokenizer found{}", path,
            llama2c ? " (a llama2.c checkpoint needs --tokenizer tokenizer.bin)" : " (give one with --tokenizer)");
  if (m.tokenizer) check_tokenizer_fits(*m.tokenizer, m.checkpoint->config(), path);
  m.model = load_causal_lm(*m.checkpoint, opt);
  return m;
}

}  // namespace ptq
