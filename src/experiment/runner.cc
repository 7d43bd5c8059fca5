#include "experiment/runner.h"

#include <fmt/format.h>

#include <ATen/ATen.h>

#include <chrono>
#include <filesystem>

#include "core/device.h"
#include "core/error.h"
#include "core/system_info.h"
#include "core/threads.h"
#include "data/calibration.h"
#include "eval/perplexity.h"
#include "model/hf_checkpoint.h"
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

}  // namespace

nlohmann::json execute_run(const RunConfig& cfg, const RunOptions& opt) {
  const bool human = opt.verbose;
  const auto t_start = Clock::now();
  nlohmann::json timings;

  set_threads(opt.threads > 0 ? opt.threads : cfg.threads);
  at::manual_seed(static_cast<uint64_t>(cfg.seed));
  const at::Device device =
      with_context(fmt::format("{}: ptq.device", cfg.source), [&] { return resolve_device(cfg.device); });
  if (cfg.save_fake || cfg.save_trans) {
    PTQ_CHECK(!std::filesystem::exists(cfg.save_path),
              "{}: save.save_path '{}' already exists (ptq never overwrites results; choose a new folder)", cfg.source,
              cfg.save_path);
  }

  auto t = Clock::now();
  LoadOptions lo;
  lo.device = device;
  if (cfg.dtype == "float32") lo.dtype = at::kFloat;
  if (cfg.dtype == "float16") lo.dtype = at::kHalf;
  if (cfg.dtype == "bfloat16") lo.dtype = at::kBFloat16;
  LoadedModel m = load_model(cfg.model_path, cfg.tokenizer_path, lo);
  timings["load"] = since(t);

  nlohmann::json evals = nlohmann::json::array();
  auto wants = [&](const char* pos) {
    return cfg.eval && std::find(cfg.eval->positions.begin(), cfg.eval->positions.end(), pos) !=
                           cfg.eval->positions.end();
  };
  if (wants("pretrain")) {
    t = Clock::now();
    for (auto& e : evaluate_all(m, cfg, "pretrain", human)) evals.push_back(e);
    timings["eval_pretrain"] = since(t);
  }

  const MethodInfo& info = find_method(cfg.method);
  std::vector<at::Tensor> batches;
  nlohmann::json calib_prov = nullptr;
  t = Clock::now();
  if (info.needs_calibration || cfg.calib) {
    PTQ_CHECK(cfg.calib.has_value(), "{}: method '{}' needs calibration data: add a calib section", cfg.source,
              cfg.method);
    CalibrationSet cs = build_calibration(*cfg.calib, *m.tokenizer);
    batches = cs.batches;
    calib_prov = cs.provenance;
  }  // else: data-free (RTN without calib): no layer errors are measured
  timings["calibration"] = since(t);

  t = Clock::now();
  auto method = info.make(cfg.special);
  PipelineOptions po;
  po.quant_out = cfg.quant_out;
  po.keep_transformed = cfg.save_trans;
  PipelineResult pr = run_pipeline(*m.model, batches, *method, cfg.scheme, po);
  timings["quantize"] = since(t);
  if (human) {
    double worst = 0;
    std::string worst_layer;
    for (const auto& e : pr.layer_errors)
      if (e.rel_output_error > worst) worst = e.rel_output_error, worst_layer = e.layer;
    fmt::print("{} {}: {} layers in {:.2f} s; largest relative output error {:.4f} ({})\n", cfg.method,
               cfg.scheme.name(), pr.layer_errors.size(), pr.seconds, worst, worst_layer);
  }

  if (wants("fake_quant")) {
    t = Clock::now();
    for (auto& e : evaluate_all(m, cfg, "fake_quant", human)) evals.push_back(e);
    timings["eval_fake_quant"] = since(t);
  }

  std::string saved;
  nlohmann::json saved_paths = nlohmann::json::object();
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
          (std::filesystem::path(cfg.save_path) / (fake ? "fake_quant_model" : "transformed_model")).string();
      write_hf_checkpoint(dir, m.model->config(), tensors, 5'000'000'000ULL, meta);
      saved_paths[fake ? "fake_quant" : "transformed"] = dir;
      if (human) fmt::print("saved {}\n", dir);
    }
    saved = cfg.save_fake ? saved_paths["fake_quant"].get<std::string>() : saved_paths["transformed"].get<std::string>();
    timings["save"] = since(t);
  }
  timings["total"] = since(t_start);

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
    nlohmann::json out = {{"method", cfg.method},     {"quant", quant},           {"evals", evals},
                          {"timings", timings},       {"layer_errors", layer_errors},
                          {"block_errors", pr.block_errors}, {"calibration", calib_prov},
                          {"notes", pr.notes},        {"config", cfg.to_json()},  {"saved", saved}, {"saved_paths", saved_paths},
                          {"system", to_json(system_info())}};
    return out;
  }
}

}  // namespace ptq
