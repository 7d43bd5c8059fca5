#include "experiment/cell_estimate.h"

#include <algorithm>

namespace ptq {

namespace {

const nlohmann::json& at_or_null(const nlohmann::json& j, const char* k) {
  static const nlohmann::json null;
  return j.is_object() && j.contains(k) ? j[k] : null;
}

double calib_tokens(const nlohmann::json& c) {
  const nlohmann::json& cal = at_or_null(c, "calib");
  if (!cal.is_object()) return 0;
  return at_or_null(cal, "n_samples").is_number() && at_or_null(cal, "seq_len").is_number()
             ? cal["n_samples"].get<double>() * cal["seq_len"].get<double>()
             : 0;
}

std::string coarse_key(const nlohmann::json& c) {
  return nlohmann::json::array({at_or_null(c, "method"), at_or_null(at_or_null(c, "model"), "path"),
                                c.is_object() && c.contains("step_1")})
      .dump();
}

std::string exact_key(const nlohmann::json& c) {
  return nlohmann::json::array({coarse_key(c), at_or_null(c, "scheme"), calib_tokens(c), at_or_null(c, "special"),
                                at_or_null(c, "quant_out"), at_or_null(c, "eval")})
      .dump();
}

}  // namespace

CellEstimator::CellEstimator(const std::vector<RunRecord>& finished) {
  for (const auto& r : finished) {
    if (r.status != RunStatus::kFinished) continue;
    for (const auto& t : r.timings) {
      if (t.stage != "total") continue;
      const Sample s{t.seconds, t.peak_bytes.value_or(0), calib_tokens(r.config)};
      exact_[exact_key(r.config)].push_back(s);
      coarse_[coarse_key(r.config)].push_back(s);
    }
  }
}

std::optional<CellEstimate> CellEstimator::estimate(const nlohmann::json& config) const {
  auto summarise = [](const std::vector<Sample>& v, double scale) {
    CellEstimate e;
    for (const auto& s : v) {
      e.seconds += s.seconds * (scale > 0 && s.calib_tokens > 0 ? scale / s.calib_tokens : 1.0);
      e.peak_bytes = std::max(e.peak_bytes, s.peak);
    }
    e.seconds /= static_cast<double>(v.size());
    e.runs = static_cast<int>(v.size());
    return e;
  };
  if (auto it = exact_.find(exact_key(config)); it != exact_.end()) return summarise(it->second, 0);
  if (auto it = coarse_.find(coarse_key(config)); it != coarse_.end()) {
    CellEstimate e = summarise(it->second, calib_tokens(config));
    e.scaled = true;
    return e;
  }
  return std::nullopt;
}

}  // namespace ptq
