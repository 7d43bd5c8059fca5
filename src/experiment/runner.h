// Executes one resolved run configuration end to end (what `ptq run --config` does, and what every cell of an
// experiment matrix does): load, evaluate (pretrain), calibrate, quantize block by block, evaluate (fake_quant), save.
// Real-quant exports (save_autoawq, save_gptq): the shapes are checked right after loading; the scales are rounded to
// fp16 after quantization, before the fake_quant evaluation (src/export/fp16_scales.h); each export is written to
// save_path/<format folder> and verified against the in-memory fake-quant model unless save.verify_export is false
// (a failed verification is an internal error; the unpublished folder ".<save_path name>.tmp-<pid>" is kept for
// inspection). Everything saved is written to that temporary folder and renamed to save_path only when the run
// succeeds (core/atomic_file.h), so save_path is complete or absent.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <string>

#include "data/calibration.h"
#include "experiment/run_config.h"

namespace ptq {

struct RunOptions {
  bool verbose = true;  // human-readable progress on stdout
  int threads = 0;      // > 0 overrides the config's ptq.threads
  // The fp baseline evaluated once per model and protocol: when set, pretrain evaluations are looked up here (key:
  // model, tokenizer, dtype, device, threads and every eval setting) and stored after computing; a reused one is
  // marked "reused": true and has no eval_pretrain timing. Matrices share one across their cells.
  std::map<std::string, nlohmann::json>* pretrain_cache = nullptr;
  // Calibration sets captured once: when set, a run whose calib section, model and tokenizer equal an earlier one's
  // reuses its token batches (provenance marked "reused": true); runs that dump their samples (calib.dump_path)
  // always build their own.
  std::map<std::string, CalibrationSet>* calib_cache = nullptr;
};

// The result object `ptq run --json` prints: method, quant, evals [{pos, dataset, ppl, ...protocol}], timings,
// layer_errors, block_errors, calibration provenance, notes, events (numerical guards that fired: [{block, layer,
// kind, fallback, detail}]), resolved config, saved path, exports [{format, path,
// bytes, files, quantized_layers, group_size, not_converted, quantization_config, verify}], system.
// Throws ptq::Error on bad input (user) or failures (internal); nothing is written to save_path unless it succeeds.
nlohmann::json execute_run(const RunConfig& cfg, const RunOptions& opt = {});

// The key of RunOptions::pretrain_cache for `cfg` run with `threads` (RunOptions::threads: > 0 overrides the config).
std::string pretrain_cache_key(const RunConfig& cfg, int threads);

}  // namespace ptq
