#include "experiment/run_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "core/did_you_mean.h"
#include "core/error.h"
#include "experiment/yaml_tree.h"
#include "methods/method.h"

namespace ptq {

namespace {

// Reads one YAML mapping, tracking which keys were consumed so the rest can be reported as unknown.
class Section {
 public:
  Section(const YAML::Node& node, std::string path, const std::string& file)
      : node_(node), path_(std::move(path)), file_(file) {
    PTQ_CHECK(!node_ || node_.IsNull() || node_.IsMap(), "{}: {} must be a mapping", file_, path_);
  }
  bool has(const std::string& key) const { return node_ && node_.IsMap() && node_[key] && !node_[key].IsNull(); }
  std::string key_path(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }
  const std::string& path() const { return path_; }

  template <class T>
  T get(const std::string& key, T fallback) {
    used_.push_back(key);
    if (!has(key)) return fallback;
    try {
      return node_[key].as<T>();
    } catch (const YAML::Exception&) {
      PTQ_FAIL("{}: {}: cannot read '{}' as {}", file_, key_path(key), YAML::Dump(node_[key]), type_name<T>());
    }
  }
  std::vector<std::string> get_list(const std::string& key, std::vector<std::string> fallback) {
    used_.push_back(key);
    if (!has(key)) return fallback;
    const YAML::Node n = node_[key];
    if (n.IsScalar()) return {n.as<std::string>()};
    PTQ_CHECK(n.IsSequence(), "{}: {} must be a name or a list of names", file_, key_path(key));
    std::vector<std::string> out;
    for (const auto& v : n) out.push_back(v.as<std::string>());
    return out;
  }
  Section sub(const std::string& key) {
    used_.push_back(key);
    return Section(has(key) ? node_[key] : YAML::Node(), key_path(key), file_);
  }
  YAML::Node raw(const std::string& key) {
    used_.push_back(key);
    return has(key) ? node_[key] : YAML::Node();
  }
  // Every key present must have been read.
  void finish() const {
    if (!node_ || !node_.IsMap()) return;
    for (const auto& kv : node_) {
      const std::string k = kv.first.as<std::string>();
      if (std::find(used_.begin(), used_.end(), k) == used_.end()) {
        std::string known;
        for (const auto& u : used_) known += (known.empty() ? "" : ", ") + u;
        PTQ_FAIL("{}: {}: unknown key (known here: {}){}", file_, key_path(k), known, did_you_mean(k, used_));
      }
    }
  }

 private:
  template <class T>
  static const char* type_name() {
    if constexpr (std::is_same_v<T, bool>) return "true/false";
    else if constexpr (std::is_integral_v<T>) return "an integer";
    else if constexpr (std::is_floating_point_v<T>) return "a number";
    else return "a string";
  }
  YAML::Node node_;
  std::string path_;
  const std::string& file_;
  std::vector<std::string> used_;
};

// pack_version (weight only): receives quant.weight.pack_version.
QuantSpec read_spec(Section s, const std::string& file, TensorRole role, std::string* pack_version = nullptr) {
  QuantSpec q;
  q.bits = s.get<int>("bit", 0);
  PTQ_CHECK(s.has("symmetric"), "{}: {}: key 'symmetric' is required", file, s.key_path("symmetric"));
  q.symmetric = s.get<bool>("symmetric", false);
  const std::string gran = s.get<std::string>("granularity", role == TensorRole::kWeight ? "per_channel" : "per_token");
  q.granularity = with_context(fmt::format("{}: {}", file, s.key_path("granularity")),
                               [&] { return parse_granularity(gran); });
  q.group_size = s.get<int64_t>("group_size", q.granularity == Granularity::kPerGroup ? -1 : 0);
  if (q.granularity == Granularity::kPerGroup)
    PTQ_CHECK(s.has("group_size"), "{}: {}: per_group needs group_size", file, s.key_path("group_size"));
  const std::string algo = s.get<std::string>("calib_algo", "minmax");
  // learnable: the method may attach clip factors (OmniQuant LWC, AWQ clip v2); without factors it is minmax
  // (the quantizer's own range), so it is accepted for every method.
  PTQ_CHECK(algo == "minmax" || algo == "learnable", "{}: {}: calib_algo '{}' is not supported (minmax, learnable)",
            file, s.key_path("calib_algo"), algo);
  s.get<bool>("ste", false);  // accepted: only meaningful for learned methods
  if (role == TensorRole::kWeight) {
    s.get<bool>("need_pack", false);  // LLMC's switch for real-quant packing; ptq packs whenever an export is asked for
    const std::string pack = s.get<std::string>("pack_version", "gemm_pack");
    PTQ_CHECK(pack == "gemm_pack" || pack == "gemv_pack", "{}: {}: '{}' is not supported (gemm_pack, gemv_pack)", file,
              s.key_path("pack_version"), pack);
    if (pack_version != nullptr) *pack_version = pack;
  }
  s.finish();
  with_context(fmt::format("{}: {}", file, s.path()), [&] { q.validate(role); });
  return q;
}

// step_1.set's value as leaf overrides "a.b.c=value" (nested maps flattened into dotted paths).
void flatten_overrides(const YAML::Node& n, const std::string& prefix, std::vector<std::string>& out) {
  if (n.IsMap()) {
    for (const auto& kv : n) flatten_overrides(kv.second, prefix.empty() ? kv.first.as<std::string>()
                                                                          : prefix + "." + kv.first.as<std::string>(),
                                               out);
    return;
  }
  YAML::Emitter e;
  e << YAML::Flow << n;
  out.push_back(prefix + "=" + e.c_str());
}

StepOne read_step_one(Section s, const std::string& file) {
  StepOne o;
  o.config_file = s.get<std::string>("config", "");
  PTQ_CHECK(!o.config_file.empty(), "{}: {}: the step-1 configuration file is required", file, s.key_path("config"));
  // Relative to the working directory (the repository root), else to a folder above this configuration file, as a
  // matrix's base (so the shipped configs also resolve from the build directory).
  namespace fs = std::filesystem;
  if (!fs::path(o.config_file).is_absolute() && !fs::exists(o.config_file))
    for (fs::path dir = fs::absolute(file).parent_path(); !dir.empty(); dir = dir.parent_path()) {
      if (fs::exists(dir / o.config_file)) {
        o.config_file = (dir / o.config_file).string();
        break;
      }
      if (dir == dir.parent_path()) break;
    }
  const YAML::Node set = s.raw("set");
  PTQ_CHECK(!set || set.IsNull() || set.IsMap(), "{}: {} must be a mapping of key paths to values", file,
            s.key_path("set"));
  if (set && set.IsMap()) flatten_overrides(set, "", o.overrides);
  o.handover = s.get<std::string>("handover", o.handover);
  PTQ_CHECK(o.handover == "transformed_model" || o.handover == "scales_clips",
            "{}: {}: '{}' (transformed_model, scales_clips)", file, s.key_path("handover"), o.handover);
  o.cache_dir = s.get<std::string>("cache_dir", o.cache_dir);
  o.same_scheme = s.get<bool>("same_scheme", o.same_scheme);
  o.same_seed = s.get<bool>("same_seed", o.same_seed);
  o.same_model = s.get<bool>("same_model", o.same_model);
  o.same_calib_data = s.get<bool>("same_calib_data", o.same_calib_data);
  s.finish();
  RunConfig one = with_context(fmt::format("{}: {}", file, s.key_path("config")),
                               [&] { return load_run_config(o.config_file, o.overrides); });
  PTQ_CHECK(!one.step_1, "{}: {}: the step-1 configuration {} has a step_1 of its own (one level only)", file,
            s.key_path("config"), o.config_file);
  PTQ_CHECK(one.method == "awq", "{}: {}: step 1 must be an AWQ run (quant.method: Awq), {} runs '{}'", file,
            s.key_path("config"), o.config_file, one.method);
  o.config = std::make_shared<const RunConfig>(std::move(one));
  return o;
}

}  // namespace

std::string method_id_from_llmc(const std::string& name) { return find_method_by_llmc_name(name).id; }

namespace {
RunConfig parse_run_config_node(const YAML::Node& root, const std::string& file);
}  // namespace

RunConfig parse_run_config(const YAML::Node& root, const std::string& file) {
  try {
    // Every string ends up in JSON (results, run keys), which must be UTF-8: bytes of another encoding are bad input.
    check_yaml_utf8(root, file);
    return parse_run_config_node(root, file);
  } catch (const YAML::Exception& e) {  // a node of an unexpected kind (e.g. a list used as a key)
    PTQ_FAIL("{}: unexpected YAML structure: {}", file, e.what());
  }
}

namespace {
RunConfig parse_run_config_node(const YAML::Node& root, const std::string& file) {
  PTQ_CHECK(root.IsMap(), "{}: the configuration must be a mapping of sections", file);
  RunConfig c;
  c.source = file;
  Section top(root, "", file);
  // Unknown sections first: a misspelt "quantt:" is reported as such, not as a missing quant.method.
  static const std::vector<std::string> kSections = {"base", "model", "calib", "eval", "quant", "save", "ptq"};
  for (const auto& kv : root) {
    const std::string k = kv.first.as<std::string>();
    PTQ_CHECK(std::find(kSections.begin(), kSections.end(), k) != kSections.end(),
              "{}: {}: unknown key (known here: base, model, calib, eval, quant, save, ptq){}", file, k,
              did_you_mean(k, kSections));
  }

  Section base = top.sub("base");
  c.seed = base.get<int64_t>("seed", 42);
  base.finish();

  Section model = top.sub("model");
  c.model_type = model.get<std::string>("type", "");
  c.model_path = model.get<std::string>("path", "");
  c.tokenizer_path = model.get<std::string>("tokenizer", "");
  c.dtype = model.get<std::string>("torch_dtype", "auto");
  model.finish();  // a misspelt key ("pth") is reported as such, with a suggestion, before "path is required"
  PTQ_CHECK(!c.model_path.empty(), "{}: model.path is required", file);
  PTQ_CHECK(c.dtype == "auto" || c.dtype == "float32" || c.dtype == "float16" || c.dtype == "bfloat16",
            "{}: model.torch_dtype: '{}' (auto, float32, float16, bfloat16)", file, c.dtype);

  if (top.has("calib")) {
    Section s = top.sub("calib");
    CalibOptions o;
    o.dataset = s.get<std::string>("name", "tinystories");
    o.path = s.get<std::string>("path", "");
    o.n_samples = s.get<int64_t>("n_samples", 128);
    o.bs = s.get<int64_t>("bs", 1);
    o.seq_len = s.get<int64_t>("seq_len", 512);
    o.preproc = s.get<std::string>("preproc", "random_windows");
    o.seed = static_cast<uint64_t>(s.get<int64_t>("seed", c.seed));
    o.first_doc = s.get<int64_t>("first_doc", 0);
    o.last_doc = s.get<int64_t>("last_doc", -1);
    o.dump_path = s.get<std::string>("dump_path", "");
    PTQ_CHECK(!s.get<bool>("download", false), "{}: calib.download: ptq reads local files only (set it to False and "
                                               "give calib.path)", file);
    // Ranges checked here, before anything loads (build_calibration checks them again for direct callers).
    PTQ_CHECK(o.n_samples > 0, "{}: calib.n_samples must be positive, got {}", file, o.n_samples);
    PTQ_CHECK(o.seq_len > 1, "{}: calib.seq_len must be at least 2, got {}", file, o.seq_len);
    PTQ_CHECK(o.bs == -1 || o.bs > 0, "{}: calib.bs must be positive or -1 (all samples in one batch), got {}", file,
              o.bs);
    PTQ_CHECK(o.first_doc >= 0, "{}: calib.first_doc must be >= 0, got {}", file, o.first_doc);
    s.finish();
    c.calib = o;
  } else {
    top.sub("calib");
  }

  if (top.has("eval")) {
    Section s = top.sub("eval");
    EvalConfig e;
    e.positions = s.get_list("eval_pos", e.positions);
    for (const auto& p : e.positions)
      PTQ_CHECK(p == "pretrain" || p == "fake_quant" || p == "transformed",
                "{}: eval.eval_pos: '{}' (pretrain, transformed, fake_quant)", file, p);
    e.datasets = s.get_list("name", {});
    PTQ_CHECK(!e.datasets.empty(), "{}: eval.name is required", file);
    e.path = s.get<std::string>("path", "");
    e.seq_len = s.get<int64_t>("seq_len", 2048);
    e.bs = s.get<int64_t>("bs", 1);
    e.bos = s.get<bool>("bos", false);
    e.max_windows = s.get<int64_t>("max_windows", 0);
    e.first_doc = s.get<int64_t>("first_doc", 0);
    e.last_doc = s.get<int64_t>("last_doc", -1);
    PTQ_CHECK(!s.get<bool>("download", false), "{}: eval.download: ptq reads local files only", file);
    s.get<bool>("inference_per_block", false);  // LLMC memory option; ptq evaluates whole models
    PTQ_CHECK(e.seq_len >= 2, "{}: eval.seq_len must be >= 2, got {}", file, e.seq_len);
    PTQ_CHECK(e.bs >= 1, "{}: eval.bs must be >= 1, got {}", file, e.bs);
    PTQ_CHECK(e.max_windows >= 0, "{}: eval.max_windows must be >= 0, got {}", file, e.max_windows);
    PTQ_CHECK(e.first_doc >= 0, "{}: eval.first_doc must be >= 0, got {}", file, e.first_doc);
    s.finish();
    c.eval = e;
  } else {
    top.sub("eval");
  }

  Section quant = top.sub("quant");
  const std::string method = quant.get<std::string>("method", "");
  PTQ_CHECK(!method.empty(), "{}: quant.method is required", file);
  c.method = with_context(fmt::format("{}: quant.method", file), [&] { return method_id_from_llmc(method); });
  PTQ_CHECK(quant.has("weight"), "{}: quant.weight is required", file);
  c.scheme.weight = read_spec(quant.sub("weight"), file, TensorRole::kWeight, &c.pack_version);
  if (quant.has("act")) c.scheme.act = read_spec(quant.sub("act"), file, TensorRole::kActivation);
  else quant.sub("act");
  c.special = yaml_to_json(quant.raw("special"));
  if (c.special.is_null()) c.special = nlohmann::json::object();
  c.quant_out = quant.get<bool>("quant_out", true);
  quant.finish();
  with_context(fmt::format("{}: quant.special", file), [&] {
    find_method(c.method).resolve(c.special);  // unknown keys, types and values checked now, before anything loads
  });
  if (const MethodInfo& info = find_method(c.method); info.scheme_problem) {
    const std::string why = info.scheme_problem(c.scheme);
    PTQ_CHECK(why.empty(), "{}: quant.weight: method '{}' cannot quantize {}: {}", file, info.id,
              c.scheme.weight.describe(), why);
  }

  Section save = top.sub("save");
  c.save_trans = save.get<bool>("save_trans", false);
  c.save_fake = save.get<bool>("save_fake", false);
  c.save_path = save.get<std::string>("save_path", "");
  c.save_autoawq = save.get<bool>("save_autoawq", false);
  c.save_gptq = save.get<bool>("save_gptq", false);
  c.gptq_version = save.get<std::string>("gptq_version", "v1");
  PTQ_CHECK(c.gptq_version == "v1" || c.gptq_version == "v2", "{}: save.gptq_version: '{}' (v1, v2)", file,
            c.gptq_version);
  c.verify_export = save.get<bool>("verify_export", true);
  // LLMC's compressed-tensors and MLC exports: accepted when off; on, a clear error (save_autoawq and save_gptq are
  // the real-quant formats ptq writes).
  for (const char* key : {"save_vllm", "save_sgl", "save_lightllm", "save_mlcllm"})
    PTQ_CHECK(!save.get<bool>(key, false), "{}: save.{}: this real-quant export is not supported (save_autoawq, "
                                           "save_gptq, save_fake and save_trans are)", file, key);
  PTQ_CHECK(!(c.save_trans || c.save_fake || c.save_autoawq || c.save_gptq) || !c.save_path.empty(),
            "{}: save.save_path is required to save", file);
  save.finish();

  Section p = top.sub("ptq");
  c.threads = p.get<int>("threads", 0);
  PTQ_CHECK(c.threads >= 0, "{}: ptq.threads must be >= 0 (0: the default), got {}", file, c.threads);
  c.device = p.get<std::string>("device", "cpu");
  c.offload = p.get<std::string>("offload", "auto");
  PTQ_CHECK(c.offload == "auto" || c.offload == "blocks" || c.offload == "none",
            "{}: ptq.offload: '{}' is not one of auto (blocks on CUDA, none on the CPU), blocks, none", file, c.offload);
  c.measure_errors = p.get<bool>("measure_errors", true);
  c.search_cache = p.get<std::string>("search_cache", "");
  if (p.has("step_1")) {
    c.step_1 = read_step_one(p.sub("step_1"), file);
    RunConfig one = *c.step_1->config;
    if (one.search_cache.empty()) one.search_cache = c.search_cache;
    if (c.step_1->same_scheme) one.scheme = c.scheme;
    if (c.step_1->same_seed) {
      one.seed = c.seed;
      if (one.calib && c.calib) one.calib->seed = c.calib->seed;
    }
    // Step 1 transforms the model step 2 quantizes, from the same text: without this, `--set model.path=...` on a
    // matrix would quantize step 1's own model and hand its transformed copy to step 2.
    if (c.step_1->same_model) {
      one.model_path = c.model_path;
      one.tokenizer_path = c.tokenizer_path;
      one.dtype = c.dtype;
    }
    if (c.step_1->same_calib_data && one.calib && c.calib) {
      one.calib->dataset = c.calib->dataset;
      one.calib->path = c.calib->path;
      one.calib->preproc = c.calib->preproc;  // documents vs plain text: a rule of the dataset, not of the method
      one.calib->first_doc = c.calib->first_doc;
      one.calib->last_doc = c.calib->last_doc;
    }
    with_context(fmt::format("{}: ptq.step_1", file), [&] { find_method(one.method).resolve(one.special); });
    if (c.step_1->handover == "scales_clips")
      for (const char* k : {"scale_path", "clip_path"})
        PTQ_CHECK(!c.special.contains(k) || c.special[k].get<std::string>().empty(),
                  "{}: quant.special.{} is set by the step-1 hand-over (ptq.step_1.handover: scales_clips); remove it",
                  file, k);
    c.step_1->config = std::make_shared<const RunConfig>(std::move(one));
  } else {
    p.sub("step_1");
  }
  p.finish();
  top.finish();
  return c;
}
}  // namespace

RunConfig load_run_config(const std::string& file, const std::vector<std::string>& overrides) {
  PTQ_CHECK(std::filesystem::is_regular_file(file), "{}: no such configuration file", file);
  YAML::Node root;
  try {
    root = YAML::LoadFile(file);
  } catch (const YAML::Exception& e) {
    PTQ_FAIL("{}: not valid YAML: {}", file, e.what());
  }
  for (const auto& o : overrides) apply_override(root, o);
  return parse_run_config(root, file);
}

nlohmann::json RunConfig::to_json() const {
  nlohmann::json j = {{"source", source},
                      {"seed", seed},
                      {"model", {{"type", model_type}, {"path", model_path}, {"tokenizer", tokenizer_path},
                                 {"torch_dtype", dtype}}},
                      {"method", method},
                      {"scheme", scheme.name()},
                      {"weight", scheme.weight.describe()},
                      {"act", scheme.act ? scheme.act->describe() : "none"},
                      {"special", special},
                      {"quant_out", quant_out},
                      {"threads", threads},
                      {"device", device}};
  // Offload changes where the arithmetic runs, not what it is; stored when set, so earlier run keys stay.
  if (offload != "auto") j["offload"] = offload;
  if (!measure_errors) j["measure_errors"] = false;  // likewise: stored (and part of the run key) only when off
  if (calib)
    j["calib"] = {{"name", calib->dataset}, {"path", calib->path}, {"preproc", calib->preproc},
                  {"n_samples", calib->n_samples}, {"seq_len", calib->seq_len}, {"bs", calib->bs},
                  {"seed", calib->seed}, {"first_doc", calib->first_doc}, {"last_doc", calib->last_doc}};
  if (eval)
    j["eval"] = {{"eval_pos", eval->positions}, {"name", eval->datasets}, {"seq_len", eval->seq_len},
                 {"bs", eval->bs}, {"bos", eval->bos}, {"max_windows", eval->max_windows}};
  // An export rounds the scales to fp16 before the fake_quant evaluation (src/export/fp16_scales.h), so it is part of
  // what the results mean; configurations without one keep their earlier resolved form (and run keys).
  if (step_1) {
    nlohmann::json one = step_1->config->to_json();
    one.erase("source");
    j["step_1"] = {{"handover", step_1->handover}, {"config", one}};
  }
  if (save_autoawq || save_gptq) {
    nlohmann::json e = nlohmann::json::array();
    if (save_autoawq) e.push_back(pack_version == "gemm_pack" ? "autoawq-gemm" : "autoawq-gemv");
    if (save_gptq) e.push_back("gptq-" + gptq_version);
    j["export"] = e;
  }
  return j;
}

}  // namespace ptq
