// The records the results store holds (a run with its metrics, layer and block errors, events and timings; artifacts)
// and how a `ptq run --json` object becomes one. Timestamps are ISO-8601 UTC strings, "2025-01-31T12:34:56Z".
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace ptq {

enum class RunStatus { kRunning, kFinished, kFailed };
std::string to_string(RunStatus s);  // "running", "finished", "failed" (the stored values)
RunStatus parse_run_status(const std::string& s);

// One number a run reports: ("ppl", "wikitext2", "fake_quant", 5.47, {protocol}).
struct MetricValue {
  std::string name;         // ppl, ppl_stderr, nll_mean, tokens, windows, seconds, ...
  std::string dataset;      // "" when not tied to a dataset
  std::string pos;          // eval position: pretrain, fake_quant, transformed; "" when not an eval
  double value = 0;         // NaN allowed (stored as NULL)
  nlohmann::json protocol;  // the perplexity protocol the number was measured under; null if none
  bool operator==(const MetricValue&) const;
};

// Per-Linear error: (3, "model.layers.3.mlp.down_proj", "rel_output_error", 0.012).
struct LayerErrorValue {
  int64_t block = 0;
  std::string layer;
  std::string metric;  // rel_output_error, rel_weight_error
  double value = 0;
  bool operator==(const LayerErrorValue&) const;
};

// Per-block output error: (3, "rel_output_error", 0.02).
struct BlockErrorValue {
  int64_t block = 0;
  std::string metric;
  double value = 0;
  bool operator==(const BlockErrorValue&) const;
};

// A numerical guard that fired (src/methods/method.h BlockContext::event): (3, "model.layers.3.mlp.down_proj",
// "gptq_cholesky_failed", "rtn", {"damp": ...}).
struct EventValue {
  int64_t block = 0;
  std::string layer;
  std::string kind;
  std::string fallback;
  nlohmann::json detail;  // null when none
  bool operator==(const EventValue&) const;
};

struct TimingValue {
  std::string stage;  // load, calibration, quantize, eval_pretrain, eval_fake_quant, save, total
  double seconds = 0;
  std::optional<int64_t> peak_bytes;  // peak device/host memory of the stage, when measured
  bool operator==(const TimingValue&) const;
};

struct RunRecord {
  std::string matrix;     // experiment matrix name ("" for a one-off run)
  std::string run_key;    // hash of the resolved config; unique in a store
  nlohmann::json config;  // resolved configuration
  RunStatus status = RunStatus::kFinished;
  std::string error;  // the failure message for kFailed
  std::string git_sha;
  std::string torch_version;
  std::string device;          // cpu, cuda, cuda:1, auto
  std::string started_at;      // ISO-8601 UTC
  std::string finished_at;     // ISO-8601 UTC; "" while running
  std::string method;          // registry id: rtn, gptq, ...
  std::string scheme;          // w4a16g128, ...
  nlohmann::json quant;        // `ptq run --json` "quant" (scheme, weight, act, method params, quant_out)
  nlohmann::json calibration;  // calibration provenance; null when data-free
  nlohmann::json system;       // system_info() at run time
  nlohmann::json notes;        // what methods reported per block
  std::string saved_path;      // the saved checkpoint folder, "" if none
  std::vector<MetricValue> metrics;
  std::vector<LayerErrorValue> layer_errors;
  std::vector<BlockErrorValue> block_errors;
  std::vector<TimingValue> timings;
  std::vector<EventValue> events;
  bool operator==(const RunRecord&) const;
};

// One row for a paper table: a metric of one run.
struct MetricRow {
  std::string run_key;
  std::string matrix;
  std::string method;
  std::string scheme;
  nlohmann::json config;
  std::string name;
  std::string dataset;
  std::string pos;
  double value = 0;
  nlohmann::json protocol;
};

struct ArtifactRecord {
  std::string key;   // content key, unique
  std::string kind;  // transformed_model, clips, scales, export, ...
  std::string path;
  std::string sha256;
  int64_t bytes = 0;
  std::string created_at;
  bool operator==(const ArtifactRecord&) const;
};

// The current UTC time as ISO-8601, "2025-01-31T12:34:56Z".
std::string utc_now();

// The `ptq run --config ... --json` object (src/cli/cmd_run.cc) as a finished RunRecord: method, quant (scheme),
// config, calibration, system (git_sha, torch_version), notes, saved; every eval number as a metric
// (name ppl|ppl_stderr|nll_mean|tokens|windows|seconds, dataset, pos, protocol); layer_errors as rel_output_error and
// rel_weight_error rows; block_errors as rel_output_error rows; timings by stage; events (numerical guards) as they are. finished_at is now and started_at
// is now minus timings.total when present. device is the JSON's "device" if any, else config.device.
RunRecord run_record_from_json(const nlohmann::json& run, const std::string& matrix, const std::string& run_key);

}  // namespace ptq
