#include "model/added_token_matcher.h"

#include "core/utf8.h"

namespace ptq {

std::vector<AddedMatcher::Segment> AddedMatcher::split(std::string_view s, const Regex& word_char) const {
  std::vector<Segment> added;
  size_t prev_stop = 0;
  for (size_t i = 0; i < s.size();) {
    int node = 0, best = -1;
    size_t best_end = 0;
    for (size_t j = i; j < s.size(); ++j) {
      node = child(node, static_cast<unsigned char>(s[j]));
      if (node < 0) break;
      if (nodes_[node].token >= 0) best = nodes_[node].token, best_end = j + 1;
    }
    if (best < 0) {
      ++i;
      continue;
    }
    const HfAddedToken& t = tokens_[best];
    size_t start = i, stop = best_end;
    i = best_end;
    if (t.single_word && (ends_with_word(s.substr(0, start), word_char) ||
                          starts_with_word(s.substr(stop), word_char)))
      continue;
    if (t.lstrip) {
      size_t b = start;
      while (b > prev_stop) {
        size_t k = b - 1;
        while (k > 0 && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
        size_t kk = k;
        if (!is_unicode_whitespace(next_cp(s, kk))) break;
        b = k;
      }
      start = b;
    }
    if (t.rstrip) {
      while (stop < s.size()) {
        size_t k = stop;
        if (!is_unicode_whitespace(next_cp(s, k))) break;
        stop = k;
      }
      i = stop;
    }
    added.push_back({start, stop, t.id});
    prev_stop = stop;
  }
  std::vector<Segment> out;
  size_t last = 0;
  for (const auto& a : added) {
    if (a.begin > last) out.push_back({last, a.begin, -1});
    out.push_back(a);
    last = a.end;
  }
  if (last < s.size()) out.push_back({last, s.size(), -1});
  return out;
}

bool AddedMatcher::ends_with_word(std::string_view s, const Regex& word_char) {
  if (s.empty()) return false;
  size_t k = s.size() - 1;
  while (k > 0 && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
  return starts_with_word(s.substr(k), word_char);
}

bool AddedMatcher::starts_with_word(std::string_view s, const Regex& word_char) {
  if (s.empty()) return false;
  const auto one = s.substr(0, utf8_char_len(static_cast<unsigned char>(s[0])));
  bool hit = false;
  word_char.for_each_match(one, [&](size_t, size_t) { hit = true; });
  return hit;
}

}  // namespace ptq
