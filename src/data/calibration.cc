#include "data/calibration.h"

#include <ATen/ATen.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <random>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/read_file.h"
#include "core/sha256.h"
#include "data/eval_text.h"
#include "data/line_reader.h"
#include "data/utf8_check.h"

namespace ptq {

namespace {

std::string strip(const std::string& s) {
  const size_t b = s.find_first_not_of(" \n\r\t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \n\r\t") - b + 1);
}

// The Pile validation sample is calibration-only data: scripts/fetch_data.sh puts it here under the data folder.
constexpr const char* kPilevalRelativePath = "calib/pileval/val.jsonl.zst";

std::string default_path(const std::string& dataset) {
  if (dataset == "pileval") return default_data_dir() + "/" + kPilevalRelativePath;
  for (const auto& d : eval_datasets())
    if (d.name == dataset && !d.default_relative_path.empty()) return default_data_dir() + "/" + d.default_relative_path;
  return "";
}

// Documents of a multi-document dataset, in file order.
std::vector<std::string> load_documents(const std::string& dataset, const std::string& path) {
  std::vector<std::string> docs;  // a missing file: read_file and for_each_line name it
  if (dataset == "tinystories") {
    const std::string bytes = read_file(path, "calibration data file");
    check_utf8(bytes, path);
    const std::string sep = "<|endoftext|>";
    for (size_t pos = 0;;) {
      const size_t next = bytes.find(sep, pos);
      std::string d = strip(bytes.substr(pos, next == std::string::npos ? std::string::npos : next - pos));
      if (!d.empty()) docs.push_back(std::move(d));
      if (next == std::string::npos) break;
      pos = next + sep.size();
    }
  } else if (dataset == "c4" || dataset == "jsonl" || dataset == "pileval") {
    // Plain or zstd-compressed (val.jsonl.zst), streamed line by line.
    for_each_line(path, [&](std::string_view line, int64_t n) {
      if (line.find_first_not_of(" \n\r\t") == std::string_view::npos) return;
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(line);
      } catch (const nlohmann::json::exception& e) {
        PTQ_FAIL("{}: line {} is not valid JSON: {}", path, n, e.what());
      }
      PTQ_CHECK(j.is_object() && j.contains("text") && j["text"].is_string(), "{}: line {} has no string 'text' field",
                path, n);
      docs.push_back(j["text"].get<std::string>());
    });
  } else {
    PTQ_FAIL("calibration dataset '{}' has no documents (preproc random_windows works on any text; documents: "
             "tinystories, c4, pileval, jsonl)",
             dataset);
  }
  return docs;
}

std::vector<std::vector<int32_t>> read_tokens_file(const std::string& path, int64_t vocab) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(path, "calibration tokens file"));
  } catch (const nlohmann::json::exception& e) {
    PTQ_FAIL("{}: not valid JSON: {}", path, e.what());
  }
  PTQ_CHECK(j.is_object() && j.contains("samples") && j["samples"].is_array() && !j["samples"].empty(),
            "{}: key 'samples' missing or empty (expected {{\"samples\": [[ids...], ...]}})", path);
  std::vector<std::vector<int32_t>> out;
  for (size_t i = 0; i < j["samples"].size(); ++i) {
    const auto& s = j["samples"][i];
    PTQ_CHECK(s.is_array() && !s.empty(), "{}: samples[{}] is not a non-empty list of token ids", path, i);
    std::vector<int32_t> ids;
    for (const auto& v : s) {
      PTQ_CHECK(v.is_number_integer() && v.get<int64_t>() >= 0 && v.get<int64_t>() < vocab,
                "{}: samples[{}] holds {} which is not a token id of this model (vocabulary 0..{})", path, i,
                v.dump(), vocab - 1);
      ids.push_back(v.get<int32_t>());
    }
    out.push_back(std::move(ids));
  }
  return out;
}

}  // namespace

CalibrationSet build_calibration(const CalibOptions& opt, const Tokenizer& tok) {
  return build_calibration(opt, &tok, tok.vocab_size());
}

CalibrationSet build_calibration(const CalibOptions& opt, const Tokenizer* tok_ptr, int64_t model_vocab) {
  const bool from_tokens = opt.dataset == "tokens" || opt.preproc == "tokens";
  PTQ_CHECK(tok_ptr != nullptr || from_tokens,
            "calib.name '{}': calibration from text needs a tokenizer (only calib.name tokens works without one)",
            opt.dataset);
  PTQ_CHECK(opt.n_samples > 0, "calib.n_samples must be positive, got {}", opt.n_samples);
  PTQ_CHECK(opt.seq_len > 1, "calib.seq_len must be at least 2, got {}", opt.seq_len);
  PTQ_CHECK(opt.bs == -1 || opt.bs > 0, "calib.bs must be positive or -1 (all samples in one batch), got {}", opt.bs);
  CalibrationSet set;
  std::mt19937_64 rng(opt.seed);
  nlohmann::json prov = {{"dataset", opt.dataset}, {"preproc", opt.preproc}, {"seed", opt.seed},
                         {"n_samples", opt.n_samples}, {"seq_len", opt.seq_len},
                         {"tokenizer", tok_ptr ? tok_ptr->kind() : "none"}};

  if (from_tokens) {
    PTQ_CHECK(!opt.path.empty(), "calib.path: a tokens file is required for calibration from tokens");
    set.samples = read_tokens_file(opt.path, model_vocab);
    prov["path"] = opt.path;
    prov["sha256"] = sha256_hex(read_file(opt.path, "calibration tokens file"));
  } else if (opt.preproc == "random_windows" || opt.preproc == "wikitext2_gptq" || opt.preproc == "ptb_gptq") {
    EvalTextOptions eo;
    eo.data_path = opt.path;
    if (opt.dataset == "tinystories") {
      eo.first_story = opt.first_doc;
      eo.last_story = opt.last_doc;
    }
    const EvalText text = load_eval_text(opt.dataset == "jsonl" ? "text" : opt.dataset, eo);
    PTQ_CHECK(text.sampled_windows == 0,
              "calibration dataset '{}' is an evaluation rule (windows drawn per seq_len); calibrate on C4 documents "
              "with calib.name c4 or jsonl and calib.path",
              opt.dataset);
    const auto ids = tok_ptr->encode(text.text, false);
    const int64_t N = static_cast<int64_t>(ids.size());
    PTQ_CHECK(N > opt.seq_len + 1, "calibration text '{}' has {} tokens, fewer than seq_len {} + 2", text.path, N,
              opt.seq_len);
    std::uniform_int_distribution<int64_t> pick(0, N - opt.seq_len - 1);
    std::vector<int64_t> offsets;
    for (int64_t i = 0; i < opt.n_samples; ++i) {
      const int64_t at = pick(rng);
      offsets.push_back(at);
      set.samples.emplace_back(ids.begin() + at, ids.begin() + at + opt.seq_len);
    }
    prov["path"] = text.path;
    prov["sha256"] = text.file_sha256;
    prov["text_rule"] = text.text_rule;
    prov["stream_tokens"] = N;
    prov["offsets"] = offsets;
  } else if (opt.preproc == "txt_general_preproc" || opt.preproc == "general" || opt.preproc == "pileval_awq") {
    const std::string path = opt.path.empty() ? default_path(opt.dataset) : opt.path;
    PTQ_CHECK(!path.empty(), "calibration dataset '{}' has no shipped file: give calib.path", opt.dataset);
    PTQ_CHECK(!opt.path.empty() || opt.dataset != "pileval" || std::filesystem::is_regular_file(path),
              "calibration dataset 'pileval': {} not found (scripts/fetch_data.sh --only pileval downloads it; or give "
              "calib.path)",
              path);
    std::vector<std::string> docs = load_documents(opt.dataset, path);
    const int64_t last = opt.last_doc < 0 ? static_cast<int64_t>(docs.size()) - 1 : opt.last_doc;
    PTQ_CHECK(opt.first_doc >= 0 && opt.first_doc <= last && last < static_cast<int64_t>(docs.size()),
              "calibration documents {}..{} are out of range ({} documents in {})", opt.first_doc, last, docs.size(),
              path);
    std::vector<int64_t> order;
    for (int64_t i = opt.first_doc; i <= last; ++i) order.push_back(i);
    std::shuffle(order.begin(), order.end(), rng);
    std::vector<int64_t> used;
    if (opt.preproc == "pileval_awq") {
      std::vector<int32_t> concat;
      for (int64_t d : order) {
        if (static_cast<int64_t>(used.size()) == opt.n_samples) break;
        const auto ids = tok_ptr->encode(strip(docs[static_cast<size_t>(d)]), false);
        if (ids.empty() || static_cast<int64_t>(ids.size()) > opt.seq_len) continue;
        used.push_back(d);
        concat.insert(concat.end(), ids.begin(), ids.end());
      }
      const int64_t blocks = static_cast<int64_t>(concat.size()) / opt.seq_len;
      PTQ_CHECK(blocks > 0, "pileval_awq: the kept documents of {} give fewer than seq_len {} tokens", path,
                opt.seq_len);
      for (int64_t b = 0; b < blocks; ++b)
        set.samples.emplace_back(concat.begin() + b * opt.seq_len, concat.begin() + (b + 1) * opt.seq_len);
    } else {
      for (int64_t d : order) {
        if (static_cast<int64_t>(set.samples.size()) == opt.n_samples) break;
        auto ids = tok_ptr->encode(docs[static_cast<size_t>(d)], false);
        if (static_cast<int64_t>(ids.size()) < opt.seq_len) continue;
        ids.resize(static_cast<size_t>(opt.seq_len));
        used.push_back(d);
        set.samples.push_back(std::move(ids));
      }
      PTQ_CHECK(static_cast<int64_t>(set.samples.size()) == opt.n_samples,
                "txt_general_preproc: only {} documents of {} reach seq_len {} tokens (n_samples {})",
                set.samples.size(), path, opt.seq_len, opt.n_samples);
    }
    prov["path"] = path;
    prov["sha256"] = sha256_hex(read_file(path, "calibration data file"));
    prov["documents"] = used;
  } else {
    PTQ_FAIL("unknown calib.preproc '{}' (random_windows, wikitext2_gptq, ptb_gptq, txt_general_preproc, pileval_awq, "
             "tokens)",
             opt.preproc);
  }

  // Batches of equal-length samples ([bs, L]); samples of another length go in their own batches.
  const int64_t bs = opt.bs == -1 ? static_cast<int64_t>(set.samples.size()) : opt.bs;
  for (size_t i = 0; i < set.samples.size();) {
    std::vector<at::Tensor> rows;
    const size_t len = set.samples[i].size();
    while (i < set.samples.size() && static_cast<int64_t>(rows.size()) < bs && set.samples[i].size() == len) {
      rows.push_back(at::tensor(std::vector<int64_t>(set.samples[i].begin(), set.samples[i].end()), at::kLong));
      ++i;
    }
    set.batches.push_back(at::stack(rows));
  }
  prov["samples"] = set.samples.size();
  set.provenance = std::move(prov);
  if (!opt.dump_path.empty()) dump_calibration(set, opt.dump_path);
  return set;
}

void dump_calibration(const CalibrationSet& set, const std::string& path) {
  nlohmann::json j = {{"samples", set.samples}, {"provenance", set.provenance}};
  write_file_atomically(path, j.dump() + "\n");  // temporary, fsync, rename (core/atomic_file.h)
}

}  // namespace ptq
