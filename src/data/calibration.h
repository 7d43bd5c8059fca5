// Calibration sets (docs/evaluation.md, LLMC's preproc styles), seeded and deterministic, with provenance:
//   random_windows        (= LLMC wikitext2_gptq / ptb_gptq) encode the dataset's text once, n_samples windows
//                         [i, i+seq_len) with i uniform in [0, N - seq_len - 1]
//   txt_general_preproc   (= LLMC general) shuffle the documents, keep those whose encoding truncated to seq_len has
//                         exactly seq_len tokens, the first n_samples of them
//   pileval_awq           shuffle the documents, keep the first n_samples whose stripped text encodes to 1..seq_len
//                         tokens, concatenate, cut into floor(total / seq_len) blocks (fewer than n_samples)
//   tokens                samples read from a JSON file {"samples": [[ids...], ...]} exactly as they are
// Documents: tinystories (stories split on <|endoftext|>), c4 / pileval / jsonl (the "text" field of each line, the
// file plain or zstd-compressed (src/data/line_reader.h); pileval's default file is calib/pileval/val.jsonl.zst under
// the data folder, not shipped: scripts/fetch_data.sh downloads it); the
// single-text datasets (wikitext2, ptb, text) only support random_windows. The RNG is std::mt19937_64 seeded with
// `seed` (shuffles and offsets are ptq's own, so samples match other tools only through the tokens file).
#pragma once

#include <ATen/core/Tensor.h>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "model/tokenizer.h"

namespace ptq {

struct CalibOptions {
  std::string dataset = "tinystories";  // tinystories, c4, pileval, wikitext2, ptb, text, jsonl, tokens
  std::string path;                     // data file; default: the dataset's file under the data folder
  std::string preproc = "random_windows";
  int64_t n_samples = 128;
  int64_t seq_len = 512;
  int64_t bs = 1;                       // samples per batch; -1 = all in one batch (LLMC)
  uint64_t seed = 42;
  int64_t first_doc = 0, last_doc = -1; // document range (inclusive) before sampling, e.g. TinyStories 500..999
  std::string dump_path;                // when set, the samples are written there in the tokens format
};

struct CalibrationSet {
  std::vector<at::Tensor> batches;  // int64 [bs, seq_len] each (the last batch may be smaller)
  std::vector<std::vector<int32_t>> samples;
  nlohmann::json provenance;        // dataset, file, sha256, preproc, seed, n_samples, seq_len, offsets / doc ids
};

// Throws a user error naming the option or file on bad input (unknown preproc, too little data, malformed file).
// model_vocab: the model's embedding rows, the range token ids of a tokens file must fall in. tok may be null for a
// tokens file (ids need no tokenizer); every other dataset needs one.
CalibrationSet build_calibration(const CalibOptions& opt, const Tokenizer* tok, int64_t model_vocab);
// The same with ids checked against the tokenizer's vocabulary.
CalibrationSet build_calibration(const CalibOptions& opt, const Tokenizer& tok);

// {"samples": [[...], ...], "provenance": {...}} written atomically.
void dump_calibration(const CalibrationSet& set, const std::string& path);

}  // namespace ptq
