#include "data/eval_text.h"

#include <fmt/format.h>

#include <array>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/read_file.h"
#include "core/sha256.h"
#include "data/line_reader.h"
#include "data/utf8_check.h"

namespace ptq {
namespace {

constexpr int64_t kC4Documents = 1100;
constexpr int64_t kC4Windows = 256;
constexpr uint64_t kC4GptqSeed = 0;  // GPTQ's get_c4: random.seed(0) before drawing the validation windows

bool is_ws(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == '\v'; }

std::string_view strip(std::string_view s) {
  while (!s.empty() && is_ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ws(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

const std::vector<EvalDatasetInfo>& eval_datasets() {
  static const std::vector<EvalDatasetInfo> v = {
      {"wikitext2", "eval/wikitext-2-raw/wiki.test.raw",
       "WikiText-2 raw test: the HF wikitext-2-raw-v1 test rows joined with \"\\n\\n\" (GPTQ, AWQ, OmniQuant, LLMC)"},
      {"ptb", "eval/ptb/ptb.test.txt",
       "Penn Treebank test (Mikolov's ptb.test.txt = HF ptb_text_only test): lines stripped, joined with \" \" "
       "(GPTQ --new-eval 'ptb-new' = LLMC ptb; GPTQ's old 'ptb' used the validation split \"\\n\\n\"-joined, "
       "not provided)"},
      {"c4", "eval/c4/c4_validation_2k.jsonl",
       "C4 'c4-new' rule of GPTQ --new-eval and LLMC: field \"text\" of the first 1100 documents joined with \" \", "
       "first 256*seq_len tokens. The shipped file holds 2000 C4 validation documents of unstated origin, not "
       "en/c4-validation.00000-of-00008, so numbers are not comparable with published C4 columns. The old GPTQ / "
       "OmniQuant 'c4' rule is dataset c4_gptq"},
      {"c4_gptq", "eval/c4/c4-validation.00000-of-00008.json",
       "C4 'c4' rule of GPTQ's original evaluation and OmniQuant: 256 windows of seq_len tokens, each from a document "
       "picked with CPython's random.seed(0) randint among those encoding (with BOS) to >= seq_len tokens, at a "
       "random start. Default file: allenai/c4 en/c4-validation.00000-of-00008 decompressed (scripts/fetch_data.sh "
       "--only c4), the shard published C4 columns use; --data-path applies the rule to another jsonl (plain or .zst)"},
      {"tinystories", "eval/tinystories/tinystories_valid_first1000.txt",
       "TinyStories validation, first 1000 stories: split on <|endoftext|>, strip, drop empties, stories "
       "first..last joined with \"\\n\\n\" (the stories260K fixture's rule; default all stories)"},
      {"text", "", "a UTF-8 file exactly as it is (--data-path required)"},
  };
  return v;
}

std::string default_data_dir() {
  const char* env = std::getenv("PTQ_DATA_DIR");
  if (env != nullptr && *env != '\0') return env;
#ifdef PTQ_DEFAULT_DATA_DIR
  return PTQ_DEFAULT_DATA_DIR;
#else
  return "../shared/data";
#endif
}

std::string wikitext_raw_to_gptq_join(std::string_view raw) {
  std::string out;
  out.reserve(raw.size() + raw.size() / 8);
  bool first = true;
  size_t pos = 0;
  while (pos < raw.size()) {
    size_t nl = raw.find('\n', pos);
    const size_t end = nl == std::string_view::npos ? raw.size() : nl + 1;
    std::string_view line = raw.substr(pos, end - pos);
    pos = end;
    if (!first) out += "\n\n";
    first = false;
    if (line != " \n") out.append(line);  // " \n" is how the raw layout writes an empty row
  }
  return out;
}

EvalText load_eval_text(const std::string& dataset, const EvalTextOptions& opt) {
  const EvalDatasetInfo* info = nullptr;
  for (const auto& d : eval_datasets())
    if (d.name == dataset) info = &d;
  if (info == nullptr) {
    std::string names;
    for (const auto& d : eval_datasets()) names += (names.empty() ? "" : ", ") + d.name;
    PTQ_CHECK(false, "unknown dataset '{}' (known: {})", dataset, names);
  }
  EvalText r;
  r.dataset = dataset;
  if (!opt.data_path.empty()) {
    r.path = opt.data_path;
  } else {
    PTQ_CHECK(!info->default_relative_path.empty(), "dataset '{}' needs a file (--data-path FILE)", dataset);
    r.path = default_data_dir() + "/" + info->default_relative_path;
  }
  PTQ_CHECK(dataset != "c4_gptq" || !opt.data_path.empty() || std::filesystem::is_regular_file(r.path),
            "dataset c4_gptq: {} not found (scripts/fetch_data.sh --only c4 downloads GPTQ's C4 validation shard; or "
            "--data-path FILE.jsonl, e.g. eval/c4/c4_validation_2k.jsonl)",
            r.path);
  PTQ_CHECK(!r.path.empty(), "no data file given (use --data-path FILE)");
  const std::string bytes = read_file(r.path, "data file");
  r.file_sha256 = sha256_hex(bytes);
  PTQ_CHECK(!bytes.empty(), "'{}': empty file (dataset {})", r.path, dataset);
  if (dataset != "c4_gptq") check_utf8(bytes, r.path);  // c4_gptq may be zstd-compressed; its lines are JSON

  if (dataset == "text") {
    r.text = bytes;
    r.text_rule = "file bytes exactly as they are";
  } else if (dataset == "wikitext2") {
    PTQ_CHECK(bytes.find('\r') == std::string::npos,
              "'{}': expected the LF raw layout of wiki.test.raw (found CR characters)", r.path);
    r.text = wikitext_raw_to_gptq_join(bytes);
    r.text_rule =
        "wikitext-2-raw-v1 test rows (one per line of wiki.test.raw, a line \" \\n\" being an empty row) "
        "joined with \"\\n\\n\" (GPTQ/AWQ/OmniQuant/LLMC)";
  } else if (dataset == "ptb") {
    std::string_view rest(bytes);
    bool first = true;
    while (!rest.empty()) {
      size_t nl = rest.find('\n');
      std::string_view line = rest.substr(0, nl);
      rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
      if (!first) r.text += ' ';
      first = false;
      r.text.append(strip(line));
    }
    r.text_rule = "ptb test lines, each stripped, joined with \" \" (GPTQ ptb-new / LLMC ptb)";
  } else if (dataset == "c4") {
    std::string_view rest(bytes);
    int64_t docs = 0, line_no = 0;
    while (!rest.empty() && docs < kC4Documents) {
      size_t nl = rest.find('\n');
      std::string_view line = rest.substr(0, nl);
      rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
      ++line_no;
      if (strip(line).empty()) continue;
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(line);
      } catch (const std::exception& e) {
        PTQ_CHECK(false, "'{}' line {}: not JSON: {}", r.path, line_no, e.what());
      }
      PTQ_CHECK(j.is_object() && j.contains("text") && j["text"].is_string(), "'{}' line {}: no string field \"text\"",
                r.path, line_no);
      if (docs > 0) r.text += ' ';
      r.text += j["text"].get<std::string>();
      ++docs;
    }
    PTQ_CHECK(docs > 0, "'{}': no documents", r.path);
    r.token_limit_windows = kC4Windows;
    r.text_rule = fmt::format(
        "c4-new (GPTQ --new-eval, LLMC): \"text\" of the first {} documents{} joined with \" \", truncated to the "
        "first {}*seq_len tokens",
        docs, docs < kC4Documents ? fmt::format(" (the file has fewer than {})", kC4Documents) : "", kC4Windows);
  } else if (dataset == "c4_gptq") {
    for_each_line(r.path, [&](std::string_view line, int64_t line_no) {
      if (strip(line).empty()) return;
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(line);
      } catch (const std::exception& e) {
        PTQ_FAIL("'{}' line {}: not JSON: {}", r.path, line_no, e.what());
      }
      PTQ_CHECK(j.is_object() && j.contains("text") && j["text"].is_string(), "'{}' line {}: no string field \"text\"",
                r.path, line_no);
      r.documents.push_back(j["text"].get<std::string>());
    });
    PTQ_CHECK(!r.documents.empty(), "'{}': no documents", r.path);
    r.sampled_windows = kC4Windows;
    r.window_seed = kC4GptqSeed;
    r.text_rule = fmt::format(
        "c4 (GPTQ original eval, OmniQuant): {} windows of seq_len tokens from the \"text\" of {} documents; per "
        "window CPython random.seed({}) randint picks documents until one encodes (with BOS) to >= seq_len tokens, "
        "then a start in [0, len - seq_len - 1]",
        kC4Windows, r.documents.size(), kC4GptqSeed);
  } else if (dataset == "tinystories") {
    std::vector<std::string_view> stories;
    const std::string_view sep = "<|endoftext|>";
    std::string_view rest(bytes);
    while (true) {
      size_t p = rest.find(sep);
      std::string_view piece = strip(rest.substr(0, p));
      if (!piece.empty()) stories.push_back(piece);
      if (p == std::string_view::npos) break;
      rest = rest.substr(p + sep.size());
    }
    const int64_t n = static_cast<int64_t>(stories.size());
    const int64_t first = opt.first_story, last = opt.last_story < 0 ? n - 1 : opt.last_story;
    PTQ_CHECK(first >= 0 && first <= last && last < n, "tinystories: stories {}..{} out of range 0..{} in '{}'", first,
              last, n - 1, r.path);
    for (int64_t i = first; i <= last; ++i) {
      if (i > first) r.text += "\n\n";
      r.text.append(stories[i]);
    }
    r.text_rule = fmt::format(
        "split on <|endoftext|>, strip, drop empties, stories {}..{} (of {}) joined with \"\\n\\n\"", first, last, n);
  } else {
    PTQ_ASSERT(false, "dataset '{}' listed but not handled", dataset);
  }
  return r;
}

}  // namespace ptq
