// One LLMC-style run configuration (`ptq run --config FILE.yml`), parsed into typed structs once, at the edge.
// Sections and keys follow LLMC's names so LLMC users bring their files:
//   base:  seed
//   model: type, path, torch_dtype (auto | float32 | float16 | bfloat16), tokenizer (ptq: overrides the checkpoint's)
//   calib: name, path, n_samples, bs, seq_len, preproc, seed, download (must be false: ptq reads local files)
//          ptq additions: first_doc, last_doc, dump_path
//   eval:  eval_pos [pretrain, fake_quant], name (one or a list), path, seq_len, bs, download, inference_per_block
//          ptq additions: bos, max_windows, first_doc, last_doc
//   quant: method (LLMC class name RTN, GPTQ, Awq, OmniQuant, or a ptq registry id), weight {bit, symmetric,
//          granularity, group_size, calib_algo: minmax, need_pack (accepted), pack_version: gemm_pack | gemv_pack
//          (the AutoAWQ layout save_autoawq writes)}, act {bit, symmetric, granularity}, special {...}, quant_out
//   save:  save_trans, save_fake, save_autoawq (AutoAWQ GEMM/GEMV real-quant checkpoint, autoawq_quant_model/),
//          save_path
//          ptq additions: save_gptq (GPTQ checkpoint, gptq_quant_model/), gptq_version (v1: checkpoint_format "gptq",
//          zeros minus one, the default; v2: "gptq_v2"), verify_export (default true: every export is verified
//          against the fake-quant model before the run succeeds, src/export/verify_export.h)
//   ptq:   threads, device, offload, measure_errors, search_cache, step_1 {config, set, handover, cache_dir} (ptq's own section; step_1: StepOne below)
// Unknown keys are errors naming the file and the key path; `--set key.path=value` overrides apply before parsing.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/quant_spec.h"
#include "data/calibration.h"

namespace YAML {
class Node;
}

namespace ptq {

struct EvalConfig {
  std::vector<std::string> positions = {"pretrain", "fake_quant"};  // eval_pos
  std::vector<std::string> datasets;                                // name
  std::string path;
  int64_t seq_len = 2048;
  int64_t bs = 1;
  bool bos = false;
  int64_t max_windows = 0;
  int64_t first_doc = 0, last_doc = -1;
};

struct RunConfig;

// `ptq.step_1`: a first run whose artifacts initialise this one (the AWQ -> OmniQuant combination;
// docs/methods/awq_omniquant.md). Its resolved configuration is part of this run's configuration (and run key); its
// artifacts live in a content-addressed cache folder, cache_dir/<sha256 of the step-1 configuration and the ptq build>,
// and are reused by every run that names the same step 1 (src/experiment/staged_run.h).
struct StepOne {
  std::string config_file;              // step_1.config: a run configuration file
  std::vector<std::string> overrides;   // step_1.set: leaf overrides ("calib.seed=1"), nested maps flattened
  std::string handover = "transformed_model";  // transformed_model (model.path <- the transformed checkpoint) or
                                               // scales_clips (quant.special.scale_path / clip_path <- AWQ's files)
  std::string cache_dir = "results/cache";
  bool same_scheme = true;  // step 1 takes this run's quant.weight / quant.act (the references use one scheme)
  bool same_seed = true;    // step 1 takes this run's base.seed and calib.seed (a seed axis varies both steps)
  bool same_model = true;   // step 1 takes this run's model.path, model.tokenizer and model.torch_dtype
  bool same_calib_data = true;  // step 1 takes this run's calibration text (calib name, path, preproc, first_doc,
                                // last_doc); its n_samples, seq_len and bs stay its own
  std::shared_ptr<const RunConfig> config;  // the resolved step-1 configuration
};

struct RunConfig {
  std::string source;  // the file, for messages and provenance
  int64_t seed = 42;
  std::string model_type;
  std::string model_path;
  std::string tokenizer_path;
  std::string dtype = "auto";
  std::optional<CalibOptions> calib;
  std::optional<EvalConfig> eval;
  std::string method;  // registry id
  QuantScheme scheme;
  nlohmann::json special = nlohmann::json::object();
  bool quant_out = true;
  bool save_trans = false, save_fake = false;
  bool save_autoawq = false, save_gptq = false;
  std::string pack_version = "gemm_pack";  // quant.weight.pack_version: gemm_pack | gemv_pack (save_autoawq)
  std::string gptq_version = "v1";         // save.gptq_version: v1 | v2 (save_gptq)
  bool verify_export = true;
  std::string save_path;
  int threads = 0;
  std::string device = "cpu";
  // ptq.offload: blocks (weights stay in host memory, pinned; one block at a time on the device for calibration, the
  // whole model moved there for each evaluation), none (the model lives on the device), auto (blocks on CUDA).
  std::string offload = "auto";
  // ptq.measure_errors: per-linear and per-block errors of the quantized block (default true); false for speed runs
  // (stored with the run; nothing else changes).
  bool measure_errors = true;
  // ptq.search_cache: a folder for content-addressed search results (AWQ's scale search) shared across runs and
  // cells; "" = off. Not part of the stored configuration or the run key: a hit reproduces the search exactly.
  std::string search_cache;
  std::optional<StepOne> step_1;

  nlohmann::json to_json() const;  // the resolved configuration, stored with results
};

// Parses and validates; `file` names the source in error messages.
RunConfig parse_run_config(const YAML::Node& root, const std::string& file);
RunConfig load_run_config(const std::string& file, const std::vector<std::string>& overrides = {});

// LLMC class names and ptq ids -> ptq registry id ("GPTQ" -> "gptq").
std::string method_id_from_llmc(const std::string& name);

}  // namespace ptq
