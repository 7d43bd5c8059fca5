// llama.cpp's tokenizer vectors for the vocabularies whose files are shipped, through every ptq tokenizer that can
// read them: the Llama 2 sentencepiece model (library), its llama2.c tokenizer.bin and its GGUF vocabulary
// (score-driven BPE), and GPT-2's GGUF vocabulary (byte-level BPE from tokenizer.ggml.merges). The tokenizer.json
// vocabularies (llama-bpe, qwen2) are covered in tests/unit/tokenizer_hf_test.cc.
#include <gtest/gtest.h>

#include "model/gguf_checkpoint.h"
#include "model/tokenizer_score_bpe.h"
#include "model/tokenizer_spm.h"
#include "support/test_data.h"
#include "support/vocab_tests.h"

namespace ptq {
namespace {

TEST(TokenizerVectors, LlamaSpmWithSentencepieceLibrary) {
  auto tok = SentencePieceTokenizer::open(test::data_path("models/llama2-tokenizer/tokenizer.model"));
  EXPECT_EQ(tok->vocab_size(), 32000);
  EXPECT_EQ(test::check_vocab_tests(*tok, "ggml-vocab-llama-spm.gguf", false), 46);
}

TEST(TokenizerVectors, LlamaSpmWithGgufVocabulary) {
  GgufFile f = GgufFile::open(test::data_path("tokenizers/llama.cpp-vocab-tests/ggml-vocab-llama-spm.gguf"));
  auto tok = gguf_tokenizer(f);
  EXPECT_EQ(tok->vocab_size(), 32000);
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(test::check_vocab_tests(*tok, "ggml-vocab-llama-spm.gguf", false), 46);
}

TEST(TokenizerVectors, LlamaSpmWithLlama2cTokenizerBin) {
  auto tok = load_llama2c_tokenizer(test::data_path("models/llama2-tokenizer/tokenizer.bin"), 32000);
  EXPECT_EQ(test::check_vocab_tests(*tok, "ggml-vocab-llama-spm.gguf", false), 46);
}

TEST(TokenizerVectors, Gpt2WithGgufVocabulary) {
  GgufFile f = GgufFile::open(test::data_path("tokenizers/llama.cpp-vocab-tests/ggml-vocab-gpt-2.gguf"));
  auto tok = gguf_tokenizer(f);
  EXPECT_EQ(tok->kind(), "hf-bpe");
  EXPECT_EQ(test::check_vocab_tests(*tok, "ggml-vocab-gpt-2.gguf", true), 46);
}

TEST(TokenizerVectors, SpmDecodeRoundTripsPlainText) {
  auto tok = SentencePieceTokenizer::open(test::data_path("models/llama2-tokenizer/tokenizer.model"));
  const std::string text = "The quick brown fox jumps over the lazy dog. Ünïcödé and 日本語 too.";
  EXPECT_EQ(tok->decode(tok->encode(text, true)), text);
}

}  // namespace
}  // namespace ptq
