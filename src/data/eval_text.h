// Evaluation text of a named dataset, built from local files (default: under the shared data folder,
// $PTQ_DATA_DIR or the PTQ_DEFAULT_DATA_DIR build setting). Each dataset states its text-forming rule (`text_rule`,
// recorded with every result) and the sha256 of the file the text came from.
//
//   wikitext2    eval/wikitext-2-raw/wiki.test.raw -> HF wikitext-2-raw-v1 test rows, "\n\n"-joined (GPTQ, AWQ,
//                OmniQuant, LLMC)
//   ptb          eval/ptb/ptb.test.txt, each line stripped, " "-joined (GPTQ new eval = LLMC ptb; HF ptb_text_only test)
//   c4           eval/c4/c4_validation_2k.jsonl "text", first 1100 documents " "-joined, first 256*seq_len tokens
//                (GPTQ --new-eval "c4-new" = LLMC c4); see the description: not the GPTQ shard
//   c4_gptq      eval/c4/c4-validation.00000-of-00008.json (GPTQ's shard; scripts/fetch_data.sh), every document's
//                "text": 256 windows drawn as GPTQ's original eval and OmniQuant's `c4` (src/eval/sampled_windows.h)
//   tinystories  eval/tinystories/tinystories_valid_first1000.txt, stories first..last joined with "\n\n"
//   text         a UTF-8 file exactly as it is (needs a path)
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ptq {

struct EvalDatasetInfo {
  std::string name;
  std::string default_relative_path;  // under the data dir; empty: --data-path required
  std::string description;
};

// All known datasets, in a fixed order.
const std::vector<EvalDatasetInfo>& eval_datasets();

struct EvalTextOptions {
  std::string data_path;        // overrides the default file
  int64_t first_story = 0;      // tinystories only: inclusive, 0-based
  int64_t last_story = -1;      // tinystories only: inclusive; -1 = the last story
};

struct EvalText {
  std::string dataset;
  std::string text;
  std::string text_rule;      // the text-forming rule in words
  std::string path;           // file the text came from
  std::string file_sha256;    // lowercase hex of the file's bytes
  // When > 0, only the first token_limit_windows * seq_len tokens are evaluated (c4: 256). 0 = no limit.
  int64_t token_limit_windows = 0;
  // When > 0 (c4_gptq), the token stream is not `text` encoded but this many windows drawn from `documents` with
  // CPython's random seeded by window_seed (gptq_c4_windows); `text` is empty.
  int64_t sampled_windows = 0;
  uint64_t window_seed = 0;
  std::vector<std::string> documents;
};

// The shared data folder: $PTQ_DATA_DIR when set, else PTQ_DEFAULT_DATA_DIR.
std::string default_data_dir();

// Throws a user error (exit 2) for an unknown dataset (listing the known names) or a missing/unreadable file (naming it).
EvalText load_eval_text(const std::string& dataset, const EvalTextOptions& opt = {});

// The WikiText-2 rows rebuilt from the raw layout (each row a line; a line " \n" is an empty row), joined with "\n\n".
std::string wikitext_raw_to_gptq_join(std::string_view raw);

}  // namespace ptq
