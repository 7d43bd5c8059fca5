#include "experiment/runner.h"

#include <fmt/format.h>

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

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

}  // namespace

nlohmann::json execute_run(const RunConfig& cfg, const RunOptions& opt) {
  const bool human = opt.verbose;
  const auto t_start = Clock::now();
  nlohmann::json timings;

  reset_peak_rss();
  set_threads(opt.threads > 0 ? opt.threads : cfg.threads);
  at::manual_seed(static_cast<uint64_t>(cfg.seed));
  const at::Device device =
      with_context(fmt::format("{}: ptq.device", cfg.source), [&] { return resolve_device(cfg.device); });
  const std::vector<ExportTarget> targets = export_targets(cfg);
  const bool saving = cfg.save_fake || cfg.save_trans || !targets.empty();
  if (saving) {
    PTQ_CHECK(!std::filesystem::exists(cfg.save_path),
              "{}: save.save_path '{}' already exists (ptq never overwrites results; choose a new folder)", cfg.source,
              cfg.save_path);
  }
  // Everything saved goes to a temporary folder beside save_path, published (fsync, rename) only when the run has
  // succeeded: a killed or failed run never leaves a half-written save_path (core/atomic_file.h).
  const std::string stage = saving ? temp_path_for(cfg.save_path) : std::string();

  // Offload (ptq.offload, run_config.h): on a CUDA device the weights stay in pinned host memory and the pipeline
  // moves one block at a time to the device; evaluations move the whole model there for their duration.
  const bool offload = !device.is_cpu() && cfg.offload != "none";
  reset_peak_device_memory(device);
  auto t = Clock::now();
  LoadOptions lo;
  lo.device = offload ? at::Device(at::kCPU) : device;
  if (cfg.dtype == "float32") lo.dtype = at::kFloat;
  if (cfg.dtype == "float16") lo.dtype = at::kHalf;
  if (cfg.dtype == "bfloat16") lo.dtype = at::kBFloat16;
  LoadedModel m = load_model(cfg.model_path, cfg.tokenizer_path, lo, run_needs_tokenizer(cfg));
  if (offload) move_to_host(*m.model, device.is_cuda());
  release_free_heap_memory();  // the loader's per-tensor copies (core/peak_memory.h)
  timings["load"] = since(t);
  // Runs fn with the whole model on the compute device (offload: moved there and back to pinned host memory).
  auto on_device = [&](const auto& fn) {
    if (offload) m.model->to(device);
    fn();
    if (offload) move_to_host(*m.model, device.is_cuda());
  };
  // What the export formats cannot store is refused now, not after calibration: shapes, then what the method produces
  // under these settings (MethodInfo::export_problem: GPTQ act-order groups in AutoAWQ, HQQ's real zero points).
  const MethodInfo& info = find_method(cfg.method);
  const nlohmann::json resolved = info.resolve(cfg.special);
  for (const auto& target : targets) {
    with_context(fmt::format("{}: save", cfg.source),
                 [&] { check_export_shapes(m.model->config(), cfg.scheme, target); });
    const std::string why =
        info.export_problem ? info.export_problem(resolved, cfg.scheme, target.is_awq()) : "";
    PTQ_CHECK(why.empty(), "{}: {}: {}", cfg.source, target.is_awq() ? "save.save_autoawq" : "save.save_gptq", why);
  }

  nlohmann::json evals = nlohmann::json::array();
  auto wants = [&](const char* pos) {
    return cfg.eval && std::find(cfg.eval->positions.begin(), cfg.eval->positions.end(), pos) !=
                           cfg.eval->positions.end();
  };
  if (wants("pretrain")) {
    const std::string key = nlohmann::json::array({cfg.model_path, cfg.tokenizer_path, cfg.dtype, cfg.device,
                                                   opt.threads > 0 ? opt.threads : cfg.threads, cfg.eval->datasets,
                                                   cfg.eval->path, cfg.eval->seq_len, cfg.eval->bs, cfg.eval->bos,
                                                   cfg.eval->max_windows, cfg.eval->first_doc, cfg.eval->last_doc})
                                .dump();
    if (opt.pretrain_cache && opt.pretrain_cache->count(key)) {
      for (nlohmann::json e : opt.pretrain_cache->at(key)) {
        e["reused"] = true;
        if (human) fmt::print("pretrain    {:<12} ppl {:.4f} (reused)\n", e["dataset"].get<std::string>(),
                              e["ppl"].get<double>());
        evals.push_back(e);
      }
    } else {
      t = Clock::now();
      nlohmann::json fp;
      on_device([&] { fp = evaluate_all(m, cfg, "pretrain", human); });
      for (const auto& e : fp) evals.push_back(e);
      timings["eval_pretrain"] = since(t);
      if (opt.pretrain_cache) (*opt.pretrain_cache)[key] = fp;
    }
  }

  std::vector<at::Tensor> batches;
  nlohmann::json calib_prov = nullptr;
  t = Clock::now();
  if (info.needs_calibration || cfg.calib) {
    PTQ_CHECK(cfg.calib.has_value(), "{}: method '{}' needs calibration data: add a calib section", cfg.source,
              cfg.method);
    const std::string key = nlohmann::json::array({cfg.to_json()["calib"], cfg.model_path, cfg.tokenizer_path}).dump();
    const bool cacheable = opt.calib_cache && cfg.calib->dump_path.empty();
    if (cacheable && opt.calib_cache->count(key)) {
      const CalibrationSet& cs = opt.calib_cache->at(key);
      batches = cs.batches;
      calib_prov = cs.provenance;
      calib_prov["reused"] = true;
    } else {
      CalibrationSet cs = build_calibration(*cfg.calib, m.tokenizer.get(), m.checkpoint->config().vocab_size);
      batches = cs.batches;
      calib_prov = cs.provenance;
      if (cacheable) (*opt.calib_cache)[key] = std::move(cs);
    }
  }  // else: data-free (RTN without calib): no layer errors are measured
  timings["calibration"] = since(t);

  t = Clock::now();
  auto method = info.make(cfg.special);
  PipelineOptions po;
  po.quant_out = cfg.quant_out;
  po.keep_transformed = cfg.save_trans;
  po.measure_errors = cfg.measure_errors;
  po.search_cache = cfg.search_cache;
  po.keep_codes = !targets.empty();
  if (offload) po.device = device;
  PipelineResult pr = run_pipeline(*m.model, batches, *method, cfg.scheme, po);
  // Exports store fp16 scales: the fake-quant model becomes exactly the exported one (src/export/fp16_scales.h).
  double scale_rounding = 0;
  if (!targets.empty()) scale_rounding = round_scales_to_fp16(*m.model, pr.codes);
  timings["quantize"] = since(t);
  if (human) {
    double worst = 0;
    std::string worst_layer;
    for (const auto& e : pr.layer_errors)
      if (e.rel_output_error > worst) worst = e.rel_output_error, worst_layer = e.layer;
    if (cfg.measure_errors)
      fmt::print("{} {}: {} layers in {:.2f} s; largest relative output error {:.4f} ({})\n", cfg.method,
                 cfg.scheme.name(), pr.layer_errors.size(), pr.seconds, worst, worst_layer);
    else
      fmt::print("{} {}: quantized in {:.2f} s (errors not measured: ptq.measure_errors false)\n", cfg.method,
                 cfg.scheme.name(), pr.seconds);
  }

  if (wants("fake_quant")) {
    t = Clock::now();
    on_device([&] {
      for (auto& e : evaluate_all(m, cfg, "fake_quant", human)) evals.push_back(e);
    });
    timings["eval_fake_quant"] = since(t);
  }

  std::string saved;
  nlohmann::json saved_paths = nlohmann::json::object();
  if (saving) {
    const std::filesystem::path parent = std::filesystem::absolute(cfg.save_path).parent_path();
    std::filesystem::create_directories(parent);
    remove_stale_temps(parent.string());
    std::filesystem::remove_all(stage);
  }
  if (cfg.save_fake || cfg.save_trans) {
    t = Clock::now();
    auto params = m.model->named_parameters();
    const std::map<std::string, std::string> meta = {{"ptq_method", cfg.method}, {"ptq_scheme", cfg.scheme.name()}};
    // save_trans: the transformed fp model (block linears before quantization); save_fake: the fake-quantized one.
    for (const bool fake : {false, true}) {
      if (fake ? !cfg.save_fake : !cfg.save_trans) continue;
      std::vector<std::pair<std::string, at::Tensor>> tensors;
      for (const auto& name : hf_tensor_names(m.model->config())) {
        auto it = pr.transformed.find(name);
        tensors.emplace_back(name, !fake && it != pr.transformed.end() ? it->second : *params.find(name));
      }
      const std::string dir =
          (std::filesystem::path(stage) / (fake ? "fake_quant_model" : "transformed_model")).string();
      write_hf_checkpoint(dir, m.model->config(), tensors, 5'000'000'000ULL, meta);
      copy_tokenizer_files(cfg.model_path, cfg.tokenizer_path, m.model->config(), dir);
      saved_paths[fake ? "fake_quant" : "transformed"] = dir;
      if (human) fmt::print("saved {}\n", dir);
    }
    saved = cfg.save_fake ? saved_paths["fake_quant"].get<std::string>() : saved_paths["transformed"].get<std::string>();
    timings["save"] = since(t);
  }
  nlohmann::json exports = nlohmann::json::array();
  for (const auto& target : targets) {
    t = Clock::now();
    ExportRequest req;
    req.target = target;
    req.dir = (std::filesystem::path(stage) / target.folder()).string();
    req.method = cfg.method;
    req.method_params = method->params();
    req.model_path = cfg.model_path;
    req.tokenizer_path = cfg.tokenizer_path;
    const ExportResult er = with_context(fmt::format("{}: save", cfg.source), [&] {
      return write_quantized_checkpoint(*m.model, pr.codes, cfg.scheme, req);
    });
    nlohmann::json e = {{"format", target.name()},         {"path", er.dir},
                        {"bytes", er.bytes},                {"files", er.files},
                        {"quantized_layers", er.quantized_layers}, {"group_size", er.group_size},
                        {"not_converted", er.not_converted}, {"quantization_config", er.quantization_config}};
    timings["export_" + target.name()] = since(t);
    if (human) fmt::print("saved {} ({}, {:.2f} MB)\n", er.dir, target.name(), er.bytes / 1e6);
    if (saved.empty()) saved = er.dir;
    saved_paths[target.name()] = er.dir;
    if (cfg.verify_export) {
      t = Clock::now();
      VerifyReport vr;
      on_device([&] { vr = verify_export(er.dir, m.model, *m.tokenizer, verify_options(cfg), &pr.codes); });
      timings["verify_" + target.name()] = since(t);
      e["verify"] = vr.to_json();
      if (human)
        fmt::print("verified {}: {} layers bit for bit, ppl export {:.6f} vs fake-quant {:.6f} (relative {:.2g}){}\n",
                   target.name(), vr.layers_checked, vr.ppl_export, vr.ppl_reference, vr.ppl_rel_diff,
                   vr.ok() ? "" : " FAILED");
      // A mismatch is ptq's own fault (the export was written from these very codes): an internal error, exit 1.
      PTQ_ASSERT(vr.ok(), "{}: the export does not verify against the fake-quant model ({} mismatch(es), first: {}); "
                          "the directory is kept for inspection",
                 er.dir, vr.mismatches.size(), vr.mismatches.front());
    }
    exports.push_back(e);
  }
  if (saving) {
    publish_dir(stage, cfg.save_path);
    // The paths reported are the published ones.
    auto published = [&](const std::string& p) {
      return p.rfind(stage, 0) == 0 ? cfg.save_path + p.substr(stage.size()) : p;
    };
    saved = published(saved);
    for (auto& [k, v] : saved_paths.items()) v = published(v.get<std::string>());
    for (auto& e : exports) e["path"] = published(e["path"].get<std::string>());
  }
  timings["total"] = since(t_start);
  const int64_t peak_rss = peak_rss_bytes();

  {
    nlohmann::json layer_errors = nlohmann::json::array();
    for (const auto& e : pr.layer_errors)
      layer_errors.push_back({{"block", e.block}, {"layer", e.layer}, {"rel_output_error", e.rel_output_error},
                              {"rel_weight_error", e.rel_weight_error}});
    nlohmann::json quant = {{"scheme", cfg.scheme.name()},
                            {"weight", cfg.scheme.weight.describe()},
                            {"act", cfg.scheme.act ? cfg.scheme.act->describe() : "none"},
                            {"params", method->params()},
                            {"quant_out", cfg.quant_out}};
    if (!targets.empty()) quant["scales_rounded_to_fp16"] = {{"max_relative_change", scale_rounding}};
    nlohmann::json out = {{"method", cfg.method},     {"quant", quant},           {"evals", evals},
                          {"timings", timings},       {"layer_errors", layer_errors},
                          {"block_errors", pr.block_errors}, {"calibration", calib_prov},
                          {"notes", pr.notes},        {"events", pr.events},
                          {"config", cfg.to_json()},  {"saved", saved}, {"saved_paths", saved_paths},
                          {"exports", exports},
                          // host (Linux VmHWM) and device (CUDA caching allocator) peaks of this run
                          {"memory", {{"peak_rss_bytes", peak_rss}, {"peak_device_bytes", peak_device_bytes(device)},
                                      {"device", device.str()}, {"offload", offload}}},
                          {"system", to_json(system_info())}};
    return out;
  }
}

}  // namespace ptq
