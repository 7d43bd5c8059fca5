// `ptq run X.yaml --backend slurm`: a matrix as one SLURM job array plus a dependent merge job. ptq does not schedule
// anything itself; it writes two self-contained sbatch scripts and submits them with sbatch.
//
//   <shard dir>/array.sbatch  #SBATCH --array=0-(N-1); task i runs `ptq run X.yaml --cells <slice i> --db
//                             <shard dir>/task_i.db` (the slice table is in the script, so `sbatch --array=i
//                             array.sbatch` reruns exactly task i); log <shard dir>/logs/task_<i>_<array job id>.log
//   <shard dir>/merge.sbatch  `ptq merge --db MAIN <shard dir>`, submitted with --dependency=afterany:<array job>, so
//                             it runs when every task has ended, whether it succeeded or not
//
// Which cells: the selected ones (--cells, --only) that are not finished in the main store or any shard of the shard
// dir (matrix_status.h), so running the same command again submits only what is left. A cell that a shard records
// as 'running' is either in a live task or was killed with it; ptq cannot tell which, so such cells stop the
// submission (user error naming them) unless `resubmit` is set (after the earlier job ended or was cancelled).
//
// Slices: the pending cells in sharing order (cell_slices.h), cut into `tasks` even slices, slices of
// `cells_per_task`, or by default one slice per (model, calibration) group, so a task's cells share the fp baseline
// and the calibration capture. Tasks are idempotent: a rerun task skips the cells already finished in its shard.
//
// Threads: a task runs with --threads `threads` when given, else with $SLURM_CPUS_PER_TASK when cpus_per_task is set,
// else with the configuration's ptq.threads.
#pragma once

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "experiment/matrix.h"

namespace ptq {

struct SlurmOptions {
  std::string db_path = "results/ptq.db";  // the main store the merge job merges into
  std::string shard_dir;                   // "" = default_shard_dir(db_path, matrix name)
  std::vector<size_t> cells;               // canonical indices to consider (empty = all)
  std::string only;                        // and only labels containing this
  int tasks = 0;                           // number of array tasks (0: see cells_per_task)
  int cells_per_task = 0;                  // 0 and tasks 0: one task per sharing group
  int max_parallel = 0;                    // > 0: at most this many tasks at once (--array=0-N%M)
  bool resubmit = false;                   // 'running' cells are pending (their job has ended)
  // Passed to both scripts as #SBATCH lines when non-empty (gpus_per_task and mem to the array only).
  std::string partition, account, time, gpus_per_task, mem;
  int cpus_per_task = 0;
  std::vector<std::string> sbatch_args;  // further "#SBATCH <arg>" lines for both scripts, e.g. "--qos=short"
  std::string sbatch = "sbatch";         // the sbatch program (looked up on PATH when it has no '/')
  bool submit = true;                    // false: write the scripts, submit nothing
  std::string ptq_bin;                   // "" = this executable (/proc/self/exe)
  int threads = 0;
  std::FILE* out = stdout;  // progress lines (nullptr: silent)
};

// Writes the scripts and (unless !submit) submits them. Returns {matrix, db, shard_dir, array_script, merge_script,
// submitted, array_job, merge_job, tasks, cells, skipped_finished, slices: [{task, cells, spec, shard}]}; with nothing
// left to run it writes and submits nothing and returns tasks 0. Throws a user error for bad options, a missing
// sbatch, or sbatch refusing a script (its message included).
nlohmann::json submit_matrix_slurm(const Matrix& m, const SlurmOptions& opt);

}  // namespace ptq
