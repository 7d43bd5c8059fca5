// Trains the default model's tokenizer with the sentencepiece library (Debian's libsentencepiece-train): BPE with
// byte fallback and Llama 2's normalizer settings (identity normalization, dummy prefix, whitespace kept, digits split,
// unk 0 / bos 1 / eos 2, no pad), so the result loads like Llama 2's tokenizer.model.
#pragma once

#include <cstdint>
#include <string>

namespace ptq {

struct TokenizerTrainOptions {
  std::string text_path;            // one training document per line
  std::string model_path;           // where tokenizer.model is written (atomically)
  int64_t vocab_size = 4096;
  int64_t max_sentences = 200000;   // documents sampled for training (sentencepiece's input_sentence_size)
  uint32_t seed = 1234;             // sentencepiece's sampling RNG
};

// Throws a user error naming the file when sentencepiece rejects the input or cannot reach vocab_size.
void train_tokenizer(const TokenizerTrainOptions& opt);

}  // namespace ptq
