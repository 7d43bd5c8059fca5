#include "store/run_record.h"

#include <fmt/format.h>

#include <cmath>
#include <ctime>

#include "core/error.h"

namespace ptq {

namespace {

bool same_double(double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); }

std::string format_utc(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

std::string to_string(RunStatus s) {
  switch (s) {
    case RunStatus::kRunning:
      return "running";
    case RunStatus::kFinished:
      return "finished";
    case RunStatus::kFailed:
      return "failed";
  }
  detail::throw_error(ErrorKind::kInternal, __FILE__, __LINE__,
                      fmt::format("unknown RunStatus {}", static_cast<int>(s)));
}

RunStatus parse_run_status(const std::string& s) {
  if (s == "running") return RunStatus::kRunning;
  if (s == "finished") return RunStatus::kFinished;
  if (s == "failed") return RunStatus::kFailed;
  PTQ_FAIL("unknown run status '{}' (running, finished, failed)", s);
}

bool MetricValue::operator==(const MetricValue& o) const {
  return name == o.name && dataset == o.dataset && pos == o.pos && same_double(value, o.value) &&
         protocol == o.protocol;
}
bool LayerErrorValue::operator==(const LayerErrorValue& o) const {
  return block == o.block && layer == o.layer && metric == o.metric && same_double(value, o.value);
}
bool BlockErrorValue::operator==(const BlockErrorValue& o) const {
  return block == o.block && metric == o.metric && same_double(value, o.value);
}
bool EventValue::operator==(const EventValue& o) const {
  return block == o.block && layer == o.layer && kind == o.kind && fallback == o.fallback && detail == o.detail;
}
bool TimingValue::operator==(const TimingValue& o) const {
  return stage == o.stage && same_double(seconds, o.seconds) && peak_bytes == o.peak_bytes;
}
bool ArtifactRecord::operator==(const ArtifactRecord& o) const {
  return key == o.key && kind == o.kind && path == o.path && sha256 == o.sha256 && bytes == o.bytes &&
         created_at == o.created_at;
}
bool RunRecord::operator==(const RunRecord& o) const {
  return matrix == o.matrix && run_key == o.run_key && config == o.config && status == o.status && error == o.error &&
         git_sha == o.git_sha && torch_version == o.torch_version && device == o.device && started_at == o.started_at &&
         finished_at == o.finished_at && method == o.method && scheme == o.scheme && quant == o.quant &&
         calibration == o.calibration && system == o.system && notes == o.notes && saved_path == o.saved_path &&
         metrics == o.metrics && layer_errors == o.layer_errors && block_errors == o.block_errors &&
         timings == o.timings && events == o.events;
}

std::string utc_now() { return format_utc(std::time(nullptr)); }

RunRecord run_record_from_json(const nlohmann::json& j, const std::string& matrix, const std::string& run_key) {
  PTQ_CHECK(j.is_object(), "run {}: the run result is not a JSON object", run_key);
  auto str = [](const nlohmann::json& o, const char* key) -> std::string {
    if (!o.is_object() || !o.contains(key) || !o[key].is_string()) return {};
    return o[key].get<std::string>();
  };
  auto get = [](const nlohmann::json& o, const char* key) -> nlohmann::json {
    return o.is_object() && o.contains(key) ? o[key] : nlohmann::json();
  };
  // Numbers; null (how nlohmann::json writes NaN) reads as NaN.
  auto num = [&](const nlohmann::json& v, const std::string& what) -> double {
    if (v.is_null()) return std::numeric_limits<double>::quiet_NaN();
    PTQ_CHECK(v.is_number(), "run {}: {} is not a number: {}", run_key, what, v.dump());
    return v.get<double>();
  };

  RunRecord r;
  r.matrix = matrix;
  r.run_key = run_key;
  r.status = RunStatus::kFinished;
  r.config = get(j, "config");
  r.method = str(j, "method");
  r.quant = get(j, "quant");
  r.scheme = str(r.quant, "scheme");
  r.calibration = get(j, "calibration");
  r.system = get(j, "system");
  r.notes = get(j, "notes");
  r.saved_path = str(j, "saved");
  r.git_sha = str(r.system, "git_commit");
  r.torch_version = str(r.system, "torch_version");
  r.device = str(j, "device");
  if (r.device.empty()) r.device = str(r.config, "device");

  const std::time_t now = std::time(nullptr);
  r.finished_at = format_utc(now);
  r.started_at = r.finished_at;

  const nlohmann::json timings = get(j, "timings");
  if (timings.is_object()) {
    for (const auto& [stage, v] : timings.items()) {
      TimingValue t;
      t.stage = stage;
      if (v.is_object()) {  // {"seconds": s, "peak_bytes": n}, for stages that measure memory
        t.seconds = num(get(v, "seconds"), "timings." + stage + ".seconds");
        if (v.contains("peak_bytes") && v["peak_bytes"].is_number()) t.peak_bytes = v["peak_bytes"].get<int64_t>();
      } else {
        t.seconds = num(v, "timings." + stage);
      }
      r.timings.push_back(t);
    }
    if (timings.contains("total") && timings["total"].is_number())
      r.started_at = format_utc(now - static_cast<std::time_t>(std::llround(timings["total"].get<double>())));
    // The run's peak host memory (runner.h "memory") is stored with its total time.
    const nlohmann::json mem = get(j, "memory");
    if (mem.is_object() && mem.contains("peak_rss_bytes") && mem["peak_rss_bytes"].is_number_integer() &&
        mem["peak_rss_bytes"].get<int64_t>() > 0)
      for (auto& t : r.timings)
        if (t.stage == "total" && !t.peak_bytes) t.peak_bytes = mem["peak_rss_bytes"].get<int64_t>();
  }

  const nlohmann::json evals = get(j, "evals");
  if (evals.is_array()) {
    for (const auto& e : evals) {
      const std::string dataset = str(e, "dataset");
      const std::string pos = str(e, "pos");
      for (const char* name : {"ppl", "ppl_stderr", "nll_mean", "tokens", "windows", "seconds"}) {
        if (!e.contains(name)) continue;
        r.metrics.push_back(
            {name, dataset, pos, num(e[name], fmt::format("evals {} {} {}", pos, dataset, name)), get(e, "protocol")});
      }
    }
  }

  const nlohmann::json layers = get(j, "layer_errors");
  if (layers.is_array()) {
    for (const auto& e : layers) {
      const int64_t block = get(e, "block").is_number_integer() ? e["block"].get<int64_t>() : 0;
      const std::string layer = str(e, "layer");
      for (const char* metric : {"rel_output_error", "rel_weight_error"})
        if (e.contains(metric)) r.layer_errors.push_back({block, layer, metric, num(e[metric], layer + " " + metric)});
    }
  }

  const nlohmann::json events = get(j, "events");
  if (events.is_array())
    for (const auto& e : events) {
      const int64_t block = get(e, "block").is_number_integer() ? e["block"].get<int64_t>() : 0;
      r.events.push_back({block, str(e, "layer"), str(e, "kind"), str(e, "fallback"), get(e, "detail")});
    }

  const nlohmann::json blocks = get(j, "block_errors");
  if (blocks.is_array())
    for (size_t i = 0; i < blocks.size(); ++i)
      r.block_errors.push_back(
          {static_cast<int64_t>(i), "rel_output_error", num(blocks[i], fmt::format("block_errors[{}]", i))});
  return r;
}

}  // namespace ptq
