#include "model/tokenizer_score_bpe.h"

#include <cstring>
#include <queue>

#include "core/error.h"
#include "model/mapped_file.h"

namespace ptq {

namespace {

size_t utf8_len(unsigned char c) {
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) return 2;
  if ((c & 0xF0) == 0xE0) return 3;
  if ((c & 0xF8) == 0xF0) return 4;
  return 1;  // stray continuation or invalid lead byte: one byte on its own (falls back to a byte token)
}

int hex_byte(const std::string& s) {
  // "<0xAB>" -> 0xAB, else -1
  if (s.size() != 6 || s[0] != '<' || s[1] != '0' || s[2] != 'x' || s[5] != '>') return -1;
  auto nib = [](char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1; };
  int hi = nib(s[3]), lo = nib(s[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

}  // namespace

ScoreBpeTokenizer::ScoreBpeTokenizer(std::vector<std::string> pieces, std::vector<float> scores,
                                     std::vector<bool> mergeable, std::optional<int32_t> bos,
                                     std::optional<int32_t> eos, std::string kind)
    : pieces_(std::move(pieces)), scores_(std::move(scores)), bos_(bos), eos_(eos), kind_(std::move(kind)) {
  PTQ_ASSERT(pieces_.size() == scores_.size() && pieces_.size() == mergeable.size(), "vocabulary arrays differ");
  byte_ids_.fill(-1);
  for (size_t i = 0; i < pieces_.size(); ++i) {
    const int b = hex_byte(pieces_[i]);
    if (b >= 0 && byte_ids_[b] < 0) byte_ids_[b] = static_cast<int32_t>(i);
    if (b < 0 && mergeable[i]) lookup_.emplace(pieces_[i], static_cast<int32_t>(i));  // first id wins on duplicates
  }
}

std::vector<int32_t> ScoreBpeTokenizer::encode(std::string_view text, bool add_bos) const {
  std::vector<int32_t> out;
  if (add_bos && bos_) out.push_back(*bos_);
  if (text.empty()) return out;

  // Symbols as a doubly linked list over a vector; merges are taken from a max-heap keyed by (score, -position) and
  // validated lazily, which reproduces run.c's "best score, leftmost" order in O(n log n).
  struct Sym {
    int32_t id;
    int prev, next;
    bool alive;
  };
  std::vector<Sym> syms;
  auto push = [&](int32_t id) { syms.push_back({id, static_cast<int>(syms.size()) - 1, static_cast<int>(syms.size()) + 1, true}); };
  if (auto it = lookup_.find(" "); it != lookup_.end()) push(it->second);
  for (size_t i = 0; i < text.size();) {
    size_t n = std::min(utf8_len(static_cast<unsigned char>(text[i])), text.size() - i);
    auto it = lookup_.find(std::string(text.substr(i, n)));
    if (it != lookup_.end()) {
      push(it->second);
    } else {
      for (size_t k = 0; k < n; ++k) {
        const int32_t b = byte_ids_[static_cast<unsigned char>(text[i + k])];
        PTQ_CHECK(b >= 0, "tokenizer has no byte token for byte 0x{:02X}", static_cast<unsigned char>(text[i + k]));
        push(b);
      }
    }
    i += n;
  }
  if (syms.empty()) return out;
  syms.back().next = -1;

  struct Cand {
    float score;
    int left;       // index of the left symbol
    int32_t left_id, right_id;  // ids when the candidate was made (stale if either changed)
    int32_t merged;
    bool operator<(const Cand& o) const { return score != o.score ? score < o.score : left > o.left; }
  };
  std::priority_queue<Cand> heap;
  std::string buf;
  auto consider = [&](int l) {
    if (l < 0) return;
    const int r = syms[l].next;
    if (r < 0) return;
    buf = pieces_[syms[l].id];
    buf += pieces_[syms[r].id];
    auto it = lookup_.find(buf);
    if (it != lookup_.end()) heap.push({scores_[it->second], l, syms[l].id, syms[r].id, it->second});
  };
  for (int i = 0; i < static_cast<int>(syms.size()); ++i) consider(i);
  while (!heap.empty()) {
    Cand c = heap.top();
    heap.pop();
    Sym& l = syms[c.left];
    if (!l.alive || l.id != c.left_id || l.next < 0 || syms[l.next].id != c.right_id) continue;
    Sym& r = syms[l.next];
    l.id = c.merged;
    r.alive = false;
    l.next = r.next;
    if (r.next >= 0) syms[r.next].prev = c.left;
    consider(l.prev);
    consider(c.left);
  }
  for (int i = 0; i >= 0; i = syms[i].next) out.push_back(syms[i].id);
  return out;
}

std::string ScoreBpeTokenizer::decode(const std::vector<int32_t>& ids) const {
  std::string out;
  for (size_t k = 0; k < ids.size(); ++k) {
    const int32_t id = ids[k];
    PTQ_CHECK(id >= 0 && id < vocab_size(), "token id {} outside the vocabulary of {}", id, vocab_size());
    if ((bos_ && id == *bos_) || (eos_ && id == *eos_)) continue;
    const std::string& p = pieces_[id];
    if (int b = hex_byte(p); b >= 0) {
      out.push_back(static_cast<char>(b));
      continue;
    }
    // run.c drops the dummy-prefix space of the first piece after BOS; do the same for the first piece of the text.
    if (out.empty() && !p.empty() && p[0] == ' ' && (k == 0 || (bos_ && ids[k - 1] == *bos_))) out += p.substr(1);
    else out += p;
  }
  return out;
}

std::unique_ptr<ScoreBpeTokenizer> load_llama2c_tokenizer(const std::string& path, int64_t vocab_size) {
  auto f = MappedFile::open(path);
  const uint8_t* p = f->data();
  const size_t size = f->size();
  size_t off = 0;
  auto need = [&](size_t n, const char* what, int64_t id) {
    PTQ_CHECK(off + n <= size, "{}: truncated llama2.c tokenizer: {} of token {} at byte {} reaches past the end ({} "
                               "bytes); is the vocabulary size {} right?",
              path, what, id, off, size, vocab_size);
  };
  need(4, "header", -1);
  off = 4;  // max_token_length: not needed
  std::vector<std::string> pieces;
  std::vector<float> scores;
  for (int64_t id = 0; id < vocab_size; ++id) {
    need(8, "score/length", id);
    float score;
    int32_t len;
    std::memcpy(&score, p + off, 4);
    std::memcpy(&len, p + off + 4, 4);
    off += 8;
    PTQ_CHECK(len >= 0 && len < 1 << 16, "{}: token {} has an invalid length {}", path, id, len);
    need(static_cast<size_t>(len), "bytes", id);
    pieces.emplace_back(reinterpret_cast<const char*>(p + off), static_cast<size_t>(len));
    scores.push_back(score);
    off += static_cast<size_t>(len);
  }
  PTQ_CHECK(off == size, "{}: {} bytes left after {} tokens: the tokenizer does not match a vocabulary of {}", path,
            size - off, vocab_size, vocab_size);
  // run.c's BOS/EOS are stored as "\n<s>\n" / "\n</s>\n" and so never match text; treat ids 0..2 as control.
  std::vector<bool> mergeable(pieces.size(), true);
  for (size_t i = 0; i < std::min<size_t>(3, pieces.size()); ++i) mergeable[i] = false;
  return std::make_unique<ScoreBpeTokenizer>(std::move(pieces), std::move(scores), std::move(mergeable), 1, 2,
                                             "llama2c");
}

}  // namespace ptq
