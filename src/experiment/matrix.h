// Experiment matrices: `ptq run experiments/X.yaml [--db FILE] [--dry-run] [--only FILTER] [--json]`.
//
// File format (YAML):
//   name: awq_2bit_clip            # matrix name stored with every run (default: the file's stem)
//   base: configs/quantization/methods/Awq/awq_w_only_academic.yml
//                                  # a run configuration (run_config.h); absolute, or relative to the working
//                                  # directory (the repository root), else to a folder above the matrix file
//   set: {eval.max_windows: 50}    # optional: overrides applied to every cell
//   axes:                          # the Cartesian product of the axes, in this order (the last varies fastest)
//     method:                      # an axis: a non-empty list of named override sets
//       - {name: rtn,          set: {quant.method: RTN, quant.special: {}}}
//       - {name: awq_academic, set: {quant.method: Awq, quant.special.clip_sym: true}}
//       - {name: gptq, base: configs/quantization/methods/GPTQ/gptq_w_only.yml}
//                                  # optional: the value's own base replaces the matrix's in its cells (at most
//                                  # one value of a cell may give one), so a method axis can use LLMC's files as is
//     seed:
//       - {name: s0, set: {calib.seed: 0}}
//   exclude: [{method: rtn, seed: s1}]   # optional: a cell matching every axis=name given in one entry is dropped
//
// Overrides: each key of a `set` map is a dotted key path and its value is YAML (a map value replaces the node),
// exactly as `--set key.path=value` (apply_override). A cell's configuration is base (the matrix's, or the cell's
// axis value's) + top-level set + each axis value's set in axis order. Every cell is parsed and validated (parse_run_config) when the matrix is loaded, before
// anything runs; errors name the matrix file and the key path ("m.yaml: axes.bits[1].set: ...").
//
// Run key: sha256 of the matrix name, a newline and the canonical resolved configuration JSON (RunConfig::to_json()
// without `source`, plus eval.path/first_doc/last_doc; nlohmann::json sorts object keys, so dump() is canonical).
// Two cells with the same run key are an error. A cell's label names its axis values: "method=rtn,bits=w2g32".
// Each stored run's config_json carries the cell as "matrix_cell": {label, axes: [[axis, name], ...]}.
#pragma once

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "experiment/run_config.h"

namespace ptq {

struct RunRecord;

struct MatrixCell {
  std::string label;                                        // "method=rtn,bits=w2g32,seed=s0"
  std::vector<std::pair<std::string, std::string>> values;  // (axis, value name), in axis order
  RunConfig config;
  std::string run_key;
};

struct Matrix {
  std::string file;  // the matrix file, for messages
  std::string name;
  std::string base;  // the resolved base configuration path
  std::vector<std::string> axes;
  std::vector<MatrixCell> cells;  // after exclusions, in product order
};

// True when `file` is a YAML mapping with an `axes` key (a matrix rather than a single run configuration).
bool is_matrix_file(const std::string& file);
// Reads, expands and validates every cell; throws ptq::Error (user) naming the file and key path.
// `overrides` ("key.path=value", as `ptq run --set`) apply to every cell after the matrix's own sets, so they change
// the cells' run keys: `ptq run X.yaml --only LABEL --set save.save_autoawq=True --db other.db` re-runs one cell with
// an export without touching the matrix's own results.
Matrix load_matrix(const std::string& file, const std::vector<std::string>& overrides = {});
// The same from parsed YAML; `file` names it in messages and anchors a relative base (the fuzz harness's entry).
Matrix parse_matrix(const YAML::Node& root, const std::string& file, const std::vector<std::string>& overrides = {});
// sha256 hex of matrix + "\n" + the canonical configuration JSON (see above).
std::string matrix_run_key(const RunConfig& cfg, const std::string& matrix);

struct MatrixRunOptions {
  std::string db_path = "results/ptq.db";  // its folder is created when missing
  std::string only;                        // keep cells whose label contains this ("" = all)
  std::vector<size_t> cells;               // keep these canonical cell indices (empty = all; cell_slices.h)
  bool dry_run = false;                    // list cells, run keys and whether finished; run nothing
  int threads = 0;                         // > 0 overrides the configs' ptq.threads
  std::FILE* out = stdout;                 // progress lines (nullptr: silent)
};

// First checks the input files of every selected cell (experiment/input_check.h; not for a dry run): a bad one throws
// before the store is opened. Then runs the cells in order against the store: a finished run_key is skipped;
// otherwise the run is marked running, executed, and recorded finished, or failed with its message (then the next
// cell runs). Returns a summary
// {matrix, db, total, finished, skipped, failed, cells: [{index, label, run_key, status, ppl, seconds, error}]}; index
// is the cell's canonical index; status is done, skipped, failed, or (dry run) finished/pending. With `cells` and
// `only` both given a cell must match both; the selected cells run in canonical order, sharing the fp baseline and
// calibration caches among them. The fp baseline cache starts with the pretrain evaluations of the matrix's finished
// cells in the store that ran at the same thread count.
nlohmann::json run_matrix(const Matrix& m, const MatrixRunOptions& opt);

// The perplexity a stored run reports: its first fake_quant ppl, else its last ppl, else NaN.
double stored_ppl(const RunRecord& run);

}  // namespace ptq
