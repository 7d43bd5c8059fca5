#include "train/tokenizer_trainer.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <string>
#include <unordered_map>

#include "core/error.h"
#include "core/output_file.h"

namespace ptq {

void train_tokenizer(const TokenizerTrainOptions& opt) {
  PTQ_CHECK(opt.vocab_size >= 300, "tokenizer vocab_size must be at least 300 (256 byte pieces + specials), got {}",
            opt.vocab_size);
  sentencepiece::SetRandomGeneratorSeed(opt.seed);
  const std::unordered_map<std::string, std::string> args = {
      {"input", opt.text_path},
      {"model_type", "bpe"},
      {"vocab_size", std::to_string(opt.vocab_size)},
      {"byte_fallback", "true"},
      {"character_coverage", "0.9995"},
      {"normalization_rule_name", "identity"},
      {"add_dummy_prefix", "true"},
      {"remove_extra_whitespaces", "false"},
      {"split_digits", "true"},
      {"allow_whitespace_only_pieces", "true"},
      {"unk_id", "0"},
      {"bos_id", "1"},
      {"eos_id", "2"},
      {"pad_id", "-1"},
      {"input_sentence_size", std::to_string(opt.max_sentences)},
      {"shuffle_input_sentence", "true"},
      {"max_sentence_length", "65536"},
      {"num_threads", "1"},  // one thread: the merges do not depend on scheduling
      {"minloglevel", "2"},
  };
  std::string proto;
  const auto st = sentencepiece::SentencePieceTrainer::Train(args, nullptr, &proto);
  PTQ_CHECK(st.ok(), "'{}': sentencepiece training failed: {}", opt.text_path, st.ToString());
  write_output_file(opt.model_path, proto);
}

}  // namespace ptq
