#include "model/unicode_nfc.h"

#include <algorithm>
#include <iterator>

#include "core/utf8.h"
#include "model/unicode_nfc_table.h"

namespace ptq {

namespace {

constexpr uint32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr uint32_t kLCount = 19, kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount, kSCount = kLCount * kNCount;

uint8_t combining_class(uint32_t cp) {
  if (cp < 0x300) return 0;
  const auto& t = nfc_table::kCcc;
  auto it = std::upper_bound(std::begin(t), std::end(t), cp, [](uint32_t c, const auto& r) { return c < r.first; });
  if (it == std::begin(t)) return 0;
  --it;
  return cp <= it->last ? it->ccc : 0;
}

void decompose(uint32_t cp, std::u32string& out) {
  if (cp >= kSBase && cp < kSBase + kSCount) {
    const uint32_t s = cp - kSBase;
    out += kLBase + s / kNCount;
    out += kVBase + (s % kNCount) / kTCount;
    if (s % kTCount) out += kTBase + s % kTCount;
    return;
  }
  if (cp >= 0xC0) {
    const auto& t = nfc_table::kDecomp;
    auto it = std::lower_bound(std::begin(t), std::end(t), cp, [](const auto& d, uint32_t c) { return d.cp < c; });
    if (it != std::end(t) && it->cp == cp) {
      decompose(it->first, out);
      if (it->second) decompose(it->second, out);
      return;
    }
  }
  out += cp;
}

// The primary composite of (a, b), or 0.
uint32_t compose_pair(uint32_t a, uint32_t b) {
  if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount)
    return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
  if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase && b < kTBase + kTCount)
    return a + (b - kTBase);
  const auto& t = nfc_table::kComp;
  auto it = std::lower_bound(std::begin(t), std::end(t), std::pair{a, b}, [](const auto& c, const auto& key) {
    return c.first != key.first ? c.first < key.first : c.second < key.second;
  });
  return it != std::end(t) && it->first == a && it->second == b ? it->composite : 0;
}

}  // namespace

// NFC of valid UTF-8 `s`. Text whose code points are all below U+0300 is returned unchanged: nothing there
// decomposes into something that recomposes differently (all combining marks and Hangul jamo lie above).
std::string nfc(std::string_view s) {
  bool fast = true;
  for (size_t i = 0; i < s.size() && fast;) fast = next_cp(s, i) < 0x300;
  if (fast) return std::string(s);
  std::u32string d;
  for (size_t i = 0; i < s.size();) decompose(next_cp(s, i), d);
  // Canonical ordering: stable sort of each run of non-starters by combining class (runs are short).
  for (size_t i = 1; i < d.size(); ++i) {
    const uint8_t c = combining_class(d[i]);
    if (c == 0) continue;
    size_t j = i;
    while (j > 0 && combining_class(d[j - 1]) > c) {
      std::swap(d[j], d[j - 1]);
      --j;
    }
  }
  // Canonical composition: a character combines with the last starter unless a character in between has a
  // combining class >= its own (blocked); class 256 marks "no starter yet".
  if (!d.empty()) {
    size_t starter = 0, kept = 1;
    int last_class = combining_class(d[0]) ? 256 : 0;
    for (size_t i = 1; i < d.size(); ++i) {
      const uint32_t ch = d[i];
      const int cls = combining_class(ch);
      const uint32_t comp = last_class == 256 ? 0 : compose_pair(d[starter], ch);
      if (comp && (last_class < cls || last_class == 0)) {
        d[starter] = comp;
        continue;
      }
      if (cls == 0) starter = kept;
      last_class = cls;
      d[kept++] = ch;
    }
    d.resize(kept);
  }
  std::string out;
  out.reserve(s.size());
  for (uint32_t cp : d) append_utf8(out, cp);
  return out;
}

}  // namespace ptq
