#include "experiment/cell_slices.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "core/sha256.h"

namespace ptq {

namespace {

// A non-negative decimal integer, the whole of `text`.
size_t parse_index(const std::string& text, const std::string& item, const std::string& where) {
  size_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  PTQ_CHECK(!text.empty() && ec == std::errc() && end == text.data() + text.size(),
            "{}: '{}' is not a cell index or range (expected e.g. 0-3,7)", where, item);
  return v;
}

}  // namespace

std::vector<size_t> parse_cell_spec(const std::string& spec, size_t n_cells, const std::string& where) {
  PTQ_CHECK(!spec.empty(), "{}: empty cell list (expected e.g. 0-3,7)", where);
  std::set<size_t> out;
  size_t start = 0;
  while (start <= spec.size()) {
    const size_t comma = std::min(spec.find(',', start), spec.size());
    const std::string item = spec.substr(start, comma - start);
    PTQ_CHECK(!item.empty(), "{}: '{}': empty item between commas", where, spec);
    const size_t dash = item.find('-');
    size_t lo = 0, hi = 0;
    if (dash == std::string::npos) {
      lo = hi = parse_index(item, item, where);
    } else {
      lo = parse_index(item.substr(0, dash), item, where);
      hi = parse_index(item.substr(dash + 1), item, where);
      PTQ_CHECK(lo <= hi, "{}: '{}': the range ends before it starts", where, item);
    }
    PTQ_CHECK(hi < n_cells, "{}: '{}': cell {} is out of range (the matrix has {} cells, 0-{})", where, item, hi,
              n_cells, n_cells - 1);
    for (size_t i = lo; i <= hi; ++i) out.insert(i);
    start = comma + 1;
  }
  return {out.begin(), out.end()};
}

std::string format_cell_spec(const std::vector<size_t>& idx) {
  std::string out;
  for (size_t i = 0; i < idx.size();) {
    size_t j = i;
    while (j + 1 < idx.size() && idx[j + 1] == idx[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += j == i ? fmt::format("{}", idx[i]) : fmt::format("{}-{}", idx[i], idx[j]);
    i = j + 1;
  }
  return out;
}

std::string cells_digest(const Matrix& m, const std::vector<size_t>& indices) {
  std::string keys;
  for (size_t i : indices) keys += m.cells.at(i).run_key + "\n";
  return sha256_hex(keys).substr(0, 16);
}

std::string sharing_key(const MatrixCell& cell) {
  const RunConfig& c = cell.config;
  const nlohmann::json calib = c.calib ? c.to_json()["calib"] : nlohmann::json();
  return nlohmann::json::array({c.model_path, c.tokenizer_path, c.dtype, calib}).dump();
}

std::vector<size_t> sharing_order(const Matrix& m, const std::vector<size_t>& subset) {
  std::vector<size_t> idx = subset;
  std::map<size_t, std::string> key;
  for (size_t i : idx) {
    PTQ_ASSERT(i < m.cells.size(), "cell {} of {}", i, m.cells.size());
    key[i] = sharing_key(m.cells[i]);
  }
  // The model part of the key first (it is the prefix of the JSON array), then the calibration section; ties keep
  // canonical order.
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
    return key[a] != key[b] ? key[a] < key[b] : a < b;
  });
  return idx;
}

std::vector<std::vector<size_t>> slice_cells(const Matrix& m, const std::vector<size_t>& ordered, int tasks,
                                             int cells_per_task) {
  PTQ_CHECK(!(tasks > 0 && cells_per_task > 0), "give either a number of tasks or a number of cells per task, not both");
  PTQ_CHECK(tasks >= 0 && cells_per_task >= 0, "the number of tasks and of cells per task must not be negative");
  std::vector<std::vector<size_t>> slices;
  const size_t n = ordered.size();
  if (n == 0) return slices;
  if (tasks > 0) {
    const size_t k = std::min(static_cast<size_t>(tasks), n);
    size_t at = 0;
    for (size_t t = 0; t < k; ++t) {
      const size_t len = n / k + (t < n % k ? 1 : 0);
      slices.emplace_back(ordered.begin() + static_cast<std::ptrdiff_t>(at),
                          ordered.begin() + static_cast<std::ptrdiff_t>(at + len));
      at += len;
    }
  } else if (cells_per_task > 0) {
    for (size_t at = 0; at < n; at += static_cast<size_t>(cells_per_task)) {
      const size_t end = std::min(n, at + static_cast<size_t>(cells_per_task));
      slices.emplace_back(ordered.begin() + static_cast<std::ptrdiff_t>(at),
                          ordered.begin() + static_cast<std::ptrdiff_t>(end));
    }
  } else {
    std::string last;
    for (size_t i : ordered) {
      const std::string k = sharing_key(m.cells.at(i));
      if (slices.empty() || k != last) slices.emplace_back();
      slices.back().push_back(i);
      last = k;
    }
  }
  for (auto& s : slices) std::sort(s.begin(), s.end());
  return slices;
}

}  // namespace ptq
