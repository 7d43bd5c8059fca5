#include "experiment/slurm_submit.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/subprocess.h"
#include "experiment/cell_slices.h"
#include "experiment/matrix_status.h"
#include "store/store.h"
#include "store/shards.h"

namespace ptq {

namespace {

namespace fs = std::filesystem;

std::string absolute(const std::string& p) { return fs::absolute(p).lexically_normal().string(); }

// One word for bash: single quotes, each ' written as '\''.
std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// A SLURM job name from the matrix name: letters, digits, '_', '-', '.'; anything else becomes '_'.
std::string job_name(const std::string& matrix) {
  std::string out = "ptq-";
  for (char c : matrix) out += std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' ? c : '_';
  return out;
}

void say(const SlurmOptions& o, const std::string& line) {
  if (!o.out) return;
  std::fputs(line.c_str(), o.out);
  std::fputc('\n', o.out);
  std::fflush(o.out);
}

// The #SBATCH lines both scripts share, checked: one line each, no newline inside a value.
std::vector<std::string> common_directives(const SlurmOptions& o) {
  std::vector<std::string> lines;
  auto add = [&](const char* option, const std::string& value) {
    if (value.empty()) return;
    PTQ_CHECK(value.find_first_of("\n\r") == std::string::npos, "ptq run --backend slurm: {}: the value must be one "
              "line", option);
    lines.push_back(fmt::format("#SBATCH {}={}", option, value));
  };
  add("--partition", o.partition);
  add("--account", o.account);
  add("--time", o.time);
  for (const auto& a : o.sbatch_args) {
    PTQ_CHECK(!a.empty() && a[0] == '-' && a.find_first_of("\n\r") == std::string::npos,
              "ptq run --backend slurm: --sbatch-arg '{}': expected one sbatch option such as --qos=short", a);
    lines.push_back("#SBATCH " + a);
  }
  return lines;
}

// A complete script or none (src/core/atomic_file.h), executable like any job script.
void write_script(const std::string& path, const std::string& text) {
  write_file_atomically(path, text);
  fs::permissions(path, fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec,
                  fs::perm_options::add);
}

// sbatch --parsable prints "<job id>" or "<job id>;<cluster>".
std::string submit(const std::string& sbatch, const std::vector<std::string>& extra, const std::string& script) {
  std::vector<std::string> argv = {sbatch, "--parsable"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back(script);
  const ProcessOutput r = run_process(argv);
  auto trim = [](std::string s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.erase(s.begin());
    return s;
  };
  PTQ_CHECK(r.exit_code == 0, "{}: sbatch refused the script (exit {}): {}", script, r.exit_code,
            trim(r.err + r.out));
  std::string id = trim(r.out);
  if (const size_t nl = id.rfind('\n'); nl != std::string::npos) id = id.substr(nl + 1);  // after any notices
  id = id.substr(0, id.find(';'));
  PTQ_CHECK(!id.empty() && std::all_of(id.begin(), id.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }),
            "{}: sbatch printed no job id (expected a number from --parsable): '{}'", script, trim(r.out));
  return id;
}

}  // namespace

nlohmann::json submit_matrix_slurm(const Matrix& m, const SlurmOptions& o) {
  PTQ_CHECK(o.tasks >= 0 && o.cells_per_task >= 0 && o.max_parallel >= 0 && o.cpus_per_task >= 0 && o.threads >= 0,
            "ptq run --backend slurm: --tasks, --cells-per-task, --max-parallel, --cpus-per-task and --threads must "
            "not be negative");
  PTQ_CHECK(!(o.tasks > 0 && o.cells_per_task > 0), "ptq run --backend slurm: give --tasks or --cells-per-task, not "
            "both");
  const std::string main_db = absolute(o.db_path);
  const std::string shard_dir = absolute(o.shard_dir.empty() ? default_shard_dir(o.db_path, m.name) : o.shard_dir);
  const std::string matrix_file = absolute(m.file);
  std::string ptq_bin = o.ptq_bin;
  if (ptq_bin.empty()) ptq_bin = fs::read_symlink("/proc/self/exe").string();
  ptq_bin = absolute(ptq_bin);
  PTQ_CHECK(::access(ptq_bin.c_str(), X_OK) == 0, "ptq run --backend slurm: --ptq-bin {}: not an executable", ptq_bin);
  // Checked before anything is written, so a machine without SLURM leaves no scripts behind.
  std::string sbatch;
  if (o.submit) {
    sbatch = find_executable(o.sbatch);
    PTQ_CHECK(!sbatch.empty(), "ptq run --backend slurm: sbatch '{}' not found{} (install the SLURM client, e.g. "
              "Debian's slurm-client; name it with --sbatch PATH; or give --no-submit to only write the scripts)",
              o.sbatch, o.sbatch.find('/') == std::string::npos ? " on PATH" : "");
  }

  // The selected cells, and among them those not finished anywhere.
  std::vector<size_t> selected;
  for (size_t i = 0; i < m.cells.size(); ++i) {
    if (!o.cells.empty() && std::find(o.cells.begin(), o.cells.end(), i) == o.cells.end()) continue;
    if (!o.only.empty() && m.cells[i].label.find(o.only) == std::string::npos) continue;
    selected.push_back(i);
  }
  PTQ_CHECK(!selected.empty(), "{}: no selected cell label contains '{}'", m.file, o.only);
  const std::vector<std::string> shards = list_shards(shard_dir);
  const std::vector<CellState> states = matrix_status(m, main_db, shards);
  std::vector<size_t> pending;
  std::vector<std::string> running;
  size_t finished = 0;
  for (size_t i : selected) {
    const CellState& s = states[i];
    if (s.status == "finished") {
      ++finished;
      continue;
    }
    if (s.status == "running" && !o.resubmit)
      running.push_back(fmt::format("{} {} ({}, started {})", i, s.label, s.store, s.started_at));
    pending.push_back(i);
  }
  if (!running.empty()) {
    std::string list;
    for (size_t k = 0; k < running.size() && k < 5; ++k) list += "\n  " + running[k];
    if (running.size() > 5) list += fmt::format("\n  ... and {} more", running.size() - 5);
    PTQ_FAIL("{}: {} selected cell{} recorded as running in a store, either in a live task or left by a killed one; "
             "if their job has ended or was cancelled (squeue), rerun with --resubmit:{}",
             m.file, running.size(), running.size() == 1 ? " is" : "s are", list);
  }

  nlohmann::json result = {{"matrix", m.name},       {"db", main_db},           {"shard_dir", shard_dir},
                           {"selected", selected.size()}, {"skipped_finished", finished}, {"cells", pending.size()},
                           {"submitted", false}};
  if (pending.empty()) {
    say(o, fmt::format("matrix {}: all {} selected cells are finished (store or shards); nothing to submit. Merge the "
                       "shards with: ptq merge --db {} {}",
                       m.name, selected.size(), main_db, shard_dir));
    result["tasks"] = 0;
    result["slices"] = nlohmann::json::array();
    return result;
  }

  const auto slices = slice_cells(m, sharing_order(m, pending), o.tasks, o.cells_per_task);
  const std::string logs = shard_dir + "/logs";
  fs::create_directories(logs);
  const std::string array_script = shard_dir + "/array.sbatch", merge_script = shard_dir + "/merge.sbatch";
  const std::string cwd = fs::current_path().string();
  const std::vector<std::string> common = common_directives(o);

  // The task command: threads as documented in the header.
  std::string threads;
  if (o.threads > 0) threads = fmt::format(" --threads {}", o.threads);
  else if (o.cpus_per_task > 0) threads = fmt::format(" --threads \"${{SLURM_CPUS_PER_TASK:-{}}}\"", o.cpus_per_task);

  std::string a;
  a += "#!/bin/bash\n";
  a += fmt::format("# ptq: matrix {} ({}) as a SLURM job array of {} tasks, written by `ptq run --backend slurm` at {}.\n",
                   m.name, matrix_file, slices.size(), utc_now());
  a += fmt::format("# Task i runs its slice of cells into its own shard {}/task_<i>.db and skips the cells already\n"
                   "# finished there. Rerun one task: sbatch --array=<i> {}\n"
                   "# Merge the shards into the main store: ptq merge --db {} {}\n",
                   shard_dir, array_script, main_db, shard_dir);
  a += "#SBATCH --job-name=" + job_name(m.name) + "\n";
  a += fmt::format("#SBATCH --array=0-{}{}\n", slices.size() - 1,
                   o.max_parallel > 0 ? fmt::format("%{}", o.max_parallel) : "");
  a += "#SBATCH --ntasks=1\n";
  a += "#SBATCH --output=" + logs + "/task_%a_%A.log\n";
  a += "#SBATCH --open-mode=append\n";
  if (o.cpus_per_task > 0) a += fmt::format("#SBATCH --cpus-per-task={}\n", o.cpus_per_task);
  for (const auto& [opt, value] : {std::pair<const char*, std::string>{"--gpus-per-task", o.gpus_per_task},
                                   {"--mem", o.mem}}) {
    if (value.empty()) continue;
    PTQ_CHECK(value.find_first_of("\n\r") == std::string::npos, "ptq run --backend slurm: {}: the value must be one "
              "line", opt);
    a += fmt::format("#SBATCH {}={}\n", opt, value);
  }
  for (const auto& l : common) a += l + "\n";
  a += "set -euo pipefail\n";
  a += "cd " + shell_quote(cwd) + "\n";
  a += "case \"${SLURM_ARRAY_TASK_ID:-}\" in\n";
  nlohmann::json slice_json = nlohmann::json::array();
  for (size_t t = 0; t < slices.size(); ++t) {
    const std::string spec = format_cell_spec(slices[t]);
    // Each task checks that its cells are still the ones submitted (the matrix file may be edited meanwhile).
    const std::string digest = cells_digest(m, slices[t]);
    a += fmt::format("  {}) cells={} digest={} ;;  # {} cell{}\n", t, spec, digest, slices[t].size(),
                     slices[t].size() == 1 ? "" : "s");
    nlohmann::json labels = nlohmann::json::array();
    for (size_t i : slices[t]) labels.push_back(m.cells[i].label);
    slice_json.push_back({{"task", t}, {"cells", slices[t]}, {"spec", spec}, {"digest", digest},
                          {"shard", shard_path(shard_dir, t)}, {"labels", labels}});
  }
  a += "  *) echo \"ptq: array task '${SLURM_ARRAY_TASK_ID:-}' has no slice in this script (submit it with sbatch "
       "--array)\" >&2; exit 2 ;;\n";
  a += "esac\n";
  a += "echo \"ptq: $(date -u +%FT%TZ) task ${SLURM_ARRAY_TASK_ID} of job ${SLURM_ARRAY_JOB_ID:-?} on ${HOSTNAME:-?}: "
       "cells $cells\"\n";
  a += fmt::format("exec {} run {} --cells \"$cells\" --cells-digest \"$digest\" --db {}/task_\"$SLURM_ARRAY_TASK_ID\".db{}\n",
                   shell_quote(ptq_bin), shell_quote(matrix_file), shell_quote(shard_dir), threads);

  std::string b;
  b += "#!/bin/bash\n";
  b += fmt::format("# ptq: merges the shards of matrix {} into {} (idempotent: merging again adds nothing).\n", m.name,
                   main_db);
  b += "#SBATCH --job-name=" + job_name(m.name) + "-merge\n";
  b += "#SBATCH --ntasks=1\n";
  b += "#SBATCH --output=" + logs + "/merge_%j.log\n";
  b += "#SBATCH --open-mode=append\n";
  for (const auto& l : common) b += l + "\n";
  b += "set -euo pipefail\n";
  b += "cd " + shell_quote(cwd) + "\n";
  b += fmt::format("exec {} merge --db {} {}\n", shell_quote(ptq_bin), shell_quote(main_db), shell_quote(shard_dir));

  write_script(array_script, a);
  write_script(merge_script, b);
  result["array_script"] = array_script;
  result["merge_script"] = merge_script;
  result["tasks"] = slices.size();
  result["slices"] = slice_json;

  say(o, fmt::format("matrix {}: {} selected cells, {} finished (left out), {} to run in {} task{}{}", m.name,
                     selected.size(), finished, pending.size(), slices.size(), slices.size() == 1 ? "" : "s",
                     o.tasks == 0 && o.cells_per_task == 0
                         ? " (one per model and calibration setting; --tasks N or --cells-per-task K to split further)"
                         : ""));
  for (const auto& s : slice_json)
    say(o, fmt::format("  task {}: cells {} ({}) -> {}", s["task"].get<size_t>(), s["spec"].get<std::string>(),
                       s["cells"].size(), s["shard"].get<std::string>()));
  say(o, fmt::format("wrote {} and {}", array_script, merge_script));
  if (!o.submit) {
    say(o, fmt::format("not submitted (--no-submit): sbatch {} ; then sbatch --dependency=afterany:<job id> {}",
                       array_script, merge_script));
    return result;
  }
  const std::string array_job = submit(sbatch, {}, array_script);
  std::string merge_job;
  try {
    merge_job = submit(sbatch, {"--dependency=afterany:" + array_job}, merge_script);
  } catch (Error& e) {
    e.add_context(fmt::format("array job {} was submitted, its merge job not (merge later with: ptq merge --db {} {})",
                              array_job, main_db, shard_dir));
    throw;
  }
  result["submitted"] = true;
  result["array_job"] = array_job;
  result["merge_job"] = merge_job;
  say(o, fmt::format("submitted array job {} (tasks 0-{}) and merge job {} (afterany:{})", array_job,
                     slices.size() - 1, merge_job, array_job));
  say(o, fmt::format("follow with: ptq status {} --db {}", m.file, o.db_path));
  return result;
}

}  // namespace ptq
