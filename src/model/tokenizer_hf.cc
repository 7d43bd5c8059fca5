// HF tokenizer.json BPE tokenizer; see tokenizer_hf.h for what is supported and docs/formats.md for the format.
// The rules below follow the behaviour of Hugging Face's `tokenizers` library (checked against it by
// tests/unit/tokenizer_hf_test.cc with golden ids from scripts/fixtures/make_tokenizer_fixtures.py).
#include "model/tokenizer_hf.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <filesystem>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <queue>
#include <unordered_map>

#include "core/error.h"
#include "core/read_file.h"
#include "core/utf8.h"
#include "model/added_token_matcher.h"
#include "model/byte_level.h"
#include "model/pcre_regex.h"
#include "model/unicode_nfc.h"

namespace ptq {
namespace {

using json = nlohmann::json;

// ---------------------------------------------------------------------------------------------------------------
// Components

struct StrHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using StrMap = std::unordered_map<std::string, int32_t, StrHash, std::equal_to<>>;

// Replaces every non-overlapping occurrence of `from` (literal, or regex when `re` is set) in `s` by `to`.
std::string replace_all(std::string_view s, const std::string& from, const Regex* re, const std::string& to) {
  std::string out;
  size_t last = 0;
  if (re) {
    re->for_each_match(s, [&](size_t b, size_t e) {
      out.append(s.substr(last, b - last));
      out += to;
      last = e;
    });
  } else if (!from.empty()) {
    for (size_t p = s.find(from); p != std::string_view::npos; p = s.find(from, last)) {
      out.append(s.substr(last, p - last));
      out += to;
      last = p + from.size();
    }
  }
  out.append(s.substr(last));
  return out;
}

struct NormStep {
  enum Kind { kNfc, kPrepend, kReplace } kind;
  std::string a{}, b{};            // Prepend: a; Replace: a (literal pattern) -> b
  std::shared_ptr<Regex> regex{};  // Replace with a Regex pattern
};

enum class SplitBehavior { kIsolated, kRemoved };
enum class PrependScheme { kFirst, kAlways, kNever };

struct PreStep {
  enum Kind { kSplit, kByteLevel, kMetaspace } kind;
  std::shared_ptr<Regex> regex{};  // Split (String patterns are compiled as escaped regexes); ByteLevel with use_regex
  SplitBehavior behavior = SplitBehavior::kIsolated;
  bool add_prefix_space = false;  // ByteLevel
  std::string replacement{};      // Metaspace
  PrependScheme prepend = PrependScheme::kAlways;
  bool split = false;  // Metaspace: split before each replacement character
};

struct DecStep {
  enum Kind { kByteLevel, kReplace, kByteFallback, kFuse, kStrip, kMetaspace } kind;
  std::string a{}, b{};  // Replace: a -> b; Strip: a = content character; Metaspace: a = replacement
  int start = 0, stop = 0;
  PrependScheme prepend = PrependScheme::kAlways;
};

// A piece of text during pre-tokenization; at_start: it begins at offset 0 of the input (Metaspace "first").
struct Piece {
  std::string text;
  bool at_start;
};

}  // namespace

// ---------------------------------------------------------------------------------------------------------------

struct HfBpeTokenizer::Impl {
  std::string origin;  // file (or other source) named in errors

  std::vector<NormStep> normalizer;
  std::vector<PreStep> pre;
  bool has_decoder = false;
  std::vector<DecStep> decoder;

  // BPE model
  StrMap vocab;                                // token -> id
  std::vector<std::string> id_to_vocab;        // id -> token ("" for holes)
  std::vector<bool> id_in_vocab;
  std::unordered_map<uint64_t, std::pair<int32_t, int32_t>> merges;  // (left id << 32 | right id) -> (rank, merged id)
  bool ignore_merges = false, byte_fallback = false, fuse_unk = false;
  std::optional<int32_t> unk_id;
  std::array<int32_t, 256> byte_ids{};  // <0xHH> ids for byte fallback, -1 when missing

  // Added tokens
  std::vector<HfAddedToken> added;
  std::unordered_map<int32_t, size_t> added_by_id;
  StrMap added_by_content;
  AddedMatcher raw_matcher, normalized_matcher;
  std::unique_ptr<Regex> word_char;  // single_word boundaries: Rust's char::is_alphanumeric

  std::optional<int32_t> bos, eos;
  int64_t n_ids = 0;

  // Per-piece cache: natural text repeats its words, and merging is the costly part.
  mutable std::mutex cache_mu;
  mutable std::unordered_map<std::string, std::vector<int32_t>, StrHash, std::equal_to<>> cache;

  void set_vocab(std::vector<std::pair<std::string, int32_t>> entries);
  void add_merge(const std::string& a, const std::string& b, int32_t rank, const std::string& where);
  void finish();

  std::string normalize(std::string_view s) const;
  std::vector<Piece> pre_tokenize(std::string s, bool at_start) const;
  void bpe(std::string_view piece, std::vector<int32_t>& out) const;
  void bpe_uncached(std::string_view piece, std::vector<int32_t>& out) const;
  void encode_plain(std::string_view s, bool at_start, std::vector<int32_t>& out) const;
};

// Takes the model vocabulary as (token, id) pairs; ids may leave holes.
void HfBpeTokenizer::Impl::set_vocab(std::vector<std::pair<std::string, int32_t>> entries) {
  int32_t max_id = -1;
  for (const auto& [tok, id] : entries) {
    PTQ_CHECK(id >= 0, "{}: model.vocab: token '{}' has negative id {}", origin, tok, id);
    max_id = std::max(max_id, id);
  }
  id_to_vocab.assign(max_id + 1, std::string());
  id_in_vocab.assign(max_id + 1, false);
  vocab.reserve(entries.size() * 2);
  for (auto& [tok, id] : entries) {
    id_to_vocab[id] = tok;
    id_in_vocab[id] = true;
    vocab.emplace(std::move(tok), id);
  }
}

// Registers merge (a, b) with `rank`; a, b and a+b must be vocabulary tokens. A repeated pair keeps the later rank.
void HfBpeTokenizer::Impl::add_merge(const std::string& a, const std::string& b, int32_t rank,
                                     const std::string& where) {
  auto ia = vocab.find(a), ib = vocab.find(b);
  PTQ_CHECK(ia != vocab.end(), "{}: {}: token '{}' is not in model.vocab", origin, where, a);
  PTQ_CHECK(ib != vocab.end(), "{}: {}: token '{}' is not in model.vocab", origin, where, b);
  auto im = vocab.find(a + b);
  PTQ_CHECK(im != vocab.end(), "{}: {}: merged token '{}' is not in model.vocab", origin, where, a + b);
  merges[(static_cast<uint64_t>(ia->second) << 32) | static_cast<uint32_t>(ib->second)] = {rank, im->second};
}

// Derived tables once vocabulary, merges and added tokens are set.
void HfBpeTokenizer::Impl::finish() {
  for (int b = 0; b < 256; ++b) {
    auto it = vocab.find(fmt::format("<0x{:02X}>", b));
    byte_ids[b] = it == vocab.end() ? -1 : it->second;
  }
  n_ids = static_cast<int64_t>(id_to_vocab.size());
  word_char = std::make_unique<Regex>(R"(^[\p{Alphabetic}\p{N}])", origin);
  for (size_t i = 0; i < added.size(); ++i) {
    const auto& t = added[i];
    PTQ_CHECK(t.id >= 0, "{}: added_tokens: '{}' has negative id {}", origin, t.content, t.id);
    added_by_id[t.id] = i;
    added_by_content[t.content] = t.id;
    (t.normalized ? normalized_matcher : raw_matcher).add(t);
    n_ids = std::max<int64_t>(n_ids, t.id + 1);
  }
  if (bos) PTQ_CHECK(*bos >= 0 && *bos < n_ids, "{}: BOS id {} is outside the vocabulary", origin, *bos);
  if (eos) PTQ_CHECK(*eos >= 0 && *eos < n_ids, "{}: EOS id {} is outside the vocabulary", origin, *eos);
}

std::string HfBpeTokenizer::Impl::normalize(std::string_view s) const {
  std::string t(s);
  for (const auto& n : normalizer) {
    switch (n.kind) {
      case NormStep::kNfc:
        t = nfc(t);
        break;
      case NormStep::kPrepend:
        // The reference prepends to non-empty text only.
        if (!t.empty()) t = n.a + t;
        break;
      case NormStep::kReplace:
        t = replace_all(t, n.a, n.regex.get(), n.b);
        break;
    }
  }
  return t;
}

std::vector<Piece> HfBpeTokenizer::Impl::pre_tokenize(std::string s, bool at_start) const {
  std::vector<Piece> pieces;
  pieces.push_back({std::move(s), at_start});
  const auto& bl = byte_level_table();
  for (const auto& p : pre) {
    std::vector<Piece> next;
    // Splits every piece by `re` into matches and gaps; Isolated keeps both, Removed only the gaps.
    auto split_by = [&](const Regex& re, SplitBehavior behavior, std::vector<Piece>& in) {
      std::vector<Piece> out;
      for (auto& piece : in) {
        size_t last = 0;
        const std::string_view text = piece.text;
        auto emit = [&](size_t b, size_t e) {
          if (e > b) out.push_back({std::string(text.substr(b, e - b)), piece.at_start && b == 0});
        };
        re.for_each_match(text, [&](size_t b, size_t e) {
          emit(last, b);
          if (behavior == SplitBehavior::kIsolated) emit(b, e);
          last = e;
        });
        emit(last, text.size());
      }
      in = std::move(out);
    };
    switch (p.kind) {
      case PreStep::kSplit:
        split_by(*p.regex, p.behavior, pieces);
        break;
      case PreStep::kByteLevel:
        if (p.add_prefix_space)
          for (auto& piece : pieces)
            if (piece.text.empty() || piece.text[0] != ' ') piece.text.insert(0, " ");
        if (p.regex) split_by(*p.regex, SplitBehavior::kIsolated, pieces);
        for (auto& piece : pieces) {
          std::string mapped;
          mapped.reserve(piece.text.size() * 2);
          for (unsigned char c : piece.text) mapped += bl.byte_to_str[c];
          piece.text = std::move(mapped);
        }
        break;
      case PreStep::kMetaspace:
        for (auto& piece : pieces) {
          piece.text = replace_all(piece.text, " ", nullptr, p.replacement);
          const bool has = piece.text.compare(0, p.replacement.size(), p.replacement) == 0;
          if (!has && (p.prepend == PrependScheme::kAlways || (p.prepend == PrependScheme::kFirst && piece.at_start)))
            piece.text.insert(0, p.replacement);
        }
        if (p.split) {
          // Each replacement character starts a new piece (MergedWithNext).
          for (auto& piece : pieces) {
            size_t b = 0;
            for (size_t k = piece.text.find(p.replacement, 1); k != std::string::npos;
                 k = piece.text.find(p.replacement, k + 1)) {
              next.push_back({piece.text.substr(b, k - b), piece.at_start && b == 0});
              b = k;
            }
            next.push_back({piece.text.substr(b), piece.at_start && b == 0});
          }
          pieces = std::move(next);
        }
        break;
    }
  }
  return pieces;
}

// BPE on one pre-token piece, appending its ids to `out`.
void HfBpeTokenizer::Impl::bpe(std::string_view piece, std::vector<int32_t>& out) const {
  if (piece.empty()) return;
  if (ignore_merges) {
    // Llama 3: a piece that is itself a vocabulary token is emitted whole, even when merges would split it.
    auto it = vocab.find(piece);
    if (it != vocab.end()) {
      out.push_back(it->second);
      return;
    }
  }
  constexpr size_t kMaxCachedPiece = 128, kMaxCacheEntries = 1 << 18;
  const bool cacheable = piece.size() <= kMaxCachedPiece;
  if (cacheable) {
    std::lock_guard lock(cache_mu);
    auto it = cache.find(piece);
    if (it != cache.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> ids;
  bpe_uncached(piece, ids);
  out.insert(out.end(), ids.begin(), ids.end());
  if (cacheable) {
    std::lock_guard lock(cache_mu);
    if (cache.size() >= kMaxCacheEntries) cache.clear();  // bounded memory on endless distinct text
    cache.emplace(std::string(piece), std::move(ids));
  }
}

void HfBpeTokenizer::Impl::bpe_uncached(std::string_view piece, std::vector<int32_t>& out) const {
  struct Sym {
    int32_t id;
    int prev, next;  // neighbours in the linked list of live symbols (-1: none)
    bool alive;
  };
  std::vector<Sym> syms;
  syms.reserve(piece.size());
  auto push = [&](int32_t id) {
    const int n = static_cast<int>(syms.size());
    syms.push_back({id, n - 1, -1, true});
    if (n > 0) syms[n - 1].next = n;
  };
  // One symbol per character; a character outside the vocabulary becomes its <0xHH> byte tokens (byte_fallback)
  // or unk (consecutive unknowns fused into one with fuse_unk), and is dropped when there is neither (as the
  // reference does).
  bool pending_unk = false;
  for (size_t i = 0; i < piece.size();) {
    const size_t len = utf8_char_len(static_cast<unsigned char>(piece[i]));
    const std::string_view ch = piece.substr(i, len);
    i += len;
    auto it = vocab.find(ch);
    if (it != vocab.end()) {
      if (pending_unk) push(*unk_id), pending_unk = false;
      push(it->second);
      continue;
    }
    if (byte_fallback && std::all_of(ch.begin(), ch.end(), [&](char c) { return byte_ids[uint8_t(c)] >= 0; })) {
      if (pending_unk) push(*unk_id), pending_unk = false;
      for (char c : ch) push(byte_ids[static_cast<uint8_t>(c)]);
      continue;
    }
    if (!unk_id) continue;
    if (pending_unk && !fuse_unk) push(*unk_id);
    pending_unk = true;
  }
  if (pending_unk) push(*unk_id);
  if (syms.size() > 1 && !merges.empty()) {
    // Repeatedly merge the live adjacent pair of lowest rank, leftmost first. Queue entries record the pair they
    // were made for and are skipped when a neighbouring merge changed it since.
    struct Cand {
      int32_t rank;
      int pos;  // left symbol index; symbol indices keep text order, so smaller = further left
      int right;
      int32_t left_id, right_id, merged;
      bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
    };
    std::priority_queue<Cand, std::vector<Cand>, std::greater<>> queue;
    auto consider = [&](int l) {
      if (l < 0) return;
      const int r = syms[l].next;
      if (r < 0) return;
      auto it = merges.find((static_cast<uint64_t>(syms[l].id) << 32) | static_cast<uint32_t>(syms[r].id));
      if (it != merges.end()) queue.push({it->second.first, l, r, syms[l].id, syms[r].id, it->second.second});
    };
    for (int i = 0; i + 1 < static_cast<int>(syms.size()); ++i) consider(i);
    while (!queue.empty()) {
      const Cand c = queue.top();
      queue.pop();
      Sym& l = syms[c.pos];
      if (!l.alive || l.next != c.right || l.id != c.left_id || syms[c.right].id != c.right_id) continue;
      Sym& r = syms[c.right];
      l.id = c.merged;
      l.next = r.next;
      if (r.next >= 0) syms[r.next].prev = c.pos;
      r.alive = false;
      consider(l.prev);
      consider(c.pos);
    }
  }
  for (const auto& s : syms)
    if (s.alive) out.push_back(s.id);
}

// Normalizer, normalized added tokens, pre-tokenizer and model on text that holds no raw-matched added token.
void HfBpeTokenizer::Impl::encode_plain(std::string_view s, bool at_start, std::vector<int32_t>& out) const {
  const std::string normalized = normalize(s);
  auto model = [&](std::string_view part, bool part_at_start) {
    for (const auto& piece : pre_tokenize(std::string(part), part_at_start)) bpe(piece.text, out);
  };
  if (normalized_matcher.empty()) {
    model(normalized, at_start);
    return;
  }
  for (const auto& seg : normalized_matcher.split(normalized, *word_char)) {
    if (seg.id >= 0)
      out.push_back(seg.id);
    else
      model(std::string_view(normalized).substr(seg.begin, seg.end - seg.begin), at_start && seg.begin == 0);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// tokenizer.json reading

namespace {

// Error prefix naming the file, as in "tokenizer.json '/x/tokenizer.json'".
std::string file_label(const std::string& path) { return fmt::format("tokenizer.json '{}'", path); }

// Token ids index tables of that size: an id far beyond any real vocabulary (the largest are ~256k) is a corrupt file,
// not a reason to allocate gigabytes.
constexpr int64_t kMaxTokenId = int64_t{1} << 24;

json parse_json(const std::string& text, const std::string& label) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for a number beyond double (fuzzing found it)
    PTQ_FAIL("{}: malformed JSON: {}", label, e.what());
  }
}

// Typed member access; errors name the key path.
const json* member(const json& j, const char* key) {
  auto it = j.find(key);
  return it == j.end() || it->is_null() ? nullptr : &*it;
}
std::string get_string(const json& j, const char* key, const std::string& where, const std::string& label) {
  const json* v = member(j, key);
  PTQ_CHECK(v && v->is_string(), "{}: {}.{} must be a string", label, where, key);
  return v->get<std::string>();
}
bool get_bool(const json& j, const char* key, bool def, const std::string& where, const std::string& label) {
  const json* v = member(j, key);
  if (!v) return def;
  PTQ_CHECK(v->is_boolean(), "{}: {}.{} must be true or false", label, where, key);
  return v->get<bool>();
}
int get_int(const json& j, const char* key, int def, const std::string& where, const std::string& label) {
  const json* v = member(j, key);
  if (!v) return def;
  PTQ_CHECK(v->is_number_integer(), "{}: {}.{} must be an integer", label, where, key);
  return v->get<int>();
}
// Single-code-point string (Metaspace replacement, Strip content).
std::string get_char(const json& j, const char* key, const std::string& where, const std::string& label) {
  std::string s = get_string(j, key, where, label);
  PTQ_CHECK(!s.empty() && is_valid_utf8(s) && static_cast<size_t>(utf8_char_len(s[0])) == s.size(),
            "{}: {}.{} must be one character, got '{}'", label, where, key, s);
  return s;
}

// A {"String": s} or {"Regex": r} pattern: literal (regex empty) or compiled regex.
std::pair<std::string, std::shared_ptr<Regex>> get_pattern(const json& j, const std::string& where,
                                                           const std::string& label) {
  const json* p = member(j, "pattern");
  PTQ_CHECK(p && p->is_object(), "{}: {}.pattern must be {{\"String\": ...}} or {{\"Regex\": ...}}", label, where);
  if (const json* s = member(*p, "String")) {
    PTQ_CHECK(s->is_string(), "{}: {}.pattern.String must be a string", label, where);
    return {s->get<std::string>(), nullptr};
  }
  const json* r = member(*p, "Regex");
  PTQ_CHECK(r && r->is_string(), "{}: {}.pattern must be {{\"String\": ...}} or {{\"Regex\": ...}}", label, where);
  return {std::string(), std::make_shared<Regex>(r->get<std::string>(), label + ": " + where + ".pattern.Regex")};
}

// Quotes regex metacharacters so a String pattern can run on the regex splitter.
std::string regex_quote(const std::string& s) { return "\\Q" + s + "\\E"; }

PrependScheme get_prepend_scheme(const json& j, const std::string& where, const std::string& label) {
  if (const json* v = member(j, "prepend_scheme")) {
    PTQ_CHECK(v->is_string(), "{}: {}.prepend_scheme must be a string", label, where);
    const std::string s = v->get<std::string>();
    if (s == "first") return PrependScheme::kFirst;
    if (s == "always") return PrependScheme::kAlways;
    if (s == "never") return PrependScheme::kNever;
    PTQ_FAIL("{}: {}.prepend_scheme '{}' is not supported (first, always, never)", label, where, s);
  }
  // Files from before prepend_scheme: add_prefix_space true = always, false = never.
  return get_bool(j, "add_prefix_space", true, where, label) ? PrependScheme::kAlways : PrependScheme::kNever;
}

void parse_normalizer(const json& j, const std::string& where, const std::string& label, std::vector<NormStep>& out) {
  if (j.is_null()) return;
  PTQ_CHECK(j.is_object(), "{}: {} must be an object or null", label, where);
  const std::string type = get_string(j, "type", where, label);
  if (type == "Sequence") {
    const json* list = member(j, "normalizers");
    PTQ_CHECK(list && list->is_array(), "{}: {}.normalizers must be a list", label, where);
    for (size_t i = 0; i < list->size(); ++i)
      parse_normalizer((*list)[i], fmt::format("{}.normalizers[{}]", where, i), label, out);
  } else if (type == "NFC") {
    out.push_back({NormStep::kNfc, {}, {}, nullptr});
  } else if (type == "Prepend") {
    out.push_back({NormStep::kPrepend, get_string(j, "prepend", where, label), {}, nullptr});
  } else if (type == "Replace") {
    auto [lit, re] = get_pattern(j, where, label);
    out.push_back({NormStep::kReplace, lit, get_string(j, "content", where, label), re});
  } else {
    PTQ_FAIL("{}: {}.type '{}' is not supported (NFC, Prepend, Replace, Sequence)", label, where, type);
  }
}

void parse_pre_tokenizer(const json& j, const std::string& where, const std::string& label, std::vector<PreStep>& out) {
  if (j.is_null()) return;
  PTQ_CHECK(j.is_object(), "{}: {} must be an object or null", label, where);
  const std::string type = get_string(j, "type", where, label);
  if (type == "Sequence") {
    const json* list = member(j, "pretokenizers");
    PTQ_CHECK(list && list->is_array(), "{}: {}.pretokenizers must be a list", label, where);
    for (size_t i = 0; i < list->size(); ++i)
      parse_pre_tokenizer((*list)[i], fmt::format("{}.pretokenizers[{}]", where, i), label, out);
  } else if (type == "Split") {
    PreStep s{PreStep::kSplit};
    auto [lit, re] = get_pattern(j, where, label);
    s.regex = re ? re : std::make_shared<Regex>(regex_quote(lit), label + ": " + where + ".pattern.String");
    const std::string behavior = get_string(j, "behavior", where, label);
    if (behavior == "Isolated")
      s.behavior = SplitBehavior::kIsolated;
    else if (behavior == "Removed")
      s.behavior = SplitBehavior::kRemoved;
    else
      PTQ_FAIL("{}: {}.behavior '{}' is not supported (Isolated, Removed)", label, where, behavior);
    PTQ_CHECK(!get_bool(j, "invert", false, where, label), "{}: {}.invert true is not supported", label, where);
    out.push_back(std::move(s));
  } else if (type == "Digits") {
    // Numeric characters (Unicode N*, what the reference's char::is_numeric tests) split off: each one alone
    // (individual_digits) or runs of them.
    PreStep s{PreStep::kSplit};
    const bool individual = get_bool(j, "individual_digits", false, where, label);
    s.regex = std::make_shared<Regex>(individual ? "\\p{N}" : "\\p{N}+", label + ": " + where);
    s.behavior = SplitBehavior::kIsolated;
    out.push_back(std::move(s));
  } else if (type == "ByteLevel") {
    PreStep s{PreStep::kByteLevel};
    s.add_prefix_space = get_bool(j, "add_prefix_space", false, where, label);
    if (get_bool(j, "use_regex", true, where, label)) s.regex = std::make_shared<Regex>(kGpt2Pattern, label);
    out.push_back(std::move(s));
  } else if (type == "Metaspace") {
    PreStep s{PreStep::kMetaspace};
    s.replacement = get_char(j, "replacement", where, label);
    s.prepend = get_prepend_scheme(j, where, label);
    s.split = get_bool(j, "split", true, where, label);
    out.push_back(std::move(s));
  } else {
    PTQ_FAIL("{}: {}.type '{}' is not supported (ByteLevel, Split, Digits, Metaspace, Sequence)", label, where, type);
  }
}

void parse_decoder(const json& j, const std::string& where, const std::string& label, std::vector<DecStep>& out) {
  PTQ_CHECK(j.is_object(), "{}: {} must be an object or null", label, where);
  const std::string type = get_string(j, "type", where, label);
  if (type == "Sequence") {
    const json* list = member(j, "decoders");
    PTQ_CHECK(list && list->is_array(), "{}: {}.decoders must be a list", label, where);
    for (size_t i = 0; i < list->size(); ++i)
      parse_decoder((*list)[i], fmt::format("{}.decoders[{}]", where, i), label, out);
  } else if (type == "ByteLevel") {
    out.push_back({DecStep::kByteLevel});
  } else if (type == "Replace") {
    auto [lit, re] = get_pattern(j, where, label);
    PTQ_CHECK(!re, "{}: {}.pattern: only String patterns are supported in decoders", label, where);
    out.push_back({DecStep::kReplace, lit, get_string(j, "content", where, label)});
  } else if (type == "ByteFallback") {
    out.push_back({DecStep::kByteFallback});
  } else if (type == "Fuse") {
    out.push_back({DecStep::kFuse});
  } else if (type == "Strip") {
    DecStep s{DecStep::kStrip, get_char(j, "content", where, label)};
    s.start = get_int(j, "start", 0, where, label);
    s.stop = get_int(j, "stop", 0, where, label);
    out.push_back(std::move(s));
  } else if (type == "Metaspace") {
    DecStep s{DecStep::kMetaspace, get_char(j, "replacement", where, label)};
    s.prepend = get_prepend_scheme(j, where, label);
    out.push_back(std::move(s));
  } else {
    PTQ_FAIL("{}: {}.type '{}' is not supported (ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace, Sequence)",
             label, where, type);
  }
}

// The BOS the post-processor's template puts first: TemplateProcessing.single[0] = {"SpecialToken": {"id": name}}
// with special_tokens[name].ids[0]; searched inside a Sequence too.
std::optional<int32_t> template_bos(const json& pp, const std::string& label) {
  if (!pp.is_object()) return std::nullopt;
  // Untrusted JSON: a key of another type than expected reads as absent here (value() would throw type_error).
  auto text = [](const json& o, const char* key) {
    const json* v = member(o, key);
    return v && v->is_string() ? v->get<std::string>() : std::string();
  };
  const std::string type = text(pp, "type");
  if (type == "Sequence") {
    if (const json* list = member(pp, "processors"); list && list->is_array())
      for (const auto& p : *list)
        if (auto b = template_bos(p, label)) return b;
    return std::nullopt;
  }
  if (type != "TemplateProcessing") return std::nullopt;
  const json* single = member(pp, "single");
  if (!single || !single->is_array() || single->empty()) return std::nullopt;
  const json* st = member((*single)[0], "SpecialToken");
  if (!st) return std::nullopt;
  const std::string name = text(*st, "id");
  const json* specials = member(pp, "special_tokens");
  const json* entry = specials ? member(*specials, name.c_str()) : nullptr;
  const json* ids = entry ? member(*entry, "ids") : nullptr;
  PTQ_CHECK(ids && ids->is_array() && !ids->empty() && (*ids)[0].is_number_integer(),
            "{}: post_processor.special_tokens has no integer ids for '{}'", label, name);
  const int64_t id = (*ids)[0].get<int64_t>();
  PTQ_CHECK(id >= 0 && id < kMaxTokenId, "{}: post_processor.special_tokens['{}'].ids[0] {} is outside 0..{}", label,
            name, id, kMaxTokenId - 1);
  return static_cast<int32_t>(id);
}

// bos_token / eos_token of a tokenizer_config.json: a string, or an object with "content" (AddedToken form).
std::optional<std::string> config_token(const json& cfg, const char* key, const std::string& label) {
  const json* v = member(cfg, key);
  if (!v) return std::nullopt;
  if (v->is_string()) return v->get<std::string>();
  PTQ_CHECK(v->is_object() && v->contains("content") && (*v)["content"].is_string(),
            "{}: {} must be a string, an object with \"content\", or null", label, key);
  return (*v)["content"].get<std::string>();
}

}  // namespace

HfBpeTokenizer::HfBpeTokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HfBpeTokenizer::~HfBpeTokenizer() = default;

std::unique_ptr<HfBpeTokenizer> HfBpeTokenizer::from_file(const std::string& path) {
  return from_json_text(read_file(path, "tokenizer.json"), path);
}

std::unique_ptr<HfBpeTokenizer> HfBpeTokenizer::from_json_text(const std::string& text, const std::string& path,
                                                               bool read_config) {
  const std::string label = file_label(path);
  const json root = parse_json(text, label);
  PTQ_CHECK(root.is_object(), "{}: the top level must be a JSON object", label);

  auto impl = std::make_unique<Impl>();
  impl->origin = label;

  // Model
  const json* model = member(root, "model");
  PTQ_CHECK(model && model->is_object(), "{}: model is missing", label);
  const std::string type = model->contains("type") ? get_string(*model, "type", "model", label) : "BPE";
  PTQ_CHECK(type == "BPE", "{}: model.type '{}' is not supported (BPE only)", label, type);
  if (const json* d = member(*model, "dropout"))
    PTQ_CHECK(d->is_number() && d->get<double>() == 0.0, "{}: model.dropout is not supported (must be null)", label);
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    const json* v = member(*model, key);
    PTQ_CHECK(!v || (v->is_string() && v->get<std::string>().empty()),
              "{}: model.{} is not supported (must be null or empty)", label, key);
  }
  const json* vocab = member(*model, "vocab");
  PTQ_CHECK(vocab && vocab->is_object(), "{}: model.vocab must be an object mapping token to id", label);
  {
    std::vector<std::pair<std::string, int32_t>> entries;
    entries.reserve(vocab->size());
    for (auto it = vocab->begin(); it != vocab->end(); ++it) {
      PTQ_CHECK(it.value().is_number_integer(), "{}: model.vocab['{}'] must be an integer id", label, it.key());
      const int64_t id = it.value().get<int64_t>();
      PTQ_CHECK(id >= 0 && id < kMaxTokenId, "{}: model.vocab['{}']: id {} is outside 0..{}", label, it.key(),
                it.value().dump(), kMaxTokenId - 1);
      entries.emplace_back(it.key(), static_cast<int32_t>(id));
    }
    impl->set_vocab(std::move(entries));
  }
  const json* merges = member(*model, "merges");
  if (merges) {
    PTQ_CHECK(merges->is_array(), "{}: model.merges must be a list", label);
    impl->merges.reserve(merges->size() * 2);
    int32_t rank = 0;
    for (size_t i = 0; i < merges->size(); ++i) {
      const json& m = (*merges)[i];
      if (m.is_string()) {
        const auto& s = m.get_ref<const std::string&>();
        if (s.rfind("#version", 0) == 0) continue;
        const size_t sp = s.find(' ');
        PTQ_CHECK(sp != std::string::npos && s.find(' ', sp + 1) == std::string::npos,
                  "{}: model.merges[{}] '{}' must be two tokens separated by one space", label, i, s);
        impl->add_merge(s.substr(0, sp), s.substr(sp + 1), rank++, fmt::format("model.merges[{}]", i));
      } else {
        PTQ_CHECK(m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string(),
                  "{}: model.merges[{}] must be \"a b\" or [\"a\", \"b\"]", label, i);
        impl->add_merge(m[0].get<std::string>(), m[1].get<std::string>(), rank++, fmt::format("model.merges[{}]", i));
      }
    }
  }
  impl->ignore_merges = get_bool(*model, "ignore_merges", false, "model", label);
  impl->byte_fallback = get_bool(*model, "byte_fallback", false, "model", label);
  impl->fuse_unk = get_bool(*model, "fuse_unk", false, "model", label);
  if (member(*model, "unk_token")) {
    const std::string unk = get_string(*model, "unk_token", "model", label);
    auto it = impl->vocab.find(unk);
    PTQ_CHECK(it != impl->vocab.end(), "{}: model.unk_token '{}' is not in model.vocab", label, unk);
    impl->unk_id = it->second;
  }

  // Added tokens
  if (const json* added = member(root, "added_tokens")) {
    PTQ_CHECK(added->is_array(), "{}: added_tokens must be a list", label);
    for (size_t i = 0; i < added->size(); ++i) {
      const json& a = (*added)[i];
      const std::string where = fmt::format("added_tokens[{}]", i);
      PTQ_CHECK(a.is_object() && a.contains("id") && a["id"].is_number_integer(), "{}: {}.id must be an integer",
                label, where);
      PTQ_CHECK(a["id"].get<int64_t>() >= 0 && a["id"].get<int64_t>() < kMaxTokenId, "{}: {}.id {} is outside 0..{}",
                label, where, a["id"].dump(), kMaxTokenId - 1);
      HfAddedToken t;
      t.id = static_cast<int32_t>(a["id"].get<int64_t>());
      t.content = get_string(a, "content", where, label);
      t.special = get_bool(a, "special", false, where, label);
      t.lstrip = get_bool(a, "lstrip", false, where, label);
      t.rstrip = get_bool(a, "rstrip", false, where, label);
      t.single_word = get_bool(a, "single_word", false, where, label);
      // The reference's default: special tokens are matched raw, others normalized.
      t.normalized = get_bool(a, "normalized", !t.special, where, label);
      impl->added.push_back(std::move(t));
    }
  }

  // Pipeline components
  if (const json* n = member(root, "normalizer")) parse_normalizer(*n, "normalizer", label, impl->normalizer);
  if (const json* p = member(root, "pre_tokenizer")) parse_pre_tokenizer(*p, "pre_tokenizer", label, impl->pre);
  if (const json* d = member(root, "decoder")) {
    impl->has_decoder = true;
    parse_decoder(*d, "decoder", label, impl->decoder);
  }

  // BOS / EOS: the post-processor's template first, then tokenizer_config.json beside the file.
  if (const json* pp = member(root, "post_processor")) impl->bos = template_bos(*pp, label);
  const auto config_path = std::filesystem::path(path).parent_path() / "tokenizer_config.json";
  auto lookup = [&](const std::string& tok) -> std::optional<int32_t> {
    for (const auto& a : impl->added)
      if (a.content == tok) return a.id;
    auto it = impl->vocab.find(tok);
    return it == impl->vocab.end() ? std::nullopt : std::optional<int32_t>(it->second);
  };
  if (read_config && std::filesystem::is_regular_file(config_path)) {
    const std::string clabel = fmt::format("tokenizer_config.json '{}'", config_path.string());
    const json cfg = parse_json(read_file(config_path.string(), "tokenizer_config.json"), clabel);
    PTQ_CHECK(cfg.is_object(), "{}: the top level must be a JSON object", clabel);
    if (!impl->bos) {
      if (auto tok = config_token(cfg, "bos_token", clabel)) {
        impl->bos = lookup(*tok);
        PTQ_CHECK(impl->bos, "{}: bos_token '{}' is not a token of {}", clabel, *tok, path);
      }
    }
    if (auto tok = config_token(cfg, "eos_token", clabel)) {
      impl->eos = lookup(*tok);
      PTQ_CHECK(impl->eos, "{}: eos_token '{}' is not a token of {}", clabel, *tok, path);
    }
  }
  impl->finish();
  return std::unique_ptr<HfBpeTokenizer>(new HfBpeTokenizer(std::move(impl)));
}

std::unique_ptr<HfBpeTokenizer> HfBpeTokenizer::from_spec(const HfBpeSpec& spec, const std::string& origin) {
  auto impl = std::make_unique<Impl>();
  impl->origin = origin;
  {
    std::vector<std::pair<std::string, int32_t>> entries;
    entries.reserve(spec.vocab.size());
    for (size_t i = 0; i < spec.vocab.size(); ++i) entries.emplace_back(spec.vocab[i], static_cast<int32_t>(i));
    impl->set_vocab(std::move(entries));
  }
  impl->merges.reserve(spec.merges.size() * 2);
  for (size_t i = 0; i < spec.merges.size(); ++i)
    impl->add_merge(spec.merges[i].first, spec.merges[i].second, static_cast<int32_t>(i), fmt::format("merges[{}]", i));
  impl->ignore_merges = spec.ignore_merges;
  impl->byte_fallback = spec.byte_fallback;
  impl->fuse_unk = spec.fuse_unk;
  if (spec.unk_token) {
    auto it = impl->vocab.find(*spec.unk_token);
    PTQ_CHECK(it != impl->vocab.end(), "{}: unk token '{}' is not in the vocabulary", origin, *spec.unk_token);
    impl->unk_id = it->second;
  }
  impl->added = spec.added_tokens;

  using N = HfBpeSpec::Normalizer;
  using P = HfBpeSpec::PreTokenizer;
  if (spec.normalizer == N::kNfc) impl->normalizer.push_back({NormStep::kNfc, {}, {}, nullptr});
  if (spec.normalizer == N::kLlama2Legacy) {
    impl->normalizer.push_back({NormStep::kPrepend, "\xE2\x96\x81", {}, nullptr});
    impl->normalizer.push_back({NormStep::kReplace, " ", "\xE2\x96\x81", nullptr});
  }
  switch (spec.pre_tokenizer) {
    case P::kNone:
      break;
    case P::kSplitByteLevel: {
      PTQ_CHECK(!spec.split_regex.empty(), "{}: the split regex is empty", origin);
      PreStep split{PreStep::kSplit};
      split.regex = std::make_shared<Regex>(spec.split_regex, origin);
      impl->pre.push_back(std::move(split));
      impl->pre.push_back({PreStep::kByteLevel});
      break;
    }
    case P::kDigitsByteLevel: {
      PreStep digits{PreStep::kSplit};
      digits.regex = std::make_shared<Regex>("\\p{N}", origin);
      impl->pre.push_back(std::move(digits));
      PreStep bl{PreStep::kByteLevel};
      bl.regex = std::make_shared<Regex>(kGpt2Pattern, origin);
      impl->pre.push_back(std::move(bl));
      break;
    }
    case P::kByteLevel: {
      PreStep bl{PreStep::kByteLevel};
      bl.regex = std::make_shared<Regex>(kGpt2Pattern, origin);
      impl->pre.push_back(std::move(bl));
      break;
    }
    case P::kMetaspace: {
      PreStep ms{PreStep::kMetaspace};
      ms.replacement = "\xE2\x96\x81";
      ms.prepend = PrependScheme::kFirst;
      impl->pre.push_back(std::move(ms));
      break;
    }
  }
  // Decoders as the reference conversions write them.
  impl->has_decoder = true;
  if (spec.pre_tokenizer == P::kSplitByteLevel || spec.pre_tokenizer == P::kByteLevel ||
      spec.pre_tokenizer == P::kDigitsByteLevel) {
    impl->decoder.push_back({DecStep::kByteLevel});
  } else {
    impl->decoder.push_back({DecStep::kReplace, "\xE2\x96\x81", " "});
    if (spec.byte_fallback) impl->decoder.push_back({DecStep::kByteFallback});
    impl->decoder.push_back({DecStep::kFuse});
    if (spec.normalizer == N::kLlama2Legacy || spec.pre_tokenizer == P::kMetaspace)
      impl->decoder.push_back({DecStep::kStrip, " ", {}, 1, 0});
  }
  impl->bos = spec.bos_id;
  impl->eos = spec.eos_id;
  impl->finish();
  return std::unique_ptr<HfBpeTokenizer>(new HfBpeTokenizer(std::move(impl)));
}

void HfBpeTokenizer::set_gguf_pre_tokenizer(const std::string& pre, HfBpeSpec& spec) {
  using P = HfBpeSpec::PreTokenizer;
  static const char* const kDigitsFirst[] = {"smollm", "starcoder", "refact", "command-r", "codeshell", "exaone",
                                             "minerva"};
  if (pre == "gpt-2" || pre == "gpt2" || pre == "default") {
    spec.pre_tokenizer = P::kByteLevel;
  } else if (pre == "llama-bpe" || pre == "llama3") {
    spec.pre_tokenizer = P::kSplitByteLevel;
    spec.split_regex = kLlama3Pattern;
    spec.ignore_merges = true;
  } else if (pre == "qwen2") {
    spec.pre_tokenizer = P::kSplitByteLevel;
    spec.split_regex = kQwen2Pattern;
    spec.normalizer = HfBpeSpec::Normalizer::kNfc;
  } else if (std::find(std::begin(kDigitsFirst), std::end(kDigitsFirst), pre) != std::end(kDigitsFirst)) {
    spec.pre_tokenizer = P::kDigitsByteLevel;
  } else {
    PTQ_FAIL("tokenizer.ggml.pre '{}' is not supported (gpt-2, default, llama-bpe, llama3, qwen2, smollm, starcoder, "
             "refact, command-r, codeshell, exaone, minerva)", pre);
  }
}

std::vector<int32_t> HfBpeTokenizer::encode(std::string_view text, bool add_bos) const {
  const Impl& m = *impl_;
  // The reference takes Unicode strings; ill-formed UTF-8 is read the way a lossy decoder reads it.
  std::string repaired;
  if (!is_valid_utf8(text)) {
    repaired = utf8_lossy(text);
    text = repaired;
  }
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 2);
  if (add_bos && m.bos) out.push_back(*m.bos);
  if (m.raw_matcher.empty()) {
    m.encode_plain(text, true, out);
    return out;
  }
  for (const auto& seg : m.raw_matcher.split(text, *m.word_char)) {
    if (seg.id >= 0)
      out.push_back(seg.id);
    else
      m.encode_plain(text.substr(seg.begin, seg.end - seg.begin), seg.begin == 0, out);
  }
  return out;
}

std::string HfBpeTokenizer::decode(const std::vector<int32_t>& ids) const {
  const Impl& m = *impl_;
  // Token texts; ids the tokenizer does not know (e.g. padding rows of an embedding) are skipped, as the reference
  // does.
  std::vector<std::string> toks;
  toks.reserve(ids.size());
  for (int32_t id : ids)
    if (auto t = id_to_token(id)) toks.push_back(std::move(*t));
  if (!m.has_decoder) {
    std::string out;
    for (size_t i = 0; i < toks.size(); ++i) out += (i ? " " : "") + toks[i];
    return out;
  }
  const auto& bl = byte_level_table();
  for (const auto& d : m.decoder) {
    switch (d.kind) {
      case DecStep::kByteLevel: {
        // Bytes of all tokens joined, then lossy UTF-8; a token with a character outside the byte table contributes
        // its own UTF-8 bytes.
        std::string bytes;
        for (const auto& t : toks) {
          std::string tb;
          bool all = true;
          for (size_t i = 0; i < t.size() && all;) {
            if (utf8_sequence(t, i) < 0) {
              all = false;
              break;
            }
            auto it = bl.cp_to_byte.find(next_cp(t, i));
            if (it == bl.cp_to_byte.end())
              all = false;
            else
              tb += static_cast<char>(it->second);
          }
          bytes += all ? tb : t;
        }
        toks.assign(1, utf8_lossy(bytes));
        break;
      }
      case DecStep::kReplace:
        for (auto& t : toks) t = replace_all(t, d.a, nullptr, d.b);
        break;
      case DecStep::kByteFallback: {
        // Runs of <0xHH> tokens become their bytes when those form valid UTF-8, else one U+FFFD per byte.
        std::vector<std::string> out;
        std::string run;
        size_t run_len = 0;
        auto flush = [&] {
          if (run_len == 0) return;
          if (is_valid_utf8(run))
            out.push_back(run);
          else
            for (size_t k = 0; k < run_len; ++k) out.emplace_back("\xEF\xBF\xBD");
          run.clear();
          run_len = 0;
        };
        for (auto& t : toks) {
          unsigned v = 0;
          if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>' && std::isxdigit(uint8_t(t[3])) &&
              std::isxdigit(uint8_t(t[4]))) {
            v = std::stoul(t.substr(3, 2), nullptr, 16);
            run += static_cast<char>(v);
            ++run_len;
          } else {
            flush();
            out.push_back(std::move(t));
          }
        }
        flush();
        toks = std::move(out);
        break;
      }
      case DecStep::kFuse: {
        std::string all;
        for (const auto& t : toks) all += t;
        toks.assign(1, std::move(all));
        break;
      }
      case DecStep::kStrip:
        // Up to `start` leading and `stop` trailing copies of the content character, per token.
        for (auto& t : toks) {
          std::string_view v = t;
          for (int k = 0; k < d.start && v.substr(0, d.a.size()) == d.a; ++k) v.remove_prefix(d.a.size());
          for (int k = 0; k < d.stop && v.size() >= d.a.size() && v.substr(v.size() - d.a.size()) == d.a; ++k)
            v.remove_suffix(d.a.size());
          t = std::string(v);
        }
        break;
      case DecStep::kMetaspace:
        // The replacement becomes a space; in the first token the reference drops it instead (the prefix it added).
        for (size_t i = 0; i < toks.size(); ++i)
          toks[i] = replace_all(toks[i], d.a, nullptr, i == 0 && d.prepend != PrependScheme::kNever ? "" : " ");
        break;
    }
  }
  std::string out;
  for (const auto& t : toks) out += t;
  return out;
}

int64_t HfBpeTokenizer::vocab_size() const { return impl_->n_ids; }
std::optional<int32_t> HfBpeTokenizer::bos_id() const { return impl_->bos; }
std::optional<int32_t> HfBpeTokenizer::eos_id() const { return impl_->eos; }

std::optional<std::string> HfBpeTokenizer::id_to_token(int32_t id) const {
  const Impl& m = *impl_;
  if (auto it = m.added_by_id.find(id); it != m.added_by_id.end()) return m.added[it->second].content;
  if (id >= 0 && static_cast<size_t>(id) < m.id_in_vocab.size() && m.id_in_vocab[id]) return m.id_to_vocab[id];
  return std::nullopt;
}

std::optional<int32_t> HfBpeTokenizer::token_to_id(std::string_view token) const {
  const Impl& m = *impl_;
  if (auto it = m.added_by_content.find(token); it != m.added_by_content.end()) return it->second;
  if (auto it = m.vocab.find(token); it != m.vocab.end()) return it->second;
  return std::nullopt;
}

}  // namespace ptq
