// The English corpus the default model is trained on (docs/default-model.md), built from Debian packages that
// scripts/setup.sh installs and cleaned by src/train/text_clean.h:
//   kjv        bible-kjv, bible-kjv-text   `bible -l0 Gen1:1-Rev22:21`, one document per chapter
//   fortunes   fortunes, fortunes-min      /usr/share/games/fortunes/*, one document per cookie
//   jargon     jargon-text                 jargon.txt.gz, one document per paragraph
//   handbook   debian-handbook             html/en-US/*.html, one document per paragraph (code blocks dropped)
//   perldoc    perl-doc                    /usr/share/perl/*/pod/*.pod except the *delta change logs, per paragraph
// Only documents passing is_prose() are kept, each distinct text once. Each document goes to one split by a hash of its source and index:
// 2% valid (held-out evaluation), 1% calib (calibration), the rest train, so the three never share a document.
// Written to <dir>/: train.txt (one document per line), valid.txt and calib.txt (documents joined by "\n"),
// recipe.json (sources with package versions, input and output sha256, counts, the split rule). The corpus sha256
// is over the three split files; the same packages give the same bytes.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace ptq {

struct CorpusOptions {
  std::string dir;                  // output folder
  std::vector<std::string> sources; // subset of the names above; empty = all
  std::string root = "/";           // file system root the package paths are read under (PTQ_CORPUS_ROOT)
};

struct CorpusInfo {
  std::string dir;
  std::string sha256;        // over train.txt, valid.txt, calib.txt
  nlohmann::json recipe;     // contents of recipe.json
  std::string train_path, valid_path, calib_path;
};

// Every source known, in corpus order.
const std::vector<std::string>& corpus_sources();

// Builds the corpus, or reuses <dir> when its recipe.json records the same inputs and cleaner version (the files'
// sha256 are then re-checked). Throws a user error naming the package to install when a source is missing.
CorpusInfo build_corpus(const CorpusOptions& opt);

}  // namespace ptq
