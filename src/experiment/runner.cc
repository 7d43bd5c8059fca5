#include "experiment/runner.h"

#include <fmt/format.h>

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>

#include "core/atomic_file.h"
#include "core/device.h"
#include "core/error.h"
#include "core/peak_memory.h"
#include "core/system_info.h"
#include "core/threads.h"
#include "data/calibration.h"
#include "eval/perplexity.h"
#include "export/export_checkpoint.h"
#include "export/export_target.h"
#include "export/fp16_scales.h"
#include "export/verify_export.h"
#include "experiment/input_check.h"
#include "model/hf_checkpoint.h"
#include "model/hf_side_files.h"
#include "model/loaded_model.h"
#include "pipeline/pipeline.h"

namespace ptq {

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

nlohmann::json evaluate_all(LoadedModel& m, const RunConfig& cfg, const std::string& pos, bool verbose) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& name : cfg.eval->datasets) {
    EvalTextOptions eo;
    eo.data_path = cfg.eval->path;
    if (name == "tinystories") {
      eo.first_story = cfg.eval->first_doc;
      eo.last_story = cfg.eval->last_doc;
    }
    const EvalText text = load_eval_text(name, eo);
    PerplexityOptions po;
    po.seq_len = cfg.eval->seq_len;
    po.bos = cfg.eval->bos;
    po.batch_size = cfg.eval->bs;
    po.max_windows = cfg.eval->max_windows;
    PerplexityResult r = evaluate_perplexity(m.model, *m.tokenizer, text, po);
    if (verbose) fmt::print("{:<11} {:<12} ppl {:.4f} ± {:.4f}  ({} tokens)\n", pos, name, r.ppl, r.ppl_stderr, r.tokens);
    out.push_back({{"pos", pos},
                   {"dataset", name},
                   {"ppl", r.ppl},
                   {"ppl_stderr", r.ppl_stderr},
                   {"nll_mean", r.nll_mean},
                   {"tokens", r.tokens},
                   {"windows", r.windows},
                   {"seconds", r.seconds},
                   {"protocol", r.protocol}});
  }
  return out;
}

// The real-quant formats the configuration asks for (save_autoawq with its pack_version, save_gptq).
std::vector<ExportTarget> export_targets(const RunConfig& cfg) {
  std::vector<ExportTarget> t;
  if (cfg.save_autoawq)
    t.push_back({cfg.pack_version == "gemv_pack" ? ExportFormat::kAwqGemv : ExportFormat::kAwqGemm, GptqZeros::kV1});
  if (cfg.save_gptq) t.push_back({ExportFormat::kGptq, cfg.gptq_version == "v2" ? GptqZeros::kV2 : GptqZeros::kV1});
  return t;
}

// Verification windows: the first eval dataset of the run (at most 16 windows), else 8 windows of TinyStories.
VerifyOptions verify_options(const RunConfig& cfg) {
  VerifyOptions o;
  if (!cfg.eval) return o;
  o.dataset = cfg.eval->datasets.front();
  o.text.data_path = cfg.eval->path;
  if (o.dataset == "tinystories") {
    o.text.first_story = cfg.eval->first_doc;
    o.text.last_story = cfg.eval->last_doc;
  }
  o.ppl.seq_len = cfg.eval->seq_len;
  o.ppl.bos = cfg.eval->bos;
  o.ppl.batch_size = cfg.eval->bs;
  o.ppl.max_windows = cfg.eval->max_windows > 0 ? std::min<int64_t>(cfg.eval->max_windows, 16) : 16;
  return o;
}

// What the stages of one run share; each stage reads what the earlier ones left and adds its part.
struct RunState {
  RunState(const RunConfig& c, const RunOptions& o) : cfg(c), opt(o), human(o.verbose) {}
  const RunConfig& cfg;
  const RunOptions& opt;
  const bool human;  // human-readable progress on stdout
  const Clock::time_point t_start = Clock::now();
  nlohmann::json timings;  // seconds by stage

  at::Device device{at::kCPU};
  std::vector<ExportTarget> targets;
  bool saving = false;  // anything to write under save_path
  std::string stage;    // the temporary folder saves go to until publish()
  bool offload = false;
  LoadedModel m;
  const MethodInfo* info = nullptr;

  nlohmann::json evals = nlohmann::json::array();
  std::vector<at::Tensor> batches;
  nlohmann::json calib_prov = nullptr;
  std::unique_ptr<Method> method;
  PipelineResult pr;
  double scale_rounding = 0;
  std::string saved;
  nlohmann::json saved_paths = nlohmann::json::object();
  nlohmann::json exports = nlohmann::json::array();

  // Runs fn with the whole model on the compute device (offload: moved there and back to pinned host memory).
  template <class Fn>
  void on_device(const Fn& fn) {
    if (offload) m.model->to(device);
    fn();
    if (offload) move_to_host(*m.model, device.is_cuda());
  }
  bool wants(const char* pos) const {
    return cfg.eval && std::find(cfg.eval->positions.begin(), cfg.eval->positions.end(), pos) !=
                           cfg.eval->positions.end();
  }
};

// Threads, seed, device and save folder checks; loads the model; refuses exports that cannot hold the result.
void load_stage(RunState& s) {
  const RunConfig& cfg = s.cfg;
  reset_peak_rss();
  set_threads(s.opt.threads > 0 ? s.opt.threads : cfg.threads);
  at::manual_seed(static_cast<uint64_t>(cfg.seed));
  s.device = with_context(fmt::format("{}: ptq.device", cfg.source), [&] { return resolve_device(cfg.device); });
  s.targets = export_targets(cfg);
  s.saving = cfg.save_fake || cfg.save_trans || !s.targets.empty();
  if (s.saving) {
    PTQ_CHECK(!std::filesystem::exists(cfg.save_path),
              "{}: save.save_path '{}' already exists (ptq never overwrites results; choose a new folder)", cfg.source,
              cfg.save_path);
  }
  // Everything saved goes to a temporary folder beside save_path, published (fsync, rename) only when the run has
  // succeeded: a killed or failed run never leaves a half-written save_path (core/atomic_file.h).
  s.stage = s.saving ? temp_path_for(cfg.save_path) : std::string();

  // Offload (ptq.offload, run_config.h): on a CUDA device the weights stay in pinned host memory and the pipeline
  // moves one block at a time to the device; evaluations move the whole model there for their duration.
  s.offload = !s.device.is_cpu() && cfg.offload != "none";
  reset_peak_device_memory(s.device);
  const auto t = Clock::now();
  LoadOptions lo;
  lo.device = s.offload ? at::Device(at::kCPU) : s.device;
  if (cfg.dtype == "float32") lo.dtype = at::kFloat;
  if (cfg.dtype == "float16") lo.dtype = at::kHalf;
  if (cfg.dtype == "bfloat16") lo.dtype = at::kBFloat16;
  s.m = load_model(cfg.model_path, cfg.tokenizer_path, lo, run_needs_tokenizer(cfg));
  if (s.offload) move_to_host(*s.m.model, s.device.is_cuda());
  release_free_heap_memory();  // the loader's per-tensor copies (core/peak_memory.h)
  s.timings["load"] = since(t);
  // What the export formats cannot store is refused now, not after calibration: shapes, then what the method produces
  // under these settings (MethodInfo::export_problem: GPTQ act-order groups in AutoAWQ, HQQ's real zero points).
  s.info = &find_method(cfg.method);
  const nlohmann::json resolved = s.info->resolve(cfg.special);
  for (const auto& target : s.targets) {
    with_context(fmt::format("{}: save", cfg.source),
                 [&] { check_export_shapes(s.m.model->config(), cfg.scheme, target); });
    const std::string why =
        s.info->export_problem ? s.info->export_problem(resolved, cfg.scheme, target.is_awq()) : "";
    PTQ_CHECK(why.empty(), "{}: {}: {}", cfg.source, target.is_awq() ? "save.save_autoawq" : "save.save_gptq", why);
  }
}

// eval_pos pretrain: the unquantized model's perplexities (reused from opt.pretrain_cache within a matrix).
void eval_pretrain_stage(RunState& s) {
  const RunConfig& cfg = s.cfg;
  if (!s.wants("pretrain")) return;
  const std::string key = pretrain_cache_key(cfg, s.opt.threads);
  if (s.opt.pretrain_cache && s.opt.pretrain_cache->count(key)) {
    for (nlohmann::json e : s.opt.pretrain_cache->at(key)) {
      e["reused"] = true;
      if (s.human)
        fmt::print("pretrain    {:<12} ppl {:.4f} (reused)\n", e["dataset"].get<std::string>(), e["ppl"].get<double>());
      s.evals.push_back(e);
    }
    return;
  }
  const auto t = Clock::now();
  nlohmann::json fp;
  s.on_device([&] { fp = evaluate_all(s.m, cfg, "pretrain", s.human); });
  for (const auto& e : fp) s.evals.push_back(e);
  s.timings["eval_pretrain"] = since(t);
  if (s.opt.pretrain_cache) (*s.opt.pretrain_cache)[key] = fp;
}

// The calibration batches (reused from opt.calib_cache within a matrix); none for a data-free run.
void calibrate_stage(RunState& s) {
  const RunConfig& cfg = s.cfg;
  const auto t = Clock::now();
  if (s.info->needs_calibration || cfg.calib) {
    PTQ_CHECK(cfg.calib.has_value(), "{}: method '{}' needs calibration data: add a calib section", cfg.source,
              cfg.method);
    const std::string key = nlohmann::json::array({cfg.to_json()["calib"], cfg.model_path, cfg.tokenizer_path}).dump();
    const bool cacheable = s.opt.calib_cache && cfg.calib->dump_path.empty();
    if (cacheable && s.opt.calib_cache->count(key)) {
      const CalibrationSet& cs = s.opt.calib_cache->at(key);
      s.batches = cs.batches;
      s.calib_prov = cs.provenance;
      s.calib_prov["reused"] = true;
    } else {
      CalibrationSet cs = build_calibration(*cfg.calib, s.m.tokenizer.get(), s.m.checkpoint->config().vocab_size);
      s.batches = cs.batches;
      s.calib_prov = cs.provenance;
      if (cacheable) (*s.opt.calib_cache)[key] = std::move(cs);
    }
  }  // else: data-free (RTN without calib): no layer errors are measured
  s.timings["calibration"] = since(t);
}

// The block-wise pipeline with the configured method.
void quantize_stage(RunState& s) {
  const RunConfig& cfg = s.cfg;
  const auto t = Clock::now();
  s.method = s.info->make(cfg.special);
  PipelineOptions po;
  po.quant_out = cfg.quant_out;
  po.keep_transformed = cfg.save_trans;
  po.measure_errors = cfg.measure_errors;
  po.search_cache = cfg.search_cache;
  po.keep_codes = !s.targets.empty();
  if (s.offload) po.device = s.device;
  s.pr = run_pipeline(*s.m.model, s.batches, *s.method, cfg.scheme, po);
  // Exports store fp16 scales: the fake-quant model becomes exactly the exported one (src/export/fp16_scales.h).
  if (!s.targets.empty()) s.scale_rounding = round_scales_to_fp16(*s.m.model, s.pr.codes);
  s.timings["quantize"] = since(t);
  if (!s.human) return;
  if (cfg.measure_errors) {
    double worst = 0;
    std::string worst_layer;
    for (const auto& e : s.pr.layer_errors)
      if (e.rel_output_error > worst) worst = e.rel_output_error, worst_layer = e.layer;
    fmt::print("{} {}: {} layers in {:.2f} s; largest relative output error {:.4f} ({})\n", cfg.method,
               cfg.scheme.name(), s.pr.layer_errors.size(), s.pr.seconds, worst, worst_layer);
  } else {
    fmt::print("{} {}: quantized in {:.2f} s (errors not measured: ptq.measure_errors false)\n", cfg.method,
               cfg.scheme.name(), s.pr.seconds);
  }
}

// eval_pos fake_quant: the quantized model's perplexities.
void eval_fake_quant_stage(RunState& s) {
  if (!s.wants("fake_quant")) return;
  const auto t = Clock::now();
  s.on_device([&] {
    for (auto& e : evaluate_all(s.m, s.cfg, "fake_quant", s.human)) s.evals.push_back(e);
  });
  s.timings["eval_fake_quant"] = since(t);
}

// save_trans / save_fake: HF checkpoints of the transformed fp model and of the fake-quantized one, into the stage.
void save_checkpoints_stage(RunState& s) {
  const RunConfig& cfg = s.cfg;
  if (!cfg.save_fake && !cfg.save_trans) return;
  const auto t = Clock::now();
  auto params = s.m.model->named_parameters();
  const std::map<std::string, std::string> meta = {{"ptq_method", cfg.method}, {"ptq_scheme", cfg.scheme.name()}};
  for (const bool fake : {false, true}) {
    if (fake ? !cfg.save_fake : !cfg.save_trans) continue;
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    for (const auto& name : hf_tensor_names(s.m.model->config())) {
      auto it = s.pr.transformed.find(name);
      tensors.emplace_back(name, !fake && it != s.pr.transformed.end() ? it->second : *params.find(name));
    }
    const std::string dir =
        (std::filesystem::path(s.stage) / (fake ? "fake_quant_model" : "transformed_model")).string();
    write_hf_checkpoint(dir, s.m.model->config(), tensors, 5'000'000'000ULL, meta);
    copy_tokenizer_files(cfg.model_path, cfg.tokenizer_path, s.m.model->config(), dir);
    s.saved_paths[fake ? "fake_quant" : "transformed"] = dir;
    if (s.human) fmt::print("saved {}\n", dir);
  }
  s.saved = cfg.save_fake ? s.saved_paths["fake_quant"].get<std::string>()
                          : s.saved_paths["transformed"].get<std::string>();
  s.timings["save"] = since(t);
}

// The real-quant exports (save_autoawq, save_gptq) into the stage, each verified when verify_export is on.
void export_stage(RunState& s) {
  const RunConfig& cfg = s.cfg;
  for (const auto& target : s.targets) {
    auto t = Clock::now();
    ExportRequest req;
    req.target = target;
    req.dir = (std::filesystem::path(s.stage) / target.folder()).string();
    req.method = cfg.method;
    req.method_params = s.method->params();
    req.model_path = cfg.model_path;
    req.tokenizer_path = cfg.tokenizer_path;
    const ExportResult er = with_context(fmt::format("{}: save", cfg.source), [&] {
      return write_quantized_checkpoint(*s.m.model, s.pr.codes, cfg.scheme, req);
    });
    nlohmann::json e = {{"format", target.name()},         {"path", er.dir},
                        {"bytes", er.bytes},                {"files", er.files},
                        {"quantized_layers", er.quantized_layers}, {"group_size", er.group_size},
                        {"not_converted", er.not_converted}, {"quantization_config", er.quantization_config}};
    s.timings["export_" + target.name()] = since(t);
    if (s.human) fmt::print("saved {} ({}, {:.2f} MB)\n", er.dir, target.name(), er.bytes / 1e6);
    if (s.saved.empty()) s.saved = er.dir;
    s.saved_paths[target.name()] = er.dir;
    if (cfg.verify_export) {
      t = Clock::now();
      VerifyReport vr;
      s.on_device([&] { vr = verify_export(er.dir, s.m.model, *s.m.tokenizer, verify_options(cfg), &s.pr.codes); });
      s.timings["verify_" + target.name()] = since(t);
      e["verify"] = vr.to_json();
      if (s.human)
        fmt::print("verified {}: {} layers bit for bit, ppl export {:.6f} vs fake-quant {:.6f} (relative {:.2g}){}\n",
                   target.name(), vr.layers_checked, vr.ppl_export, vr.ppl_reference, vr.ppl_rel_diff,
                   vr.ok() ? "" : " FAILED");
      // A mismatch is ptq's own fault (the export was written from these very codes): an internal error, exit 1.
      PTQ_ASSERT(vr.ok(), "{}: the export does not verify against the fake-quant model ({} mismatch(es), first: {}); "
                          "the directory is kept for inspection",
                 er.dir, vr.mismatches.size(), vr.mismatches.front());
    }
    s.exports.push_back(e);
  }
}

// The stage folder becomes save_path (fsync, rename); the reported paths are the published ones.
void publish_stage(RunState& s) {
  const RunConfig& cfg = s.cfg;
  publish_dir(s.stage, cfg.save_path);
  auto published = [&](const std::string& p) {
    return p.rfind(s.stage, 0) == 0 ? cfg.save_path + p.substr(s.stage.size()) : p;
  };
  s.saved = published(s.saved);
  for (auto& [k, v] : s.saved_paths.items()) v = published(v.get<std::string>());
  for (auto& e : s.exports) e["path"] = published(e["path"].get<std::string>());
}

// The `ptq run --json` object (src/store/run_record.h reads it into the store).
nlohmann::json result_json(const RunState& s, int64_t peak_rss) {
  const RunConfig& cfg = s.cfg;
  nlohmann::json layer_errors = nlohmann::json::array();
  for (const auto& e : s.pr.layer_errors)
    layer_errors.push_back({{"block", e.block}, {"layer", e.layer}, {"rel_output_error", e.rel_output_error},
                            {"rel_weight_error", e.rel_weight_error}});
  nlohmann::json quant = {{"scheme", cfg.scheme.name()},
                          {"weight", cfg.scheme.weight.describe()},
                          {"act", cfg.scheme.act ? cfg.scheme.act->describe() : "none"},
                          {"params", s.method->params()},
                          {"quant_out", cfg.quant_out}};
  if (!s.targets.empty()) quant["scales_rounded_to_fp16"] = {{"max_relative_change", s.scale_rounding}};
  return {{"method", cfg.method},     {"quant", quant},           {"evals", s.evals},
          {"timings", s.timings},     {"layer_errors", layer_errors},
          {"block_errors", s.pr.block_errors}, {"calibration", s.calib_prov},
          {"notes", s.pr.notes},      {"events", s.pr.events},
          {"config", cfg.to_json()},  {"saved", s.saved}, {"saved_paths", s.saved_paths},
          {"exports", s.exports},
          // host (Linux VmHWM) and device (CUDA caching allocator) peaks of this run
          {"memory", {{"peak_rss_bytes", peak_rss}, {"peak_device_bytes", peak_device_bytes(s.device)},
                      {"device", s.device.str()}, {"offload", s.offload}}},
          {"system", to_json(system_info())}};
}

}  // namespace

std::string pretrain_cache_key(const RunConfig& cfg, int threads) {
  PTQ_ASSERT(cfg.eval.has_value(), "{}: pretrain_cache_key needs an eval section", cfg.source);
  return nlohmann::json::array({cfg.model_path, cfg.tokenizer_path, cfg.dtype, cfg.device,
                                threads > 0 ? threads : cfg.threads, cfg.eval->datasets, cfg.eval->path,
                                cfg.eval->seq_len, cfg.eval->bs, cfg.eval->bos, cfg.eval->max_windows,
                                cfg.eval->first_doc, cfg.eval->last_doc})
      .dump();
}

nlohmann::json execute_run(const RunConfig& cfg, const RunOptions& opt) {
  RunState s(cfg, opt);
  load_stage(s);
  eval_pretrain_stage(s);
  calibrate_stage(s);
  quantize_stage(s);
  eval_fake_quant_stage(s);
  if (s.saving) {
    const std::filesystem::path parent = std::filesystem::absolute(cfg.save_path).parent_path();
    std::filesystem::create_directories(parent);
    remove_stale_temps(parent.string());
    std::filesystem::remove_all(s.stage);
  }
  save_checkpoints_stage(s);
  export_stage(s);
  if (s.saving) publish_stage(s);
  s.timings["total"] = since(s.t_start);
  return result_json(s, peak_rss_bytes());
}

}  // namespace ptq
