#include "experiment/staged_run.h"

#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "core/atomic_file.h"
#include "core/build_info.h"
#include "core/error.h"
#include "core/sha256.h"

namespace ptq {

namespace fs = std::filesystem;

namespace {

std::string step_one_key(const StepOne& s) {
  nlohmann::json j = s.config->to_json();
  j.erase("source");
  j.erase("eval");  // step 1 is run without evaluation: its eval settings do not change the artifacts
  j.erase("threads");
  j.erase("measure_errors");  // bookkeeping only: the step-1 artifacts are the same
  const std::string text =
      fmt::format("ptq step_1\n{}\n{}\n{}", s.handover, build_info().git_commit, j.dump());
  return sha256_hex(text);
}

}  // namespace

std::string step_one_cache_path(const RunConfig& cfg) {
  if (!cfg.step_1) return "";
  return (fs::path(cfg.step_1->cache_dir) / step_one_key(*cfg.step_1)).string();
}

nlohmann::json execute_staged_run(const RunConfig& cfg, const RunOptions& opt) {
  if (!cfg.step_1) return execute_run(cfg, opt);
  const StepOne& s = *cfg.step_1;
  const std::string key = step_one_key(s);
  const fs::path dir = fs::path(s.cache_dir) / key;
  const auto t0 = std::chrono::steady_clock::now();
  bool cached = fs::exists(dir / "manifest.json");
  if (!cached) {
    PTQ_CHECK(!fs::exists(dir), "{}: incomplete step-1 cache folder without manifest.json (remove it)",
              dir.string());
    fs::create_directories(s.cache_dir);
    remove_stale_temps(s.cache_dir);  // what killed step-1 runs left (core/atomic_file.h)
    const fs::path tmp = temp_path_for(dir.string());
    fs::remove_all(tmp);
    RunConfig one = *s.config;
    one.eval.reset();
    one.save_fake = one.save_autoawq = one.save_gptq = false;
    one.save_path = tmp.string();
    if (s.handover == "transformed_model") {
      one.save_trans = true;
    } else {
      one.save_trans = false;
      PTQ_CHECK(one.special.value("weight_clip", false),
                "{}: step 1 ({}) must set quant.special.weight_clip: True to hand over clips", cfg.source,
                s.config_file);
      one.special["save_scale"] = true;
      one.special["scale_path"] = (tmp / "scales").string();
      one.special["save_clip"] = true;
      one.special["clip_path"] = (tmp / "clips").string();
    }
    if (opt.verbose) fmt::print("step 1 ({}): running, artifacts -> {}\n", s.config_file, dir.string());
    nlohmann::json r;
    try {
      r = execute_run(one, opt);
    } catch (...) {
      std::error_code ec;
      fs::remove_all(tmp, ec);
      throw;
    }
    nlohmann::json manifest = {{"key", key},
                               {"handover", s.handover},
                               {"ptq_commit", build_info().git_commit},
                               {"config", s.config->to_json()},
                               {"timings", r.value("timings", nlohmann::json::object())},
                               {"block_errors", r.value("block_errors", nlohmann::json::array())}};
    write_file_atomically((tmp / "manifest.json").string(), manifest.dump(2) + "\n");
    try {
      publish_dir(tmp.string(), dir.string());  // every file fsynced, then one rename: complete or absent
    } catch (const Error&) {
      // Another process finished the same step 1 first: use its folder.
      std::error_code ec;
      fs::remove_all(tmp, ec);
      PTQ_CHECK(fs::exists(dir / "manifest.json"), "{}: cannot move the step-1 artifacts into place", dir.string());
    }
  } else if (opt.verbose) {
    fmt::print("step 1 ({}): reusing {}\n", s.config_file, dir.string());
  }
  const double step_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  RunConfig two = cfg;
  two.step_1.reset();
  if (s.handover == "transformed_model") {
    two.model_path = (dir / "transformed_model").string();
  } else {
    for (const char* k : {"scale_path", "clip_path"})
      PTQ_CHECK(two.special.value(k, std::string()).empty(),
                "{}: quant.special.{} is set by the step-1 hand-over (scales_clips); remove it from the configuration",
                cfg.source, k);
    two.special["scale_path"] = (dir / "scales").string();
    two.special["clip_path"] = (dir / "clips").string();
  }
  nlohmann::json result = execute_run(two, opt);
  result["config"] = cfg.to_json();  // the configuration as written (with its step 1), not the rewired one
  result["step_1"] = {{"key", key}, {"path", dir.string()}, {"cached", cached}, {"seconds", step_seconds},
                      {"handover", s.handover}};
  if (result.contains("timings")) {  // total: the wall time of both steps (step 1 ~0 when reused from the cache)
    result["timings"]["step_1"] = step_seconds;
    result["timings"]["total"] = result["timings"].value("total", 0.0) + step_seconds;
  }
  return result;
}

}  // namespace ptq
