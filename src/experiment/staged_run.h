// Runs with a `ptq.step_1` (run_config.h StepOne): the AWQ -> OmniQuant combination as one run. Step 1 (an AWQ run)
// executes once per content key and leaves its artifacts in cache_dir/<key>/; every later run naming the same step 1
// (any matrix, any cell) reuses them. The hand-over is wired here, never by hand, so the paths cannot be crossed
// (docs/methods/awq_omniquant.md):
//   transformed_model  step 1 saves the transformed fp model (save_trans); step 2's model.path becomes
//                      <key>/transformed_model (the weight-only flow)
//   scales_clips       step 1 saves scales.safetensors and clips.safetensors (save_scale, save_clip); step 2's
//                      quant.special.scale_path / clip_path become <key>/scales and <key>/clips (the w8a8 flow)
// Key: sha256 of the step-1 configuration (resolved, without its source and save section), the hand-over and the
// ptq build (git commit), so a code change never reuses stale artifacts. The folder is written under a temporary name
// and renamed when complete (with manifest.json), so a killed step 1 leaves nothing that could be reused.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "experiment/run_config.h"
#include "experiment/runner.h"

namespace ptq {

// The cache folder of cfg.step_1 (empty when the run has no step 1).
std::string step_one_cache_path(const RunConfig& cfg);

// execute_run(cfg) when cfg has no step 1; otherwise prepares (or reuses) step 1 and runs step 2 on its artifacts.
// The result is step 2's, with "step_1": {key, path, cached, seconds, handover} added.
nlohmann::json execute_staged_run(const RunConfig& cfg, const RunOptions& opt = {});

}  // namespace ptq
