#include "train/corpus.h"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <unordered_set>

#include "core/error.h"
#include "core/output_file.h"
#include "core/read_file.h"
#include "core/sha256.h"
#include "train/text_clean.h"

namespace fs = std::filesystem;

namespace ptq {
namespace {

// Bump when a cleaner or the split rule changes what a source produces.
constexpr int kCleanerVersion = 1;

struct Source {
  std::string name;
  std::vector<std::string> packages;
  std::vector<fs::path> files;  // inputs, sorted
  std::vector<std::string> (*clean)(const Source&, const std::string& root);
};

std::string read_gzip(const fs::path& p) {
  gzFile f = gzopen(p.c_str(), "rb");
  PTQ_CHECK(f != nullptr, "cannot open '{}'", p.string());
  std::string out;
  std::array<char, 1 << 16> buf{};
  int n = 0;
  while ((n = gzread(f, buf.data(), static_cast<unsigned>(buf.size()))) > 0) out.append(buf.data(), n);
  int err = 0;
  const char* msg = gzerror(f, &err);
  const std::string what = msg ? msg : "";
  gzclose(f);
  PTQ_CHECK(n == 0 && err == Z_OK, "'{}': corrupt gzip data ({})", p.string(), what);
  return out;
}

std::string run_command(const std::string& cmd) {
  FILE* pipe = popen(cmd.c_str(), "r");
  PTQ_CHECK(pipe != nullptr, "cannot run '{}'", cmd);
  std::string out;
  std::array<char, 1 << 16> buf{};
  size_t n = 0;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  const int rc = pclose(pipe);
  PTQ_CHECK(rc == 0, "'{}' exited with status {}", cmd, rc);
  return out;
}

std::string package_version(const std::string& pkg) {
  FILE* pipe = popen(fmt::format("dpkg-query -W -f='${{Version}}' {} 2>/dev/null", pkg).c_str(), "r");
  if (!pipe) return "unknown";
  std::array<char, 256> buf{};
  const size_t n = fread(buf.data(), 1, buf.size() - 1, pipe);
  const int rc = pclose(pipe);
  return rc == 0 && n > 0 ? std::string(buf.data(), n) : "unknown";
}

std::vector<fs::path> list_files(const fs::path& dir, const std::function<bool(const fs::path&)>& keep) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file() && keep(e.path())) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> clean_kjv(const Source&, const std::string&) {
  return kjv_chapters(run_command("bible -l0 'Gen1:1-Rev22:21' 2>/dev/null"));
}
std::vector<std::string> clean_fortunes(const Source& s, const std::string&) {
  std::vector<std::string> out;
  for (const auto& f : s.files)
    for (auto& d : split_fortunes(read_file(f))) out.push_back(std::move(d));
  return out;
}
std::vector<std::string> clean_jargon(const Source& s, const std::string&) {
  return text_paragraphs(read_gzip(s.files.at(0)));
}
std::vector<std::string> clean_html(const Source& s, const std::string&) {
  std::vector<std::string> out;
  for (const auto& f : s.files)
    for (auto& d : html_to_paragraphs(read_file(f))) out.push_back(std::move(d));
  return out;
}
std::vector<std::string> clean_pod(const Source& s, const std::string&) {
  std::vector<std::string> out;
  for (const auto& f : s.files)
    for (auto& d : pod_to_paragraphs(read_file(f))) out.push_back(std::move(d));
  return out;
}

// Resolves a source's input files under `root`; throws naming the packages when they are absent.
Source resolve(const std::string& name, const fs::path& root) {
  Source s;
  s.name = name;
  const auto missing = [&](const std::string& what) {
    PTQ_CHECK(false, "corpus source '{}': {} not found; install the Debian package(s) {} (scripts/setup.sh does)",
              name, what, fmt::join(s.packages, " "));
  };
  if (name == "kjv") {
    s.packages = {"bible-kjv", "bible-kjv-text"};
    s.files = {root / "usr/lib/bible.data"};
    s.clean = clean_kjv;
  } else if (name == "fortunes") {
    s.packages = {"fortunes", "fortunes-min"};
    const fs::path dir = root / "usr/share/games/fortunes";
    s.files = list_files(dir, [](const fs::path& p) { return !p.has_extension(); });
    if (s.files.empty()) missing(dir.string());
    s.clean = clean_fortunes;
  } else if (name == "jargon") {
    s.packages = {"jargon-text"};
    s.files = {root / "usr/share/doc/jargon-text/jargon.txt.gz"};
    s.clean = clean_jargon;
  } else if (name == "handbook") {
    s.packages = {"debian-handbook"};
    const fs::path dir = root / "usr/share/doc/debian-handbook/html/en-US";
    s.files = list_files(dir, [](const fs::path& p) { return p.extension() == ".html"; });
    if (s.files.empty()) missing(dir.string());
    s.clean = clean_html;
  } else if (name == "perldoc") {
    s.packages = {"perl-doc"};
    std::error_code ec;
    for (const auto& v : fs::directory_iterator(root / "usr/share/perl", ec)) {
      if (v.is_symlink()) continue;  // Debian's 5.36 -> 5.36.0 link would read every file twice
      for (auto& f : list_files(v.path() / "pod", [](const fs::path& p) {
             return p.extension() == ".pod" && p.stem().string().find("delta") == std::string::npos;
           }))
        s.files.push_back(std::move(f));
    }
    std::sort(s.files.begin(), s.files.end());
    if (s.files.empty()) missing((root / "usr/share/perl/*/pod/*.pod").string());
    s.clean = clean_pod;
  } else {
    PTQ_CHECK(false, "unknown corpus source '{}' (known: {})", name, fmt::join(corpus_sources(), ", "));
  }
  for (const auto& f : s.files)
    if (!fs::is_regular_file(f)) missing(f.string());
  return s;
}

// FNV-1a 64: a fixed, platform-independent hash for the split rule.
uint64_t fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ULL;
  for (const char c : s) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  return h;
}

}  // namespace

const std::vector<std::string>& corpus_sources() {
  static const std::vector<std::string> names = {"kjv", "fortunes", "jargon", "handbook", "perldoc"};
  return names;
}

CorpusInfo build_corpus(const CorpusOptions& opt) {
  PTQ_CHECK(!opt.dir.empty(), "corpus: no output folder given");
  const std::vector<std::string> names = opt.sources.empty() ? corpus_sources() : opt.sources;
  std::vector<Source> sources;
  nlohmann::json inputs = nlohmann::json::array();
  for (const auto& n : names) {
    sources.push_back(resolve(n, opt.root));
    nlohmann::json files = nlohmann::json::array();
    for (const auto& f : sources.back().files) files.push_back({f.string(), fs::file_size(f)});
    nlohmann::json pk = nlohmann::json::object();
    for (const auto& p : sources.back().packages) pk[p] = opt.root == "/" ? package_version(p) : "unknown";
    inputs.push_back({{"name", n}, {"packages", pk}, {"files", files}});
  }
  const std::string fingerprint =
      sha256_hex(nlohmann::json{{"cleaner_version", kCleanerVersion}, {"inputs", inputs}}.dump());

  CorpusInfo info;
  info.dir = opt.dir;
  const fs::path dir(opt.dir);
  info.train_path = (dir / "train.txt").string();
  info.valid_path = (dir / "valid.txt").string();
  info.calib_path = (dir / "calib.txt").string();
  const fs::path recipe_path = dir / "recipe.json";
  const auto output_sha = [&]() {
    std::string all;
    for (const auto& p : {info.train_path, info.valid_path, info.calib_path}) all += sha256_hex(read_file(p));
    return sha256_hex(all);
  };
  if (fs::exists(recipe_path)) {  // reuse when built from the same inputs and intact
    const auto r = nlohmann::json::parse(read_file(recipe_path), nullptr, false);
    if (!r.is_discarded() && r.value("fingerprint", "") == fingerprint && fs::exists(info.train_path) &&
        fs::exists(info.valid_path) && fs::exists(info.calib_path) && r.value("sha256", "") == output_sha()) {
      info.recipe = r;
      info.sha256 = r["sha256"];
      return info;
    }
  }

  std::string train, valid, calib;
  std::unordered_set<std::string> seen;  // exact duplicates (a cookie in two fortune files) are kept once
  int64_t duplicates = 0;
  nlohmann::json per_source = nlohmann::json::array();
  int64_t n_train = 0, n_valid = 0, n_calib = 0;
  for (size_t si = 0; si < sources.size(); ++si) {
    const Source& s = sources[si];
    const std::vector<std::string> docs = s.clean(s, opt.root);
    int64_t kept = 0, bytes = 0;
    for (size_t i = 0; i < docs.size(); ++i) {
      if (!is_prose(docs[i])) continue;
      if (!seen.insert(docs[i]).second) {
        ++duplicates;
        continue;
      }
      ++kept;
      bytes += static_cast<int64_t>(docs[i].size());
      const uint64_t bucket = fnv1a(fmt::format("{}:{}", s.name, i)) % 100;
      std::string& to = bucket < 2 ? valid : bucket < 3 ? calib : train;
      (bucket < 2 ? n_valid : bucket < 3 ? n_calib : n_train) += 1;
      to += docs[i];
      to += '\n';
    }
    PTQ_CHECK(kept > 0, "corpus source '{}': no prose paragraphs found in {} file(s)", s.name, s.files.size());
    per_source.push_back({{"name", s.name}, {"documents_cleaned", docs.size()}, {"documents_kept", kept},
                          {"bytes", bytes}, {"files", s.files.size()}, {"packages", inputs[si]["packages"]}});
  }
  write_output_file(info.train_path, train);
  write_output_file(info.valid_path, valid);
  write_output_file(info.calib_path, calib);
  info.sha256 = output_sha();
  info.recipe = {{"cleaner_version", kCleanerVersion},
                 {"fingerprint", fingerprint},
                 {"sha256", info.sha256},
                 {"sources", per_source},
                 {"inputs", inputs},
                 {"split", "fnv1a64(\"<source>:<document index>\") % 100: 0-1 valid, 2 calib, 3-99 train"},
                 {"filter", "is_prose: >= 4 words, >= 85% letters or spaces; exact duplicates kept once"},
                 {"duplicates_dropped", duplicates},
                 {"splits",
                  {{"train", {{"documents", n_train}, {"bytes", train.size()}, {"sha256", sha256_hex(train)}}},
                   {"valid", {{"documents", n_valid}, {"bytes", valid.size()}, {"sha256", sha256_hex(valid)}}},
                   {"calib", {{"documents", n_calib}, {"bytes", calib.size()}, {"sha256", sha256_hex(calib)}}}}}};
  write_output_file(recipe_path.string(), info.recipe.dump(2) + "\n");
  return info;
}

}  // namespace ptq
