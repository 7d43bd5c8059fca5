#include "experiment/matrix.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "core/did_you_mean.h"
#include "core/error.h"
#include "core/sha256.h"
#include "core/threads.h"
#include "experiment/cell_estimate.h"
#include "experiment/input_check.h"
#include "experiment/runner.h"
#include "experiment/staged_run.h"
#include "experiment/yaml_tree.h"
#include "store/store.h"

namespace ptq {

namespace {

namespace fs = std::filesystem;

// A `set:` mapping, validated: its keys and values as (path, node).
std::vector<std::pair<std::string, YAML::Node>> read_set(const YAML::Node& n, const std::string& where) {
  std::vector<std::pair<std::string, YAML::Node>> out;
  if (!n || n.IsNull()) return out;
  PTQ_CHECK(n.IsMap(), "{}: must be a mapping of key.path: value", where);
  for (const auto& kv : n) {
    PTQ_CHECK(kv.first.IsScalar(), "{}: keys must be key paths", where);
    out.emplace_back(kv.first.as<std::string>(), kv.second);
  }
  return out;
}

std::string scalar_string(const YAML::Node& n, const std::string& where) {
  PTQ_CHECK(n && n.IsScalar() && !n.Scalar().empty(), "{}: must be a non-empty string", where);
  return n.Scalar();
}

std::string resolve_base(const std::string& base, const std::string& matrix_file, const std::string& where) {
  const fs::path p(base);
  if (p.is_absolute() || fs::is_regular_file(p)) {
    PTQ_CHECK(fs::is_regular_file(p), "{}: no such configuration file '{}'", where, base);
    return p.string();
  }
  // Not under the working directory: try the folders above the matrix file (the repository holding it).
  for (fs::path dir = fs::absolute(matrix_file).parent_path(); !dir.empty(); dir = dir.parent_path()) {
    if (fs::is_regular_file(dir / p)) return (dir / p).lexically_normal().string();
    if (dir == dir.parent_path()) break;
  }
  PTQ_FAIL("{}: no such configuration file '{}' (relative to the working directory or a folder above the matrix "
           "file)",
           where, base);
}

struct AxisValue {
  std::string name;
  std::vector<std::pair<std::string, YAML::Node>> set;
  std::string where;      // "axes.bits[1]"
  std::string base;       // resolved path of the value's own base configuration, or empty
  YAML::Node base_node;   // its parsed YAML
};

// A run configuration file as YAML; `where` names the key that gave it.
YAML::Node load_base(const std::string& path, const std::string& where) {
  YAML::Node node;
  try {
    node = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    PTQ_FAIL("{}: {}: not valid YAML: {}", where, path, e.what());
  }
  PTQ_CHECK(node.IsMap(), "{}: {}: a run configuration must be a mapping of sections", where, path);
  return node;
}

std::string fmt_seconds(double s) {
  if (s < 60) return fmt::format("{:.1f}s", s);
  if (s < 3600) return fmt::format("{}m{:02d}s", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  return fmt::format("{}h{:02d}m", static_cast<int>(s) / 3600, (static_cast<int>(s) % 3600) / 60);
}

// The first fake_quant ppl in a run result ("evals"), else the last ppl there, else NaN.
double result_ppl(const nlohmann::json& result) {
  double ppl = std::numeric_limits<double>::quiet_NaN();
  if (!result.contains("evals") || !result["evals"].is_array()) return ppl;
  for (const auto& e : result["evals"]) {
    if (!e.contains("ppl") || !e["ppl"].is_number()) continue;
    if (e.value("pos", "") == "fake_quant") return e["ppl"].get<double>();
    ppl = e["ppl"].get<double>();
  }
  return ppl;
}

// The cell's place in the matrix, stored in the run's config_json (what `ptq table` groups by).
nlohmann::json cell_json(const MatrixCell& c) {
  nlohmann::json axes = nlohmann::json::array();
  for (const auto& [axis, name] : c.values) axes.push_back({axis, name});
  return {{"label", c.label}, {"axes", axes}};
}

// The step-1 cache folder a run used (staged_run.h), as an artifact row: published complete (manifest.json written
// last, then one rename), so the manifest's sha256 and the folder's byte count identify what the run read.
std::vector<ArtifactRecord> step_one_artifacts(const nlohmann::json& result) {
  if (!result.contains("step_1") || !result["step_1"].is_object()) return {};
  const nlohmann::json& s = result["step_1"];
  const fs::path dir = s.value("path", std::string());
  std::ifstream in(dir / "manifest.json", std::ios::binary);
  PTQ_CHECK(in.good(), "{}: the step-1 folder has no readable manifest.json", dir.string());
  std::ostringstream manifest;
  manifest << in.rdbuf();
  int64_t bytes = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) bytes += static_cast<int64_t>(e.file_size());
  return {ArtifactRecord{"step_1:" + s.value("key", std::string()), "step_1_" + s.value("handover", std::string()),
                         dir.string(), sha256_hex(manifest.str()), bytes, utc_now()}};
}

std::string ppl_text(double ppl) { return std::isnan(ppl) ? "ppl -" : fmt::format("ppl {:.4f}", ppl); }

// The pretrain evaluations of a finished run, as evaluate_all gave them (runner.h "evals"), marked "reused"; empty when
// the run has none.
nlohmann::json pretrain_evals_of(const RunRecord& rec) {
  nlohmann::json evals = nlohmann::json::array();
  std::map<std::string, size_t> at;  // dataset -> index in evals, in the order the run evaluated them
  for (const auto& mv : rec.metrics) {
    if (mv.pos != "pretrain") continue;
    auto [it, fresh] = at.emplace(mv.dataset, evals.size());
    if (fresh) evals.push_back({{"pos", "pretrain"}, {"dataset", mv.dataset}, {"protocol", mv.protocol}, {"reused", true}});
    nlohmann::json& e = evals[it->second];
    if (mv.name == "tokens" || mv.name == "windows")
      e[mv.name] = static_cast<int64_t>(std::llround(mv.value));
    else
      e[mv.name] = mv.value;
  }
  for (const auto& e : evals)
    if (!e.contains("ppl")) return nlohmann::json::array();  // not a complete evaluation: compute it again
  return evals;
}

// Seeds `cache` with the fp evaluations of the matrix's finished cells, so that a resumed matrix, a --cells subset or
// a shard does not evaluate the unquantized model again. Only runs made at the thread count this invocation would
// use are taken: their sums are then the same to the last bit (runner.cc computes the same key for the same model,
// tokenizer, dtype, device and evaluation protocol).
void seed_pretrain_cache(const Matrix& m, Store& store, int threads, std::map<std::string, nlohmann::json>& cache) {
  for (const MatrixCell& c : m.cells) {
    if (!c.config.eval || !store.is_finished(c.run_key)) continue;
    const std::string key = pretrain_cache_key(c.config, threads);
    if (cache.count(key)) continue;
    const auto rec = store.run(c.run_key);
    if (!rec) continue;
    const int requested = threads > 0 ? threads : c.config.threads;
    const int effective = requested > 0 ? requested : default_threads();
    if (!rec->system.is_object() || rec->system.value("threads", -1) != effective) continue;
    nlohmann::json evals = pretrain_evals_of(*rec);
    if (!evals.empty()) cache.emplace(key, std::move(evals));
  }
}

}  // namespace

double stored_ppl(const RunRecord& r) {
  double ppl = std::numeric_limits<double>::quiet_NaN();
  for (const auto& m : r.metrics) {
    if (m.name != "ppl") continue;
    if (m.pos == "fake_quant") return m.value;
    ppl = m.value;
  }
  return ppl;
}

bool is_matrix_file(const std::string& file) {
  if (!fs::is_regular_file(file)) return false;
  try {
    const YAML::Node root = YAML::LoadFile(file);
    return root.IsMap() && root["axes"];
  } catch (const YAML::Exception&) {
    return false;
  }
}

std::string matrix_run_key(const RunConfig& cfg, const std::string& matrix) {
  nlohmann::json j = cfg.to_json();
  j.erase("source");  // where the file was read from does not change the run
  if (cfg.eval) {
    j["eval"]["path"] = cfg.eval->path;
    j["eval"]["first_doc"] = cfg.eval->first_doc;
    j["eval"]["last_doc"] = cfg.eval->last_doc;
  }
  return sha256_hex(matrix + "\n" + j.dump());
}

Matrix load_matrix(const std::string& file, const std::vector<std::string>& overrides) {
  PTQ_CHECK(fs::is_regular_file(file), "{}: no such matrix file", file);
  YAML::Node root;
  try {
    root = YAML::LoadFile(file);
  } catch (const YAML::Exception& e) {
    PTQ_FAIL("{}: not valid YAML: {}", file, e.what());
  }
  return parse_matrix(root, file, overrides);
}

namespace {
Matrix parse_matrix_node(const YAML::Node& root, const std::string& file, const std::vector<std::string>& overrides);
}  // namespace

Matrix parse_matrix(const YAML::Node& root, const std::string& file, const std::vector<std::string>& overrides) {
  try {
    check_yaml_utf8(root, file);
    return parse_matrix_node(root, file, overrides);
  } catch (const YAML::Exception& e) {  // a node of an unexpected kind (e.g. a list used as a key)
    PTQ_FAIL("{}: unexpected YAML structure: {}", file, e.what());
  }
}

namespace {
Matrix parse_matrix_node(const YAML::Node& root, const std::string& file, const std::vector<std::string>& overrides) {
  PTQ_CHECK(root.IsMap(), "{}: a matrix must be a mapping (name, base, set, axes, exclude)", file);
  static const std::set<std::string> kKnown = {"name", "base", "set", "axes", "exclude"};
  for (const auto& kv : root) {
    const std::string k = kv.first.as<std::string>();
    PTQ_CHECK(kKnown.count(k), "{}: {}: unknown key (known: name, base, set, axes, exclude){}", file, k,
              did_you_mean(k, {kKnown.begin(), kKnown.end()}));
  }

  Matrix m;
  m.file = file;
  m.name = root["name"] ? scalar_string(root["name"], file + ": name") : fs::path(file).stem().string();
  PTQ_CHECK(root["base"], "{}: base: required (the run configuration the cells start from)", file);
  m.base = resolve_base(scalar_string(root["base"], file + ": base"), file, file + ": base");
  const auto common = read_set(root["set"], file + ": set");

  // Axes.
  PTQ_CHECK(root["axes"] && root["axes"].IsMap() && root["axes"].size() > 0,
            "{}: axes: must be a non-empty mapping of axis name to a list of {{name, set}}", file);
  std::vector<std::vector<AxisValue>> axes;
  for (const auto& kv : root["axes"]) {
    const std::string axis = kv.first.as<std::string>();
    const std::string where = fmt::format("{}: axes.{}", file, axis);
    PTQ_CHECK(kv.second.IsSequence(), "{}: must be a list of {{name, set}}", where);
    PTQ_CHECK(kv.second.size() > 0, "{}: empty axis (give at least one value)", where);
    m.axes.push_back(axis);
    std::vector<AxisValue> values;
    for (size_t i = 0; i < kv.second.size(); ++i) {
      const YAML::Node v = kv.second[i];
      const std::string vw = fmt::format("{}[{}]", where, i);
      PTQ_CHECK(v.IsMap(), "{}: must be a mapping {{name, set}}", vw);
      for (const auto& e : v) {
        const std::string k = e.first.as<std::string>();
        PTQ_CHECK(k == "name" || k == "set" || k == "base", "{}.{}: unknown key (known: name, set, base){}", vw, k,
                  did_you_mean(k, {"name", "set", "base"}));
      }
      AxisValue av;
      av.name = scalar_string(v["name"], vw + ".name");
      PTQ_CHECK(av.name.find_first_of(",=") == std::string::npos, "{}.name: '{}' must not contain ',' or '='", vw,
                av.name);
      for (const auto& o : values)
        PTQ_CHECK(o.name != av.name, "{}.name: duplicate name '{}' in axis '{}'", vw, av.name, axis);
      av.set = read_set(v["set"], vw + ".set");
      av.where = vw.substr(file.size() + 2);
      if (v["base"]) {
        av.base = resolve_base(scalar_string(v["base"], vw + ".base"), file, vw + ".base");
        av.base_node = load_base(av.base, vw + ".base");
      }
      values.push_back(std::move(av));
    }
    axes.push_back(std::move(values));
  }
  for (size_t a = 0; a < m.axes.size(); ++a)
    PTQ_CHECK(m.axes[a].find_first_of(",=") == std::string::npos, "{}: axes.{}: the axis name must not contain ',' "
                                                                   "or '='", file, m.axes[a]);

  // A product this large is a mistake (and would take hours just to validate): refuse it before expanding.
  constexpr size_t kMaxCells = 100'000;
  size_t product = 1;
  for (const auto& a : axes) {
    product *= a.size();
    PTQ_CHECK(product <= kMaxCells, "{}: axes: the product has more than {} cells; split the matrix", file, kMaxCells);
  }

  // Exclusions: each a mapping axis -> value name; both must exist.
  std::vector<std::map<std::string, std::string>> excludes;
  if (root["exclude"] && !root["exclude"].IsNull()) {
    PTQ_CHECK(root["exclude"].IsSequence(), "{}: exclude: must be a list of {{axis: name, ...}}", file);
    for (size_t i = 0; i < root["exclude"].size(); ++i) {
      const YAML::Node e = root["exclude"][i];
      const std::string where = fmt::format("{}: exclude[{}]", file, i);
      PTQ_CHECK(e.IsMap() && e.size() > 0, "{}: must be a non-empty mapping {{axis: name, ...}}", where);
      std::map<std::string, std::string> rule;
      for (const auto& kv : e) {
        const std::string axis = kv.first.as<std::string>();
        const auto it = std::find(m.axes.begin(), m.axes.end(), axis);
        PTQ_CHECK(it != m.axes.end(), "{}.{}: no such axis", where, axis);
        const std::string name = scalar_string(kv.second, where + "." + axis);
        const auto& values = axes[static_cast<size_t>(it - m.axes.begin())];
        PTQ_CHECK(std::any_of(values.begin(), values.end(), [&](const AxisValue& v) { return v.name == name; }),
                  "{}.{}: axis '{}' has no value '{}'", where, axis, axis, name);
        rule[axis] = name;
      }
      excludes.push_back(std::move(rule));
    }
  }

  const YAML::Node base = load_base(m.base, file + ": base");

  // The product, last axis fastest.
  std::vector<size_t> idx(axes.size(), 0);
  std::map<std::string, std::string> seen_keys;  // run_key -> label
  for (bool more = true; more;) {
    MatrixCell cell;
    for (size_t a = 0; a < axes.size(); ++a) cell.values.emplace_back(m.axes[a], axes[a][idx[a]].name);
    const bool excluded = std::any_of(excludes.begin(), excludes.end(), [&](const auto& rule) {
      return std::all_of(rule.begin(), rule.end(), [&](const auto& r) {
        for (const auto& [axis, name] : cell.values)
          if (axis == r.first) return name == r.second;
        return false;
      });
    });
    if (!excluded) {
      for (const auto& [axis, name] : cell.values) cell.label += (cell.label.empty() ? "" : ",") + axis + "=" + name;
      // The base: the matrix's, or the one axis value of this cell that names its own (a method's LLMC file).
      const AxisValue* own_base = nullptr;
      for (size_t a = 0; a < axes.size(); ++a) {
        const AxisValue& v = axes[a][idx[a]];
        if (v.base.empty()) continue;
        PTQ_CHECK(own_base == nullptr, "{}: cell {}: {} and {} both give a base; at most one value of a cell may",
                  file, cell.label, own_base ? own_base->where : "", v.where);
        own_base = &v;
      }
      YAML::Node node = yaml_deep_copy(own_base ? own_base->base_node : base);
      for (const auto& [path, value] : common) set_yaml_path(node, path, value, file + ": set");
      for (size_t a = 0; a < axes.size(); ++a) {
        const AxisValue& v = axes[a][idx[a]];
        for (const auto& [path, value] : v.set) set_yaml_path(node, path, value, file + ": " + v.where + ".set");
      }
      for (const auto& o : overrides)
        with_context(fmt::format("{}: --set {}", file, o), [&] { apply_override(node, o); });
      cell.config = parse_run_config(node, fmt::format("{} [{}]", file, cell.label));
      cell.run_key = matrix_run_key(cell.config, m.name);
      const auto [it, fresh] = seen_keys.emplace(cell.run_key, cell.label);
      PTQ_CHECK(fresh, "{}: cells {} and {} resolve to the same configuration (run key {})", file, it->second,
                cell.label, cell.run_key.substr(0, 12));
      m.cells.push_back(std::move(cell));
    }
    more = false;
    for (size_t a = axes.size(); a-- > 0;) {
      if (++idx[a] < axes[a].size()) {
        more = true;
        break;
      }
      idx[a] = 0;
    }
  }
  PTQ_CHECK(!m.cells.empty(), "{}: every cell is excluded", file);
  return m;
}
}  // namespace

nlohmann::json run_matrix(const Matrix& m, const MatrixRunOptions& opt) {
  using Clock = std::chrono::steady_clock;
  std::vector<const MatrixCell*> cells;
  std::vector<size_t> index;  // canonical index of cells[k]
  for (size_t i = 0; i < m.cells.size(); ++i) {
    const MatrixCell& c = m.cells[i];
    if (!opt.cells.empty() && std::find(opt.cells.begin(), opt.cells.end(), i) == opt.cells.end()) continue;
    if (opt.only.empty() || c.label.find(opt.only) != std::string::npos) cells.push_back(&c), index.push_back(i);
  }
  PTQ_CHECK(!cells.empty(), "{}: no cell label contains '{}'{}", m.file, opt.only,
            opt.cells.empty() ? std::string() : " among the selected cells (--cells)");

  // Every input file of the selected cells is checked before the store is opened: a bad one is exit 2 with one
  // message naming the file and the cell, and no row (experiment/input_check.h).
  if (!opt.dry_run) {
    InputChecker inputs;
    for (const auto* c : cells) inputs.check(c->config);
  }

  const fs::path db_parent = fs::path(opt.db_path).parent_path();
  if (!db_parent.empty()) fs::create_directories(db_parent);
  Store store(opt.db_path);

  auto say = [&](const std::string& line) {
    if (!opt.out) return;
    std::fputs(line.c_str(), opt.out);
    std::fputc('\n', opt.out);
    std::fflush(opt.out);
  };

  const size_t n = cells.size();
  size_t pending = 0;
  for (const auto* c : cells) pending += store.is_finished(c->run_key) ? 0 : 1;
  say(fmt::format("matrix {} ({}): {} cells, {} already finished, store {}", m.name, m.file, n, n - pending,
                  opt.db_path));

  nlohmann::json summary = {{"matrix", m.name}, {"db", opt.db_path}, {"total", n}, {"dry_run", opt.dry_run}};
  nlohmann::json rows = nlohmann::json::array();
  int done = 0, skipped = 0, failed = 0;
  double computed_seconds = 0;
  size_t computed = 0;
  const auto t_start = Clock::now();

  std::map<std::string, nlohmann::json> pretrain_cache;  // fp baseline once per model and protocol
  if (!opt.dry_run) seed_pretrain_cache(m, store, opt.threads, pretrain_cache);
  std::map<std::string, CalibrationSet> calib_cache;     // calibration captured once per calib section and model
  std::optional<CellEstimator> estimator;
  if (opt.dry_run) estimator.emplace(store.runs());
  double est_seconds = 0;
  int64_t est_peak = 0;
  size_t est_cells = 0, pending_cells = 0;

  for (size_t k = 0; k < n; ++k) {
    const MatrixCell& c = *cells[k];
    const std::string head = fmt::format("[{}/{}] {}", k + 1, n, c.label);
    nlohmann::json row = {{"index", index[k]}, {"label", c.label}, {"run_key", c.run_key}};
    if (opt.dry_run) {
      const bool fin = store.is_finished(c.run_key);
      row["status"] = fin ? "finished" : "pending";
      std::string est;
      if (!fin) {
        ++pending_cells;
        if (const auto e = estimator->estimate(c.config.to_json())) {
          ++est_cells;
          est_seconds += e->seconds;
          est_peak = std::max(est_peak, e->peak_bytes);
          row["estimate"] = {{"seconds", e->seconds}, {"peak_bytes", e->peak_bytes}, {"runs", e->runs},
                             {"scaled", e->scaled}};
          est = fmt::format(" (est. {:.0f} s{}, from {} run{}{})", e->seconds,
                            e->peak_bytes > 0 ? fmt::format(", peak {:.0f} MB", e->peak_bytes / 1048576.0) : "",
                            e->runs, e->runs == 1 ? "" : "s", e->scaled ? ", scaled by calibration tokens" : "");
        } else {
          est = " (no estimate: no finished run of this method on this model in the store)";
        }
      }
      say(fmt::format("{}: {} {}{}", head, c.run_key, fin ? "finished" : "pending", est));
      rows.push_back(row);
      continue;
    }
    if (store.is_finished(c.run_key)) {
      const auto rec = store.run(c.run_key);
      const double ppl = rec ? stored_ppl(*rec) : std::numeric_limits<double>::quiet_NaN();
      ++skipped;
      row["status"] = "skipped";
      row["ppl"] = ppl;
      say(fmt::format("{}: {} (skipped)", head, ppl_text(ppl)));
      rows.push_back(row);
      continue;
    }

    RunRecord header;
    header.matrix = m.name;
    header.run_key = c.run_key;
    header.config = c.config.to_json();
    header.config["matrix_cell"] = cell_json(c);
    header.status = RunStatus::kRunning;
    header.device = c.config.device;
    header.method = c.config.method;
    header.scheme = c.config.scheme.name();
    header.started_at = utc_now();
    store.mark_running(header);

    const auto t0 = Clock::now();
    std::string error;
    double ppl = std::numeric_limits<double>::quiet_NaN();
    try {
      RunOptions ro;
      ro.verbose = false;
      ro.threads = opt.threads;
      ro.pretrain_cache = &pretrain_cache;
      ro.calib_cache = &calib_cache;
      const nlohmann::json result = execute_staged_run(c.config, ro);
      RunRecord rec = run_record_from_json(result, m.name, c.run_key);
      rec.status = RunStatus::kFinished;
      rec.started_at = header.started_at;
      rec.finished_at = utc_now();
      rec.config["matrix_cell"] = cell_json(c);
      store.record_run(rec, /*replace_finished=*/false, step_one_artifacts(result));
      ppl = result_ppl(result);
    } catch (const std::exception& e) {
      error = e.what();
      if (error.empty()) error = "unknown error";
    }
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    computed_seconds += secs;
    ++computed;
    row["seconds"] = secs;
    if (!error.empty()) {
      RunRecord rec = header;
      rec.status = RunStatus::kFailed;
      rec.error = error;
      rec.finished_at = utc_now();
      store.record_run(rec);
      ++failed;
      row["status"] = "failed";
      row["error"] = error;
    } else {
      ++done;
      row["status"] = "done";
      row["ppl"] = ppl;
    }
    const size_t left = pending > computed ? pending - computed : 0;
    const double elapsed = std::chrono::duration<double>(Clock::now() - t_start).count();
    const double eta = left * (computed_seconds / static_cast<double>(computed));
    say(fmt::format("{}: {} ({}) [{}, elapsed {}, ETA {}]", head, ppl_text(ppl),
                    error.empty() ? std::string("done") : "FAILED: " + error, fmt_seconds(secs), fmt_seconds(elapsed),
                    fmt_seconds(eta)));
    rows.push_back(row);
  }
  summary["finished"] = done;
  summary["skipped"] = skipped;
  summary["failed"] = failed;
  summary["cells"] = rows;
  if (!opt.dry_run)
    say(fmt::format("matrix {}: {} done, {} skipped, {} failed", m.name, done, skipped, failed));
  if (opt.dry_run) {
    summary["estimate"] = {{"pending", pending_cells}, {"estimated", est_cells}, {"seconds", est_seconds},
                           {"peak_bytes", est_peak}};
    say(fmt::format("estimate: {} of {} cells to run, {:.1f} min, peak {:.0f} MB{}", est_cells, pending_cells,
                    est_seconds / 60, est_peak / 1048576.0,
                    est_cells < pending_cells ? " (cells without an estimate not included)" : ""));
  }
  return summary;
}

}  // namespace ptq
