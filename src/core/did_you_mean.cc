#include "core/did_you_mean.h"

#include <algorithm>
#include <cctype>

namespace ptq {

size_t edit_distance(std::string_view a, std::string_view b) {
  auto low = [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); };
  const size_t n = a.size(), m = b.size();
  // Three rows of the dynamic programme: i-2, i-1, i.
  std::vector<size_t> prev2(m + 1), prev(m + 1), cur(m + 1);
  for (size_t j = 0; j <= m; ++j) prev[j] = j;
  for (size_t i = 1; i <= n; ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= m; ++j) {
      const size_t cost = low(a[i - 1]) == low(b[j - 1]) ? 0 : 1;
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && low(a[i - 1]) == low(b[j - 2]) && low(a[i - 2]) == low(b[j - 1]))
        cur[j] = std::min(cur[j], prev2[j - 2] + 1);
    }
    std::swap(prev2, prev);
    std::swap(prev, cur);
  }
  return prev[m];
}

std::string closest_name(std::string_view typed, const std::vector<std::string>& candidates) {
  const size_t limit = std::max<size_t>(1, std::min<size_t>(3, typed.size() / 3));
  size_t best = limit + 1;
  std::string found;
  bool tie = false;
  for (const auto& c : candidates) {
    const size_t d = edit_distance(typed, c);
    if (d < best) {
      best = d;
      found = c;
      tie = false;
    } else if (d == best && c != found) {
      tie = true;
    }
  }
  return best <= limit && !tie ? found : std::string();
}

std::string did_you_mean(std::string_view typed, const std::vector<std::string>& candidates) {
  const std::string c = closest_name(typed, candidates);
  return c.empty() ? std::string() : "; did you mean '" + c + "'?";
}

}  // namespace ptq
