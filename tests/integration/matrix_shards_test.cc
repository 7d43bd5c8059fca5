// A matrix split into shards (src/experiment/cell_slices.h, src/store/shards.h, src/experiment/matrix_status.h,
// src/experiment/slurm_submit.h): `--cells` parsing and slicing order, `ptq run --cells` into shard stores, `ptq merge`
// idempotence against the same matrix run in one store, `ptq status` across shards, and the SLURM scripts (written
// with --no-submit, and submitted through a stand-in sbatch that records its arguments). The real SLURM cluster test
// is tests/slurm/run_slurm_test.sh.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <set>

#include "core/error.h"
#include "experiment/cell_slices.h"
#include "experiment/matrix.h"
#include "store/store.h"
#include "support/errors.h"
#include "support/test_data.h"

namespace ptq {
namespace {

namespace fs = std::filesystem;

std::string base_config() { return test::config_path("quantization/methods/GPTQ/gptq_w_only.yml"); }

// method x bits on stories260K, one calibration setting (so the four cells share the fp baseline and calibration).
std::string four_cells(const std::string& name) {
  return fmt::format("name: {}\nbase: {}\n", name, base_config()) +
         fmt::format("set: {{model.path: \"{}\", calib.n_samples: 8, calib.seq_len: 64, eval.max_windows: 4, "
                     "eval.seq_len: 128}}\n",
                     test::data_path("models/stories260K-hf")) +
         "axes:\n"
         "  method:\n"
         "    - {name: rtn,  set: {quant.method: RTN, quant.special: {}}}\n"
         "    - {name: gptq, set: {quant.method: GPTQ}}\n"
         "  bits:\n"
         "    - {name: w3g32, set: {quant.weight.bit: 3}}\n"
         "    - {name: w4g32, set: {quant.weight.bit: 4}}\n";
}

// 3 methods x 2 seeds: the seed is part of the calibration section, so two sharing groups (one per seed) that the
// canonical order (seed fastest) interleaves.
std::string two_groups(const std::string& name) {
  return fmt::format("name: {}\nbase: {}\n", name, base_config()) +
         fmt::format("set: {{model.path: \"{}\", calib.n_samples: 8, calib.seq_len: 64}}\n",
                     test::data_path("models/stories260K-hf")) +
         "axes:\n"
         "  method:\n"
         "    - {name: rtn,  set: {quant.method: RTN, quant.special: {}}}\n"
         "    - {name: gptq, set: {quant.method: GPTQ}}\n"
         "    - {name: gptq3, set: {quant.method: GPTQ, quant.weight.bit: 3}}\n"
         "  seed:\n"
         "    - {name: s0, set: {calib.seed: 0}}\n"
         "    - {name: s1, set: {calib.seed: 1}}\n";
}

void expect_has(const std::string& text, const std::string& part) {
  EXPECT_NE(text.find(part), std::string::npos) << "'" << text << "' lacks '" << part << "'";
}

// run_key -> fake_quant ppl of every finished run.
std::map<std::string, double> finished_ppl(const std::string& db) {
  std::map<std::string, double> out;
  Store store(db);
  for (const auto& r : store.runs())
    if (r.status == RunStatus::kFinished) out[r.run_key] = stored_ppl(r);
  return out;
}

TEST(CellSlices, ParsesAndFormatsCellLists) {
  EXPECT_EQ(parse_cell_spec("0-3,7", 12, "x"), (std::vector<size_t>{0, 1, 2, 3, 7}));
  EXPECT_EQ(parse_cell_spec("7,0-3,3,2-2", 12, "x"), (std::vector<size_t>{0, 1, 2, 3, 7}));  // sorted, distinct
  EXPECT_EQ(parse_cell_spec("11", 12, "x"), (std::vector<size_t>{11}));
  EXPECT_EQ(format_cell_spec({0, 1, 2, 3, 7}), "0-3,7");
  EXPECT_EQ(format_cell_spec({1, 3, 4, 9, 10, 11}), "1,3-4,9-11");
  EXPECT_EQ(format_cell_spec({}), "");
  for (const std::string spec : {"0-3,7", "5", "0-11", "0,2,4-6,8"})
    EXPECT_EQ(format_cell_spec(parse_cell_spec(spec, 12, "x")), spec);

  const std::string where = "ptq run: --cells";
  auto err = [&](const std::string& spec) { return test::user_error_of([&] { parse_cell_spec(spec, 12, where); }); };
  std::string m = err("12");
  expect_has(m, where), expect_has(m, "out of range"), expect_has(m, "12 cells, 0-11");
  m = err("3-1");
  expect_has(m, "'3-1'"), expect_has(m, "ends before it starts");
  m = err("a");
  expect_has(m, "'a' is not a cell index");
  for (const std::string bad : {"", "1,,2", "1,", "-1", "0-", "1 ", " 1", "1-2-3", "+1", "0x1"})
    expect_has(err(bad), where);
}

TEST(CellSlices, SlicesFollowTheSharingOrder) {
  test::TempDir dir;
  const std::string file = dir.file("m.yaml");
  test::write_file(file, two_groups("groups"));
  const Matrix m = load_matrix(file);
  ASSERT_EQ(m.cells.size(), 6u);
  ASSERT_EQ(m.cells[1].label, "method=rtn,seed=s1");  // canonical order: the seed varies fastest
  std::vector<size_t> all(6);
  for (size_t i = 0; i < 6; ++i) all[i] = i;
  const std::vector<size_t> order = sharing_order(m, all);
  // One seed's cells, then the other's; each group in canonical order.
  const std::vector<size_t> s0 = {0, 2, 4}, s1 = {1, 3, 5};
  ASSERT_EQ(order.size(), 6u);
  const std::vector<size_t> first(order.begin(), order.begin() + 3), second(order.begin() + 3, order.end());
  EXPECT_TRUE((first == s0 && second == s1) || (first == s1 && second == s0)) << format_cell_spec(order);
  EXPECT_EQ(sharing_key(m.cells[0]), sharing_key(m.cells[4]));
  EXPECT_NE(sharing_key(m.cells[0]), sharing_key(m.cells[1]));

  // Default: one slice per group.
  auto slices = slice_cells(m, order, 0, 0);
  ASSERT_EQ(slices.size(), 2u);
  EXPECT_EQ(std::set<std::vector<size_t>>(slices.begin(), slices.end()), (std::set<std::vector<size_t>>{s0, s1}));
  // --tasks 3: even contiguous slices of the sharing order, each sorted.
  slices = slice_cells(m, order, 3, 0);
  ASSERT_EQ(slices.size(), 3u);
  std::vector<size_t> joined;
  for (const auto& s : slices) {
    EXPECT_EQ(s.size(), 2u);
    EXPECT_TRUE(std::is_sorted(s.begin(), s.end()));
  }
  // The first and last slices lie inside one group each; the middle one straddles the boundary.
  EXPECT_EQ(sharing_key(m.cells[slices[0][0]]), sharing_key(m.cells[slices[0][1]]));
  EXPECT_EQ(sharing_key(m.cells[slices[2][0]]), sharing_key(m.cells[slices[2][1]]));
  // --tasks 4 on 6 cells: sizes 2, 2, 1, 1; more tasks than cells: one cell each.
  slices = slice_cells(m, order, 4, 0);
  std::vector<size_t> sizes;
  for (const auto& s : slices) sizes.push_back(s.size());
  EXPECT_EQ(sizes, (std::vector<size_t>{2, 2, 1, 1}));
  EXPECT_EQ(slice_cells(m, order, 50, 0).size(), 6u);
  // --cells-per-task 4: 4 + 2, and the four are the whole first group plus the second group's first cell.
  slices = slice_cells(m, order, 0, 4);
  ASSERT_EQ(slices.size(), 2u);
  EXPECT_EQ(slices[0].size(), 4u);
  EXPECT_EQ(slices[1].size(), 2u);
  std::set<size_t> seen;
  for (const auto& s : slices) seen.insert(s.begin(), s.end());
  EXPECT_EQ(seen.size(), 6u);
  expect_has(test::user_error_of([&] { slice_cells(m, order, 2, 2); }), "not both");
  EXPECT_TRUE(slice_cells(m, {}, 3, 0).empty());
  EXPECT_EQ(cells_digest(m, {0, 1}), cells_digest(m, {0, 1}));
  EXPECT_NE(cells_digest(m, {0, 1}), cells_digest(m, {0, 2}));
  EXPECT_EQ(cells_digest(m, {0, 1}).size(), 16u);
}

// Shards written by `ptq run --cells` (one cell in two shards), merged: the same runs and numbers as the matrix run in
// one store; merging again adds nothing; `ptq status` across the main store and shards.
TEST(MatrixShards, CellsShardsMergeAndStatus) {
  test::TempDir dir;
  const std::string file = dir.file("m.yaml");
  test::write_file(file, four_cells("shards"));
  const Matrix m = load_matrix(file);
  ASSERT_EQ(m.cells.size(), 4u);
  const std::string local = dir.file("local.db"), main = dir.file("res/main.db");
  const std::string shard_dir = dir.file("res/shards/shards");
  fs::create_directories(shard_dir);
  const std::string a = shard_dir + "/task_0.db", b = shard_dir + "/task_1.db";

  auto r = test::run_ptq(fmt::format("run {} --db {} --threads 1", file, local));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  r = test::run_ptq(fmt::format("run {} --cells 0-1 --db {} --threads 1 --json", file, a));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const nlohmann::json ja = test::last_json_line(r.out);
  ASSERT_EQ(ja["cells"].size(), 2u);
  EXPECT_EQ(ja["cells"][0]["index"], 0);
  EXPECT_EQ(ja["cells"][1]["index"], 1);
  EXPECT_EQ(ja["cells"][1]["label"], m.cells[1].label);
  // Cell 1 again, in the second shard: finished twice, kept once after the merge.
  r = test::run_ptq(fmt::format("run {} --cells 1-3 --db {} --threads 1", file, b));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(finished_ppl(a).size(), 2u);
  EXPECT_EQ(finished_ppl(b).size(), 3u);
  // --cells combines with --only; a rerun of a slice skips its finished cells.
  r = test::run_ptq(fmt::format("run {} --cells 1-3 --only method=gptq --db {} --threads 1 --json", file, b));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const nlohmann::json jb = test::last_json_line(r.out);
  EXPECT_EQ(jb["total"], 2);
  EXPECT_EQ(jb["skipped"], 2);
  EXPECT_EQ(jb["finished"], 0);

  // A third shard holds a stale 'running' row (a killed task) of cell 2 and a failed row of cell 3.
  const std::string c = shard_dir + "/task_2.db";
  {
    Store sc(c);
    RunRecord h;
    h.matrix = m.name;
    h.run_key = m.cells[2].run_key;
    h.config = m.cells[2].config.to_json();
    h.started_at = "2000-01-01T00:00:00Z";
    sc.mark_running(h);
    RunRecord f = h;
    f.run_key = m.cells[3].run_key;
    f.status = RunStatus::kFailed;
    f.error = "killed for the test";
    sc.record_run(f);
  }

  // Status before any merge: everything finished in shards, nothing merged; the main store is not created.
  r = test::run_ptq(fmt::format("status {} --db {} --json", file, main));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  nlohmann::json st = test::last_json_line(r.out);
  EXPECT_FALSE(fs::exists(main));
  EXPECT_EQ(st["shards"].size(), 3u);
  EXPECT_EQ(st["counts"]["finished"], 4);
  EXPECT_EQ(st["counts"]["merged"], 0);
  EXPECT_EQ(st["cells"][0]["store"], a);
  EXPECT_EQ(st["cells"][2]["store"], b);  // finished beats the stale running row
  const auto want = finished_ppl(local);
  ASSERT_EQ(want.size(), 4u);
  for (size_t i = 0; i < 4; ++i) EXPECT_DOUBLE_EQ(st["cells"][i]["ppl"].get<double>(), want.at(m.cells[i].run_key));
  expect_has(r.out, "4 cells: 4 finished (0 merged), 0 running, 0 failed, 0 pending");

  // Merge the stale shard alone first: its two unfinished rows are added; status then shows them from the main
  // store's view combined with the other shards (still finished there).
  r = test::run_ptq(fmt::format("merge --db {} {} --json", main, c));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  nlohmann::json mj = test::last_json_line(r.out);
  EXPECT_EQ(mj["added"], 2);
  // Now the folder: task_0 adds 2 (cells 0, 1), task_1 adds 0 new, replaces 2 (cells 2, 3 unfinished in main) and
  // skips 1 (cell 1, finished in main by then), task_2 skips its 2.
  r = test::run_ptq(fmt::format("merge --db {} {} --json", main, shard_dir));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  mj = test::last_json_line(r.out);
  EXPECT_EQ(mj["added"], 2);
  EXPECT_EQ(mj["replaced"], 2);
  EXPECT_EQ(mj["skipped"], 3);
  EXPECT_EQ(mj["runs"], 4);
  EXPECT_EQ(mj["finished"], 4);
  EXPECT_EQ(mj["integrity"], "ok");
  // Merging again changes nothing.
  r = test::run_ptq(fmt::format("merge --db {} {} {} --json", main, shard_dir, a));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  mj = test::last_json_line(r.out);
  EXPECT_EQ(mj["added"], 0);
  EXPECT_EQ(mj["replaced"], 0);
  EXPECT_EQ(mj["skipped"], 9);
  EXPECT_EQ(mj["runs"], 4);

  // The merged store equals the local run: same run keys, same numbers (threads 1 both times: bit-identical).
  {
    Store s(main);
    std::string details;
    EXPECT_TRUE(s.integrity_ok(&details)) << details;
    const auto runs = s.runs();
    ASSERT_EQ(runs.size(), 4u);
    Store l(local);
    for (const auto& run : runs) {
      EXPECT_EQ(run.status, RunStatus::kFinished);
      const auto ref = l.run(run.run_key);
      ASSERT_TRUE(ref.has_value()) << run.run_key;
      ASSERT_EQ(run.metrics.size(), ref->metrics.size());
      for (size_t k = 0; k < run.metrics.size(); ++k) {
        EXPECT_EQ(run.metrics[k].name, ref->metrics[k].name);
        if (run.metrics[k].name == "ppl") {
          EXPECT_NEAR(run.metrics[k].value, ref->metrics[k].value, 1e-6 * ref->metrics[k].value) << run.run_key;
        }
      }
      EXPECT_EQ(run.config.value("matrix_cell", nlohmann::json()), ref->config.value("matrix_cell", nlohmann::json()));
    }
  }
  r = test::run_ptq(fmt::format("status {} --db {} --json", file, main));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  st = test::last_json_line(r.out);
  EXPECT_EQ(st["counts"]["merged"], 4);
  for (const auto& cell : st["cells"]) EXPECT_EQ(cell["store"], main);

  // A pending, a running and a failed cell: status of a fresh store with one shard.
  const std::string main2 = dir.file("res2/main.db"), shard2 = dir.file("res2/shards/shards");
  fs::create_directories(shard2);
  fs::copy_file(c, shard2 + "/task_0.db");
  r = test::run_ptq(fmt::format("status {} --db {}", file, main2));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  expect_has(r.out, "4 cells: 0 finished (0 merged), 1 running, 1 failed, 2 pending");
  expect_has(r.out, "error: killed for the test");
  expect_has(r.out, "started 2000-01-01T00:00:00Z");

  // Bad input: exit 2, one message, nothing written.
  auto bad = [&](const std::string& args, const std::string& part) {
    const auto br = test::run_ptq(args);
    EXPECT_EQ(br.exit_code, 2) << args << "\n" << br.out << br.err;
    expect_has(br.err, part);
  };
  bad(fmt::format("run {} --cells 4 --db {}", file, dir.file("x.db")), "--cells: '4': cell 4 is out of range");
  bad(fmt::format("run {} --cells 1-x --db {}", file, dir.file("x.db")), "'1-x' is not a cell index");
  bad(fmt::format("run {} --cells 0 --cells-digest 0123 --db {}", file, dir.file("x.db")), "not the ones submitted");
  bad(fmt::format("run {} --backend pbs --db {}", file, dir.file("x.db")), "--backend 'pbs': unknown backend");
  bad(fmt::format("run {} --partition gpu --db {}", file, dir.file("x.db")), "--partition applies to --backend slurm");
  bad(fmt::format("run --config {} --cells 0", base_config()), "--cells applies to matrix files");
  EXPECT_FALSE(fs::exists(dir.file("x.db")));
  bad(fmt::format("merge --db {} {}", dir.file("y.db"), dir.file("nope.db")), "no such shard store or folder");
  bad(fmt::format("merge --db {} {}", dir.file("y.db"), dir.path() + "/res2/shards"), "no shard stores (*.db)");
  EXPECT_FALSE(fs::exists(dir.file("y.db")));
  bad(fmt::format("status {} --db {}", base_config(), main), "not a matrix file");
}

// --backend slurm: the scripts (slices, #SBATCH options, resubmission rules), and the submission protocol through a
// stand-in sbatch that records its arguments and prints job ids as `sbatch --parsable` does.
TEST(MatrixShards, SlurmScriptsAndSubmission) {
  test::TempDir dir;
  const std::string file = dir.file("m.yaml");
  test::write_file(file, two_groups("slurm_scripts"));
  const Matrix m = load_matrix(file);
  const std::string main = dir.file("res/ptq.db"), shards = dir.file("res/shards/slurm_scripts");

  // No sbatch: exit 2 before anything is written.
  auto r = test::run_ptq(fmt::format("run {} --backend slurm --db {} --sbatch {}", file, main, dir.file("no/sbatch")));
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  expect_has(r.err, "sbatch '" + dir.file("no/sbatch") + "' not found");
  EXPECT_FALSE(fs::exists(shards));
  r = test::run_ptq(fmt::format("run {} --backend slurm --db {} --tasks 2 --cells-per-task 2 --no-submit", file, main));
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  expect_has(r.err, "not both");

  r = test::run_ptq(fmt::format(
      "run {} --backend slurm --db {} --no-submit --json --partition gpu --gpus-per-task 1 --time 2:00:00 "
      "--cpus-per-task 4 --mem 32G --account lab --max-parallel 1 --sbatch-arg=--qos=short",
      file, main));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  nlohmann::json j = test::last_json_line(r.out);
  EXPECT_EQ(j["tasks"], 2);  // one per seed (sharing group)
  EXPECT_EQ(j["cells"], 6);
  EXPECT_EQ(j["submitted"], false);
  EXPECT_EQ(j["shard_dir"], shards);
  std::set<std::string> specs;
  for (const auto& s : j["slices"]) specs.insert(s["spec"].get<std::string>());
  EXPECT_EQ(specs, (std::set<std::string>{"0,2,4", "1,3,5"}));
  const std::string script = test::read_file(shards + "/array.sbatch");
  const std::string merge = test::read_file(shards + "/merge.sbatch");
  const std::vector<std::string> array_lines = {
      "#SBATCH --array=0-1%1\n", "#SBATCH --partition=gpu\n", "#SBATCH --gpus-per-task=1\n",
      "#SBATCH --time=2:00:00\n", "#SBATCH --cpus-per-task=4\n", "#SBATCH --mem=32G\n", "#SBATCH --account=lab\n",
      "#SBATCH --qos=short\n", "#SBATCH --output=" + shards + "/logs/task_%a_%A.log\n",
      "--threads \"${SLURM_CPUS_PER_TASK:-4}\"",
      " run '" + fs::absolute(file).string() + "' --cells \"$cells\" --cells-digest \"$digest\" --db '" + shards +
          "'/task_\"$SLURM_ARRAY_TASK_ID\".db"};
  for (const std::string& line : array_lines)
    expect_has(script, line);
  expect_has(script, fmt::format("cells=0,2,4 digest={} ;;", cells_digest(m, {0, 2, 4})));
  const std::vector<std::string> merge_lines = {"#SBATCH --partition=gpu\n", "#SBATCH --account=lab\n",
                                               "#SBATCH --qos=short\n",
                                               " merge --db '" + main + "' '" + shards + "'\n"};
  for (const std::string& line : merge_lines)
    expect_has(merge, line);
  EXPECT_EQ(merge.find("--gpus-per-task"), std::string::npos);  // the merge needs no GPU
  EXPECT_TRUE(fs::status(shards + "/array.sbatch").permissions() == (fs::status(shards + "/array.sbatch").permissions() |
                                                                     fs::perms::owner_exec));
  EXPECT_TRUE(fs::is_directory(shards + "/logs"));
  EXPECT_FALSE(fs::exists(main));  // submitting creates no store

  // The script's task body, run by bash for task 1 with a stand-in ptq that prints its arguments.
  const std::string fake_ptq = dir.file("fake_ptq.sh");
  test::write_file(fake_ptq, "#!/bin/sh\necho \"ARGS $*\"\n");
  ::chmod(fake_ptq.c_str(), 0755);
  r = test::run_ptq(fmt::format("run {} --backend slurm --db {} --no-submit --tasks 3 --ptq-bin {} --threads 2", file,
                                main, fake_ptq));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  {
    const std::string cmd = fmt::format("SLURM_ARRAY_TASK_ID=2 bash {}/array.sbatch", shards);
    FILE* p = ::popen(cmd.c_str(), "r");
    ASSERT_NE(p, nullptr);
    char buf[4096];
    std::string out;
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    EXPECT_EQ(::pclose(p), 0) << out;
    expect_has(out, fmt::format("ARGS run {} --cells ", fs::absolute(file).string()));
    expect_has(out, fmt::format("--db {}/task_2.db --threads 2", shards));
    EXPECT_EQ(WEXITSTATUS(std::system(fmt::format("SLURM_ARRAY_TASK_ID=3 bash {}/array.sbatch 2>/dev/null", shards).c_str())), 2);
  }

  // Finished and running cells: a shard with cell 0 finished and cell 1 'running' (a killed task).
  fs::create_directories(shards);
  {
    Store s(shards + "/task_0.db");
    RunRecord h;
    h.matrix = m.name;
    h.run_key = m.cells[0].run_key;
    h.config = m.cells[0].config.to_json();
    h.started_at = h.finished_at = utc_now();
    s.record_run(h);  // finished (no metrics needed for the test)
    h.run_key = m.cells[1].run_key;
    s.mark_running(h);
  }
  r = test::run_ptq(fmt::format("run {} --backend slurm --db {} --no-submit", file, main));
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  expect_has(r.err, "1 selected cell is recorded as running");
  expect_has(r.err, "--resubmit");
  expect_has(r.err, m.cells[1].label);
  r = test::run_ptq(fmt::format("run {} --backend slurm --db {} --no-submit --resubmit --json", file, main));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  j = test::last_json_line(r.out);
  EXPECT_EQ(j["skipped_finished"], 1);
  EXPECT_EQ(j["cells"], 5);
  specs.clear();
  for (const auto& s : j["slices"]) specs.insert(s["spec"].get<std::string>());
  EXPECT_EQ(specs, (std::set<std::string>{"2,4", "1,3,5"}));
  // --cells narrows the submission (cell 0 is finished: only 2 is left).
  r = test::run_ptq(fmt::format("run {} --backend slurm --db {} --no-submit --cells 0,2 --json", file, main));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  j = test::last_json_line(r.out);
  EXPECT_EQ(j["cells"], 1);
  EXPECT_EQ(j["slices"][0]["spec"], "2");
  // Everything selected finished: nothing is submitted.
  r = test::run_ptq(fmt::format("run {} --backend slurm --db {} --cells 0 --sbatch {} --json", file, main,
                                dir.file("no/sbatch")));
  EXPECT_EQ(r.exit_code, 2);  // sbatch is checked first, even when nothing would be submitted
  r = test::run_ptq(fmt::format("run {} --backend slurm --db {} --cells 0 --no-submit --json", file, main));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  j = test::last_json_line(r.out);
  EXPECT_EQ(j["tasks"], 0);
  EXPECT_EQ(j["submitted"], false);

  // Submission through a stand-in sbatch: the array first, then the merge job depending on it (afterany), the ids
  // parsed from --parsable output ("<id>;<cluster>").
  const std::string fake = dir.file("sbatch.sh"), calls = dir.file("calls.txt");
  test::write_file(fake, fmt::format("#!/bin/sh\necho \"$*\" >> {}\nn=$(wc -l < {})\necho \"$((4000 + n));ci\"\n",
                                     calls, calls));
  ::chmod(fake.c_str(), 0755);
  r = test::run_ptq(fmt::format("run {} --backend slurm --db {} --resubmit --sbatch {} --json", file, main, fake));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  j = test::last_json_line(r.out);
  EXPECT_EQ(j["submitted"], true);
  EXPECT_EQ(j["array_job"], "4001");
  EXPECT_EQ(j["merge_job"], "4002");
  EXPECT_EQ(test::read_file(calls), fmt::format("--parsable {0}/array.sbatch\n--parsable --dependency=afterany:4001 "
                                                "{0}/merge.sbatch\n",
                                                shards));
  // sbatch refusing the script: exit 2 with its message.
  const std::string refuse = dir.file("refuse.sh");
  test::write_file(refuse, "#!/bin/sh\necho 'sbatch: error: invalid partition specified: nope' >&2\nexit 1\n");
  ::chmod(refuse.c_str(), 0755);
  r = test::run_ptq(fmt::format("run {} --backend slurm --db {} --resubmit --sbatch {}", file, main, refuse));
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  expect_has(r.err, "sbatch refused the script (exit 1): sbatch: error: invalid partition specified: nope");
}

}  // namespace
}  // namespace ptq
