#include "eval/sampled_windows.h"

#include <map>
#include <set>

#include "core/error.h"
#include "data/python_random.h"

namespace ptq {

SampledWindows gptq_c4_windows(const Tokenizer& tok, const std::vector<std::string>& documents, int64_t seq_len,
                               int64_t windows, uint64_t seed) {
  PTQ_CHECK(!documents.empty(), "no documents to draw evaluation windows from");
  PTQ_CHECK(seq_len >= 2 && windows >= 1, "seq_len {} and windows {} must be positive", seq_len, windows);
  PythonRandom rng(seed);
  const int64_t n_docs = static_cast<int64_t>(documents.size());
  std::map<int64_t, std::vector<int32_t>> long_enough;  // encoded documents of >= seq_len tokens
  std::set<int64_t> too_short;
  SampledWindows out;
  out.ids.reserve(static_cast<size_t>(windows * seq_len));
  for (int64_t w = 0; w < windows; ++w) {
    const std::vector<int32_t>* ids = nullptr;
    int64_t doc = 0;
    while (ids == nullptr) {
      doc = rng.randint(0, n_docs - 1);
      if (too_short.count(doc)) continue;
      auto it = long_enough.find(doc);
      if (it == long_enough.end()) {
        std::vector<int32_t> enc = tok.encode(documents[static_cast<size_t>(doc)], /*add_bos=*/true);
        ++out.documents_encoded;
        if (static_cast<int64_t>(enc.size()) < seq_len) {
          too_short.insert(doc);
          PTQ_CHECK(static_cast<int64_t>(too_short.size()) < n_docs,
                    "none of the {} documents encodes to seq_len {} tokens or more", n_docs, seq_len);
          continue;
        }
        it = long_enough.emplace(doc, std::move(enc)).first;
      }
      ids = &it->second;
    }
    const int64_t len = static_cast<int64_t>(ids->size());
    const int64_t start = len > seq_len ? rng.randint(0, len - seq_len - 1) : 0;
    out.ids.insert(out.ids.end(), ids->begin() + start, ids->begin() + start + seq_len);
    out.picks.emplace_back(doc, start);
  }
  return out;
}

}  // namespace ptq
