// Added-token matcher: a byte trie giving leftmost-longest non-overlapping matches (what the reference's
// Aho-Corasick with LeftmostLongest yields), then single_word filtering and lstrip/rstrip widening.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "model/pcre_regex.h"
#include "model/tokenizer_hf.h"

namespace ptq {

class AddedMatcher {
 public:
  void add(const HfAddedToken& t) {
    if (t.content.empty()) return;
    int node = 0;
    for (unsigned char c : t.content) {
      int next = child(node, c);
      if (next < 0) {
        next = static_cast<int>(nodes_.size());
        nodes_[node].children.emplace_back(c, next);
        nodes_.emplace_back();
      }
      node = next;
    }
    nodes_[node].token = static_cast<int>(tokens_.size());
    tokens_.push_back(t);
  }
  bool empty() const { return tokens_.empty(); }

  struct Segment {
    size_t begin, end;
    int32_t id;  // -1: plain text for the model
  };
  // Splits `s` into plain and added-token segments (empty plain segments omitted).
  std::vector<Segment> split(std::string_view s, const Regex& word_char) const;

 private:
  struct Node {
    std::vector<std::pair<unsigned char, int>> children;
    int token = -1;
  };
  int child(int node, unsigned char c) const {
    for (const auto& [k, v] : nodes_[node].children)
      if (k == c) return v;
    return -1;
  }
  static bool ends_with_word(std::string_view s, const Regex& word_char);
  static bool starts_with_word(std::string_view s, const Regex& word_char);

  std::vector<Node> nodes_{1};
  std::vector<HfAddedToken> tokens_;
};

}  // namespace ptq
