#include "store/run_dump.h"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include "core/atomic_file.h"
#include "core/error.h"

namespace ptq {

namespace {

using nlohmann::json;

json number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return v;
}

double number_of(const json& v, const char* key) {
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) {
    const auto s = v.get<std::string>();
    if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
    if (s == "inf") return std::numeric_limits<double>::infinity();
    if (s == "-inf") return -std::numeric_limits<double>::infinity();
  }
  PTQ_FAIL("{}: not a number ({})", key, v.dump());
}

// The value of `key` in object `o`, which must be present; `what` names the row for the error.
const json& field(const json& o, const char* key, const char* what) {
  PTQ_CHECK(o.is_object() && o.contains(key), "{}: key '{}' missing", what, key);
  return o.at(key);
}

std::string text(const json& o, const char* key, const char* what) {
  const json& v = field(o, key, what);
  PTQ_CHECK(v.is_string(), "{}: '{}' is not a string ({})", what, key, v.dump());
  return v.get<std::string>();
}

int64_t integer(const json& o, const char* key, const char* what) {
  const json& v = field(o, key, what);
  PTQ_CHECK(v.is_number_integer(), "{}: '{}' is not an integer ({})", what, key, v.dump());
  return v.get<int64_t>();
}

const json& rows(const json& o, const char* key) {
  const json& v = field(o, key, "run");
  PTQ_CHECK(v.is_array(), "run: '{}' is not a list", key);
  return v;
}

}  // namespace

json run_record_to_dump(const RunRecord& r) {
  json metrics = json::array(), layers = json::array(), blocks = json::array(), timings = json::array(),
       events = json::array();
  for (const auto& m : r.metrics)
    metrics.push_back(
        {{"name", m.name}, {"dataset", m.dataset}, {"pos", m.pos}, {"value", number(m.value)}, {"protocol", m.protocol}});
  for (const auto& l : r.layer_errors)
    layers.push_back({{"block", l.block}, {"layer", l.layer}, {"metric", l.metric}, {"value", number(l.value)}});
  for (const auto& b : r.block_errors)
    blocks.push_back({{"block", b.block}, {"metric", b.metric}, {"value", number(b.value)}});
  for (const auto& t : r.timings)
    timings.push_back({{"stage", t.stage},
                       {"seconds", number(t.seconds)},
                       {"peak_bytes", t.peak_bytes ? json(*t.peak_bytes) : json(nullptr)}});
  for (const auto& e : r.events)
    events.push_back(
        {{"block", e.block}, {"layer", e.layer}, {"kind", e.kind}, {"fallback", e.fallback}, {"detail", e.detail}});
  return {{"format", kRunDumpFormat},
          {"matrix", r.matrix},
          {"run_key", r.run_key},
          {"status", to_string(r.status)},
          {"error", r.error},
          {"git_sha", r.git_sha},
          {"torch_version", r.torch_version},
          {"device", r.device},
          {"started_at", r.started_at},
          {"finished_at", r.finished_at},
          {"method", r.method},
          {"scheme", r.scheme},
          {"config", r.config},
          {"quant", r.quant},
          {"calibration", r.calibration},
          {"system", r.system},
          {"notes", r.notes},
          {"saved_path", r.saved_path},
          {"metrics", metrics},
          {"layer_errors", layers},
          {"block_errors", blocks},
          {"timings", timings},
          {"events", events}};
}

RunRecord run_record_from_dump(const json& j) {
  PTQ_CHECK(j.is_object(), "not a JSON object");
  PTQ_CHECK(j.value("format", "") == kRunDumpFormat, "format: '{}' (expected '{}')",
            j.contains("format") ? j["format"].dump() : "missing", kRunDumpFormat);
  RunRecord r;
  r.matrix = text(j, "matrix", "run");
  r.run_key = text(j, "run_key", "run");
  PTQ_CHECK(!r.run_key.empty(), "run: 'run_key' is empty");
  r.status = parse_run_status(text(j, "status", "run"));
  r.error = text(j, "error", "run");
  r.git_sha = text(j, "git_sha", "run");
  r.torch_version = text(j, "torch_version", "run");
  r.device = text(j, "device", "run");
  r.started_at = text(j, "started_at", "run");
  r.finished_at = text(j, "finished_at", "run");
  r.method = text(j, "method", "run");
  r.scheme = text(j, "scheme", "run");
  r.config = field(j, "config", "run");
  PTQ_CHECK(r.config.is_object(), "run: 'config' is not an object");
  r.quant = field(j, "quant", "run");
  r.calibration = field(j, "calibration", "run");
  r.system = field(j, "system", "run");
  r.notes = field(j, "notes", "run");
  r.saved_path = text(j, "saved_path", "run");
  for (const auto& m : rows(j, "metrics"))
    r.metrics.push_back({text(m, "name", "metric"), text(m, "dataset", "metric"), text(m, "pos", "metric"),
                         number_of(field(m, "value", "metric"), "metric value"), field(m, "protocol", "metric")});
  for (const auto& l : rows(j, "layer_errors"))
    r.layer_errors.push_back({integer(l, "block", "layer error"), text(l, "layer", "layer error"),
                              text(l, "metric", "layer error"),
                              number_of(field(l, "value", "layer error"), "layer error value")});
  for (const auto& b : rows(j, "block_errors"))
    r.block_errors.push_back({integer(b, "block", "block error"), text(b, "metric", "block error"),
                              number_of(field(b, "value", "block error"), "block error value")});
  for (const auto& t : rows(j, "timings")) {
    TimingValue tv{text(t, "stage", "timing"), number_of(field(t, "seconds", "timing"), "timing seconds"), {}};
    if (!field(t, "peak_bytes", "timing").is_null()) tv.peak_bytes = integer(t, "peak_bytes", "timing");
    r.timings.push_back(tv);
  }
  for (const auto& e : rows(j, "events"))
    r.events.push_back({integer(e, "block", "event"), text(e, "layer", "event"), text(e, "kind", "event"),
                        text(e, "fallback", "event"), field(e, "detail", "event")});
  return r;
}

bool is_run_dump_file(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    return j.is_object() && j.value("format", "") == kRunDumpFormat;
  }
  return false;
}

DumpStats write_run_dump(Store& store, const std::string& matrix, const std::string& path) {
  DumpStats stats;
  std::string out;
  const auto all = store.runs(matrix);
  PTQ_CHECK(!all.empty(), "{}: no runs of matrix '{}'", store.path(), matrix);
  for (const auto& r : all) {
    if (r.status != RunStatus::kFinished) {
      ++stats.skipped;
      continue;
    }
    out += run_record_to_dump(r).dump() + "\n";
    ++stats.runs;
  }
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  write_file_atomically(path, out);
  return stats;
}

RestoreStats restore_run_dump(const std::string& file, const std::string& matrix, Store& store) {
  PTQ_CHECK(std::filesystem::is_regular_file(file), "{}: no such run dump file", file);
  std::ifstream in(file, std::ios::binary);
  PTQ_CHECK(in.good(), "{}: cannot read", file);
  // Every line is parsed and checked before the first run is written, so a damaged file changes nothing.
  std::vector<RunRecord> runs;
  std::string line;
  for (int64_t n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    json j;
    try {
      j = json::parse(line);
    } catch (const json::exception& e) {
      PTQ_FAIL("{}: line {}: not JSON: {}", file, n, e.what());
    }
    RunRecord r = with_context(fmt::format("{}: line {}", file, n), [&] { return run_record_from_dump(j); });
    PTQ_CHECK(r.status == RunStatus::kFinished, "{}: line {}: status '{}' (a dump holds finished runs)", file, n,
              to_string(r.status));
    if (matrix.empty() || r.matrix == matrix) runs.push_back(std::move(r));
  }
  PTQ_CHECK(!runs.empty(), "{}: no runs{}", file, matrix.empty() ? "" : fmt::format(" of matrix '{}'", matrix));
  RestoreStats stats;
  for (const auto& r : runs) {
    if (store.is_finished(r.run_key)) {
      ++stats.skipped;
      continue;
    }
    store.record_run(r);
    ++stats.added;
  }
  return stats;
}

}  // namespace ptq
