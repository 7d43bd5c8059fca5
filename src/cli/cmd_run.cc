// ptq run --config FILE.yml: one LLMC-style configuration end to end (src/experiment/runner.h).
// ptq run MATRIX.yaml [--db FILE] [--dry-run] [--only FILTER] [--cells LIST]: every cell of an experiment matrix,
// resumable (src/experiment/matrix.h); with --backend slurm submitted as a job array (src/experiment/slurm_submit.h).
#include <fmt/format.h>

#include <filesystem>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/error.h"
#include "experiment/cell_slices.h"
#include "experiment/matrix.h"
#include "experiment/run_config.h"
#include "experiment/slurm_submit.h"
#include "experiment/staged_run.h"

namespace ptq::cli {

int cmd_run(const std::vector<std::string>& words) {
  Args args("run",
            "Run one LLMC-style configuration: load the model, evaluate it (eval_pos pretrain), build the calibration\n"
            "set, quantize block by block with quant.method, evaluate again (fake_quant), save (save.save_fake).\n"
            "Keys are documented in docs/config.md.\n"
            "With a matrix file (experiments/X.yaml, format in src/experiment/matrix.h) runs every cell in order,\n"
            "recording each in the results store and skipping cells already finished there (resume).",
            {{"--config", "FILE", "the YAML configuration", ""},
             {"--set", "KEY=VALUE", "override a key before parsing, e.g. --set quant.weight.bit=3 (repeatable); with a matrix, applied to every cell after its own sets (new run keys)", ""},
             store_option("matrix: the results store"),
             {"--dry-run", "", "matrix: list the cells, their run keys and whether finished; config: print the resolved configuration; run nothing", ""},
             {"--only", "FILTER", "matrix: only the cells whose label contains FILTER", ""},
             {"--cells", "LIST", "matrix: only these cells, 0-based indices in matrix order (ptq status), e.g. 0-3,7", ""},
             {"--cells-digest", "HEX", "matrix: refuse to run unless the --cells have these run keys (written by --backend slurm)", ""},
             {"--backend", "NAME", "matrix: local (run here) or slurm (submit a job array and a merge job)", "local"},
             {"--tasks", "N", "slurm: number of array tasks (default: one per model and calibration setting)", ""},
             {"--cells-per-task", "N", "slurm: cells per array task instead of --tasks", ""},
             {"--partition", "P", "slurm: #SBATCH --partition", ""},
             {"--gpus-per-task", "N", "slurm: #SBATCH --gpus-per-task (array tasks)", ""},
             {"--time", "T", "slurm: #SBATCH --time, e.g. 4:00:00", ""},
             {"--cpus-per-task", "N", "slurm: #SBATCH --cpus-per-task; tasks then run with that many threads", ""},
             {"--mem", "M", "slurm: #SBATCH --mem (array tasks), e.g. 64G", ""},
             {"--account", "A", "slurm: #SBATCH --account", ""},
             {"--max-parallel", "N", "slurm: at most N array tasks at once (--array=0-K%N)", ""},
             {"--sbatch-arg", "ARG", "slurm: another #SBATCH option for both jobs, e.g. --qos=short (repeatable)", ""},
             {"--sbatch", "PATH", "slurm: the sbatch program", "sbatch"},
             {"--no-submit", "", "slurm: write the scripts, submit nothing", ""},
             {"--shard-dir", "DIR", "slurm: where the tasks' stores go (default: <db folder>/shards/<matrix>)", ""},
             {"--resubmit", "", "slurm: also submit cells recorded as running (their job ended or was cancelled)", ""},
             {"--ptq-bin", "PATH", "slurm: the ptq the jobs run (default: this one)", ""},
             json_option("with the results")},
            {{"MATRIX", "an experiment matrix (.yaml/.yml with axes)", false}});
  if (!args.parse(words)) return 0;
  auto file = args.get("--config");
  if (!args.positionals().empty()) {
    const std::string& pos = args.positionals().front();
    PTQ_CHECK(!file.has_value(), "ptq run: give either a matrix file or --config FILE, not both");
    const bool yaml = pos.size() > 5 && (pos.ends_with(".yaml") || pos.ends_with(".yml"));
    PTQ_CHECK(yaml, "ptq run: '{}': expected a matrix file (.yaml or .yml)", pos);
    if (is_matrix_file(pos)) {
      const std::string backend = args.get_or("--backend", "local");
      PTQ_CHECK(backend == "local" || backend == "slurm", "ptq run: --backend '{}': unknown backend (local, slurm)",
                backend);
      PTQ_CHECK(backend == "local" || args.get_all("--set").empty(),
                "ptq run: --set with --backend slurm: put the overrides in the matrix's set:");
      const Matrix m = load_matrix(pos, args.get_all("--set"));
      std::vector<size_t> cells;
      if (const auto spec = args.get("--cells")) cells = parse_cell_spec(*spec, m.cells.size(), "ptq run: --cells");
      const int threads = args.threads();
      if (backend == "slurm") {
        PTQ_CHECK(!args.flag("--dry-run"), "ptq run: --dry-run with --backend slurm: use --no-submit to write the "
                  "scripts without submitting");
        PTQ_CHECK(!args.get("--cells-digest"), "ptq run: --cells-digest is for the array tasks, not --backend slurm");
        SlurmOptions so;
        so.db_path = args.store();
        so.shard_dir = args.get_or("--shard-dir", "");
        so.cells = cells;
        so.only = args.get_or("--only", "");
        so.tasks = args.get_int_or("--tasks", 0);
        so.cells_per_task = args.get_int_or("--cells-per-task", 0);
        so.max_parallel = args.get_int_or("--max-parallel", 0);
        so.cpus_per_task = args.get_int_or("--cpus-per-task", 0);
        PTQ_CHECK(!args.get("--tasks") || so.tasks > 0, "ptq run: --tasks must be at least 1");
        PTQ_CHECK(!args.get("--cells-per-task") || so.cells_per_task > 0, "ptq run: --cells-per-task must be at least 1");
        PTQ_CHECK(!args.get("--max-parallel") || so.max_parallel > 0, "ptq run: --max-parallel must be at least 1");
        PTQ_CHECK(!args.get("--cpus-per-task") || so.cpus_per_task > 0, "ptq run: --cpus-per-task must be at least 1");
        so.partition = args.get_or("--partition", "");
        so.gpus_per_task = args.get_or("--gpus-per-task", "");
        so.time = args.get_or("--time", "");
        so.mem = args.get_or("--mem", "");
        so.account = args.get_or("--account", "");
        so.sbatch_args = args.get_all("--sbatch-arg");
        so.sbatch = args.get_or("--sbatch", "sbatch");
        so.submit = !args.flag("--no-submit");
        so.resubmit = args.flag("--resubmit");
        so.ptq_bin = args.get_or("--ptq-bin", "");
        so.threads = threads;
        so.out = args.json() ? stderr : stdout;
        const nlohmann::json r = submit_matrix_slurm(m, so);
        if (args.json()) fmt::print("{}\n", r.dump());
        return 0;
      }
      for (const char* o : {"--tasks", "--cells-per-task", "--partition", "--gpus-per-task", "--time",
                            "--cpus-per-task", "--mem", "--account", "--max-parallel", "--sbatch-arg", "--no-submit",
                            "--shard-dir", "--resubmit", "--ptq-bin"})
        PTQ_CHECK(!args.flag(o), "ptq run: {} applies to --backend slurm", o);
      if (const auto digest = args.get("--cells-digest")) {
        PTQ_CHECK(!cells.empty(), "ptq run: --cells-digest needs --cells");
        const std::string have = cells_digest(m, cells);
        PTQ_CHECK(have == *digest, "ptq run: {}: the cells {} are not the ones submitted (digest {}, expected {}): the "
                  "matrix file changed since the job was written; submit it again", pos, *args.get("--cells"), have,
                  *digest);
      }
      MatrixRunOptions mo;
      mo.db_path = args.store();
      mo.only = args.get_or("--only", "");
      mo.cells = cells;
      mo.dry_run = args.flag("--dry-run");
      mo.threads = threads;
      const nlohmann::json summary = run_matrix(m, mo);
      if (args.json()) fmt::print("{}\n", summary.dump());
      return summary.value("failed", 0) > 0 ? 1 : 0;
    }
    file = pos;  // a single run configuration given positionally
  }
  for (const char* o : {"--cells", "--cells-digest"})
    PTQ_CHECK(!args.get(o), "ptq run: {} applies to matrix files", o);
  PTQ_CHECK(args.get_or("--backend", "local") == "local", "ptq run: --backend applies to matrix files");
  PTQ_CHECK(file.has_value(), "ptq run: --config FILE (or a matrix file) is required");
  const RunConfig cfg = load_run_config(*file, args.get_all("--set"));
  if (args.flag("--dry-run")) {  // validated above; show what would run
    nlohmann::json plan = {{"config", cfg.to_json()}};
    if (cfg.step_1) {
      const std::string dir = step_one_cache_path(cfg);
      plan["step_1"] = {{"path", dir}, {"cached", std::filesystem::exists(std::filesystem::path(dir) / "manifest.json")}};
    }
    if (args.json()) fmt::print("{}\n", plan.dump());
    else fmt::print("{}\n", plan.dump(2));
    return 0;
  }
  RunOptions ro;
  ro.verbose = !args.json();
  ro.threads = args.threads();
  const nlohmann::json out = execute_staged_run(cfg, ro);
  if (args.json()) fmt::print("{}\n", out.dump());
  return 0;
}

}  // namespace ptq::cli
