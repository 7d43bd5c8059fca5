// Executes one resolved run configuration end to end (what `ptq run --config` does, and what every cell of an
// experiment matrix does): load, evaluate (pretrain), calibrate, quantize block by block, evaluate (fake_quant), save.
#pragma once

#include <nlohmann/json.hpp>

#include "experiment/run_config.h"

namespace ptq {

struct RunOptions {
  bool verbose = true;  // human-readable progress on stdout
  int threads = 0;      // > 0 overrides the config's ptq.threads
};

// The result object `ptq run --json` prints: method, quant, evals [{pos, dataset, ppl, ...protocol}], timings,
// layer_errors, block_errors, calibration provenance, notes, resolved config, saved path, system.
// Throws ptq::Error on bad input (user) or failures (internal); nothing is written to save_path unless it succeeds.
nlohmann::json execute_run(const RunConfig& cfg, const RunOptions& opt = {});

}  // namespace ptq
