// Experiment matrices (src/experiment/matrix.h): expansion and validation, and `ptq run MATRIX.yaml` with the
// results store: resume after SIGKILL without recomputing finished cells, failed cells recorded, exit codes.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "core/error.h"
#include "experiment/matrix.h"
#include "store/store.h"
#include "support/test_data.h"

namespace ptq {
namespace {

namespace fs = std::filesystem;

std::string base_config() { return std::string(PTQ_SOURCE_DIR) + "/configs/quantization/methods/GPTQ/gptq_w_only.yml"; }

// Small settings on stories260K for every cell.
std::string small_set() {
  return fmt::format(
      "set: {{model.path: \"{}\", calib.n_samples: 8, calib.seq_len: 64, eval.max_windows: 4, eval.seq_len: 128}}\n",
      test::data_path("models/stories260K-hf"));
}

// 3 methods x 2 bit settings x 2 seeds.
std::string acceptance_matrix(const std::string& name, const std::string& extra = "") {
  return fmt::format(
             "name: {}\nbase: {}\n", name, base_config()) +
         small_set() +
         "axes:\n"
         "  method:\n"
         "    - {name: rtn,  set: {quant.method: RTN, quant.special: {}}}\n"
         "    - {name: gptq, set: {quant.method: GPTQ}}\n"
         "    - {name: awq,  set: {quant.method: Awq, quant.special: {trans: true, weight_clip: true}, calib.bs: -1}}\n"
         "  bits:\n"
         "    - {name: w3g32, set: {quant.weight.bit: 3}}\n"
         "    - {name: w4g32, set: {quant.weight.bit: 4}}\n"
         "  seed:\n"
         "    - {name: s0, set: {calib.seed: 0}}\n"
         "    - {name: s1, set: {calib.seed: 1}}\n" +
         extra;
}

std::string expect_error(const std::string& file) {
  try {
    load_matrix(file);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << file << ": expected an error";
  return "";
}

int count_finished(const std::string& db) {
  if (!fs::exists(db)) return 0;
  try {
    Database d(db, false);
    Statement s(d, "SELECT count(*) FROM runs WHERE status = 'finished'");
    return s.step() ? static_cast<int>(s.column_int64(0)) : 0;
  } catch (const Error&) {
    return 0;  // not created yet (schema in progress)
  }
}

int count_of(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// A matrix of RTN w3g32, RTN w4g32 and a third method-axis value `third` on stories260K (small_set).
std::string three_rtn_cells(const std::string& name, const std::string& third) {
  return fmt::format("name: {}\nbase: {}\n", name, base_config()) + small_set() +
         "axes:\n"
         "  method:\n"
         "    - {name: rtn3, set: {quant.method: RTN, quant.special: {}, quant.weight.bit: 3}}\n"
         "    - {name: rtn4, set: {quant.method: RTN, quant.special: {}, quant.weight.bit: 4}}\n"
         "    - " + third + "\n";
}

// The pretrain (fp) metrics of every cell of a matrix file in a store, in cell order, and whether the cell's run
// evaluated them itself (an eval_pretrain timing) or took them from a cache.
struct FpOfCells {
  std::vector<std::vector<MetricValue>> metrics;
  std::vector<bool> evaluated;
};
FpOfCells fp_of_cells(const std::string& file, const std::string& db) {
  FpOfCells out;
  Store store(db);
  for (const auto& c : load_matrix(file).cells) {
    const auto rec = store.run(c.run_key);
    EXPECT_TRUE(rec.has_value()) << c.label;
    out.metrics.emplace_back();
    bool t = false;
    if (rec) {
      for (const auto& mv : rec->metrics)
        if (mv.pos == "pretrain") out.metrics.back().push_back(mv);
      for (const auto& tv : rec->timings) t = t || tv.stage == "eval_pretrain";
    }
    out.evaluated.push_back(t);
  }
  return out;
}

TEST(MatrixTest, ExpandsTheProductWithExclusionsAndStableKeys) {
  test::TempDir dir;
  const std::string file = dir.file("m.yaml");
  test::write_file(file, acceptance_matrix("expand"));
  const Matrix a = load_matrix(file), b = load_matrix(file);
  ASSERT_EQ(a.cells.size(), 12u);
  EXPECT_EQ(a.name, "expand");
  EXPECT_EQ((std::vector<std::string>{"method", "bits", "seed"}), a.axes);
  EXPECT_EQ(a.cells.front().label, "method=rtn,bits=w3g32,seed=s0");
  EXPECT_EQ(a.cells[1].label, "method=rtn,bits=w3g32,seed=s1");
  EXPECT_EQ(a.cells.back().label, "method=awq,bits=w4g32,seed=s1");
  std::set<std::string> keys;
  for (size_t i = 0; i < a.cells.size(); ++i) {
    EXPECT_EQ(a.cells[i].run_key, b.cells[i].run_key) << a.cells[i].label;
    EXPECT_EQ(a.cells[i].run_key.size(), 64u);
    keys.insert(a.cells[i].run_key);
  }
  EXPECT_EQ(keys.size(), 12u);
  // The overrides reached the configurations.
  const RunConfig& c = a.cells.back().config;
  EXPECT_EQ(c.method, "awq");
  EXPECT_EQ(c.scheme.weight.bits, 4);
  EXPECT_EQ(c.calib->seed, 1u);
  EXPECT_EQ(c.calib->n_samples, 8);
  EXPECT_EQ(c.calib->bs, -1);
  EXPECT_EQ(c.eval->max_windows, 4);
  EXPECT_EQ(a.cells.front().config.method, "rtn");
  EXPECT_TRUE(a.cells.front().config.special.empty());

  // The same configuration in another matrix has another key; exclusions drop cells.
  test::write_file(file, acceptance_matrix("expand2", "exclude: [{method: rtn, seed: s1}, {method: awq, bits: w3g32}]\n"));
  const Matrix e = load_matrix(file);
  ASSERT_EQ(e.cells.size(), 12u - 2u - 2u);
  EXPECT_NE(e.cells.front().run_key, a.cells.front().run_key);
  for (const auto& cell : e.cells) {
    EXPECT_EQ(cell.label.find("method=rtn,bits=w3g32,seed=s1"), std::string::npos);
    EXPECT_EQ(cell.label.find("method=awq,bits=w3g32"), std::string::npos);
  }
  EXPECT_TRUE(is_matrix_file(file));
  EXPECT_FALSE(is_matrix_file(base_config()));
}

// An axis value's own base replaces the matrix's in its cells: RTN from its data-free LLMC file (no calib section),
// GPTQ from the matrix base; two values of one cell with a base are an error naming both.
TEST(MatrixTest, AxisValueBaseReplacesTheMatrixBase) {
  test::TempDir dir;
  const std::string file = dir.file("m.yaml");
  const std::string rtn = std::string(PTQ_SOURCE_DIR) + "/configs/quantization/methods/RTN/rtn_w_only.yml";
  const std::string head = fmt::format("name: own_base\nbase: {}\nset: {{model.path: \"{}\"}}\naxes:\n",
                                       base_config(), test::data_path("models/stories260K-hf"));
  test::write_file(file, head + fmt::format("  method:\n    - {{name: rtn, base: {}}}\n    - {{name: gptq}}\n"
                                            "  bits:\n    - {{name: w3g32, set: {{quant.weight.bit: 3}}}}\n",
                                            rtn));
  const Matrix m = load_matrix(file);
  ASSERT_EQ(m.cells.size(), 2u);
  EXPECT_EQ(m.cells[0].label, "method=rtn,bits=w3g32");
  EXPECT_EQ(m.cells[0].config.method, "rtn");
  EXPECT_FALSE(m.cells[0].config.calib.has_value());
  EXPECT_EQ(m.cells[0].config.scheme.weight.bits, 3);
  EXPECT_EQ(m.cells[1].config.method, "gptq");
  ASSERT_TRUE(m.cells[1].config.calib.has_value());
  EXPECT_EQ(m.cells[1].config.scheme.weight.bits, 3);

  test::write_file(file, head + fmt::format("  method:\n    - {{name: rtn, base: {}}}\n"
                                            "  bits:\n    - {{name: w3g32, base: {}}}\n",
                                            rtn, rtn));
  std::string msg = expect_error(file);
  EXPECT_NE(msg.find("axes.method[0] and axes.bits[0] both give a base"), std::string::npos) << msg;
  test::write_file(file, head + "  method:\n    - {name: rtn, base: missing.yml}\n");
  msg = expect_error(file);
  EXPECT_NE(msg.find("axes.method[0].base"), std::string::npos) << msg;
  EXPECT_NE(msg.find("missing.yml"), std::string::npos) << msg;
}

// Every shipped matrix expands and validates (from the build directory: relative paths resolve through the folders
// above the files), with the cell counts its comments promise.
TEST(MatrixTest, ShippedExperimentsLoad) {
  const std::map<std::string, size_t> cells = {{"awq_2bit_clip", 21},     {"awq_trans_version", 39},
                                               {"omni_combination", 50},  {"methods_overview", 18},
                                               {"stories260k_rtn_gptq", 16}, {"stories260k_awq", 55},
                                               {"demo", 47},              {"smollm2", 34}};
  std::set<std::string> seen;
  for (const auto& e : fs::directory_iterator(std::string(PTQ_SOURCE_DIR) + "/experiments")) {
    if (e.path().extension() != ".yaml") continue;
    SCOPED_TRACE(e.path().string());
    const Matrix m = load_matrix(e.path().string());
    EXPECT_EQ(m.name, e.path().stem().string());
    EXPECT_FALSE(m.cells.empty());
    if (cells.count(m.name)) {
      EXPECT_EQ(m.cells.size(), cells.at(m.name));
    }
    for (const auto& c : m.cells) {
      if (c.config.step_1) {
        EXPECT_EQ(c.config.step_1->config->scheme, c.config.scheme) << c.label;
      }
    }
    seen.insert(m.name);
  }
  for (const auto& [name, n] : cells) EXPECT_TRUE(seen.count(name)) << name;
}

// The fp baseline is evaluated once per model and protocol within a matrix run: the second cell reuses it (same
// numbers, no eval_pretrain timing); another evaluation setting is evaluated afresh. Calibration likewise.
TEST(MatrixTest, FpBaselineAndCalibrationOncePerSetting) {
  test::TempDir dir;
  const std::string file = dir.file("m.yaml"), db = dir.file("ptq.db");
  test::write_file(file, three_rtn_cells("fp_once", "{name: rtn4_w5, set: {quant.method: RTN, quant.special: {}, "
                                                       "eval.max_windows: 5}}"));
  const auto r = test::run_ptq(fmt::format("run {} --db {} --threads 1", file, db));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const FpOfCells fp = fp_of_cells(file, db);
  ASSERT_EQ(fp.metrics.size(), 3u);
  ASSERT_FALSE(fp.metrics[0].empty());
  EXPECT_EQ(fp.metrics[1], fp.metrics[0]);
  EXPECT_NE(fp.metrics[2][0].value, fp.metrics[0][0].value);  // 5 windows instead of 4: another protocol, evaluated
  EXPECT_EQ(fp.evaluated, (std::vector<bool>{true, false, true}));
  Store store(db);
  const Matrix m = load_matrix(file);
  // The calibration set (same calib section and model in all three cells) is captured once: the later cells reuse
  // the first cell's samples (same offsets), marked as reused.
  std::vector<nlohmann::json> prov;
  for (const auto& c : m.cells) prov.push_back(store.run(c.run_key)->calibration);
  EXPECT_FALSE(prov[0].contains("reused")) << prov[0].dump();
  for (int i : {1, 2}) {
    EXPECT_TRUE(prov[i].value("reused", false)) << prov[i].dump();
    nlohmann::json a = prov[i];
    a.erase("reused");
    EXPECT_EQ(a, prov[0]);
  }
}

// A later invocation (a resumed matrix, --cells, a shard) takes the fp evaluation from a finished cell of the store
// instead of evaluating the unquantized model again, but only when that run used the same thread count.
TEST(MatrixTest, FpBaselineReusedFromFinishedCellsOfTheStore) {
  test::TempDir dir;
  const std::string file = dir.file("m.yaml"), db = dir.file("ptq.db");
  test::write_file(file, three_rtn_cells("fp_store", "{name: rtn2, set: {quant.method: RTN, quant.special: {}, "
                                                        "quant.weight.bit: 2}}"));
  for (const char* args : {"--cells 0 --threads 1", "--cells 1 --threads 1", "--cells 2 --threads 2"}) {
    const auto r = test::run_ptq(fmt::format("run {} --db {} {}", file, db, args));
    ASSERT_EQ(r.exit_code, 0) << args << r.out << r.err;
  }
  const FpOfCells fp = fp_of_cells(file, db);
  ASSERT_EQ(fp.metrics[0].size(), 6u);        // ppl, ppl_stderr, nll_mean, tokens, windows, seconds of one dataset
  EXPECT_EQ(fp.metrics[1], fp.metrics[0]);    // every metric and its protocol, the first run's seconds included
  EXPECT_EQ(fp.evaluated, (std::vector<bool>{true, false, true}));  // 2 threads: evaluated again
  EXPECT_NEAR(fp.metrics[2][0].value, fp.metrics[0][0].value, 1e-6 * fp.metrics[0][0].value);  // summation order
}

TEST(MatrixTest, BadFilesFailBeforeAnythingRuns) {
  test::TempDir dir;
  const std::string file = dir.file("bad.yaml");
  const std::string good = acceptance_matrix("bad");
  auto with = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    const size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    s.replace(at, from.size(), to);
    test::write_file(file, s);
    return expect_error(file);
  };
  auto has = [](const std::string& msg, const std::string& part) {
    EXPECT_NE(msg.find(part), std::string::npos) << "'" << msg << "' lacks '" << part << "'";
  };
  std::string msg = with("axes:\n", "axis: 1\naxes:\n");
  has(msg, file), has(msg, "axis: unknown key");
  msg = with("  bits:\n    - {name: w3g32, set: {quant.weight.bit: 3}}\n    - {name: w4g32, set: {quant.weight.bit: 4}}\n",
             "  bits: []\n");
  has(msg, file), has(msg, "axes.bits"), has(msg, "empty axis");
  msg = with("  seed:\n    - {name: s0, set: {calib.seed: 0}}\n    - {name: s1, set: {calib.seed: 1}}\n", "  seed: 3\n");
  has(msg, file), has(msg, "axes.seed"), has(msg, "must be a list");
  // A wrong type in the last cell's value is found while expanding, naming the key path.
  msg = with("{calib.seed: 1}", "{calib.seed: one}");
  has(msg, file), has(msg, "calib.seed"), has(msg, "seed=s1");
  msg = with("name: s1", "name: s0");
  has(msg, file), has(msg, "duplicate name 's0'");
  msg = with(base_config(), dir.file("missing.yml"));
  has(msg, file), has(msg, "base"), has(msg, "missing.yml");
  msg = with("{calib.seed: 0}", "{calib.sed: 0}");
  has(msg, "calib.sed"), has(msg, "unknown key");
  msg = with("seed:\n", "seed:\n    - {name: s9, sett: {}}\n");
  has(msg, "axes.seed[0].sett: unknown key");

  // Through the binary: exit 2, nothing run, no store written.
  with("{calib.seed: 1}", "{calib.seed: one}");
  const std::string db = dir.file("out/ptq.db");
  const auto r = test::run_ptq(fmt::format("run {} --db {}", file, db));
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("calib.seed"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(db));
}

TEST(MatrixTest, DryRunAndOnly) {
  test::TempDir dir;
  const std::string file = dir.file("m.yaml"), db = dir.file("ptq.db");
  test::write_file(file, acceptance_matrix("dry"));
  auto r = test::run_ptq(fmt::format("run {} --db {} --dry-run --json", file, db));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(count_of(r.out, " pending"), 12) << r.out;
  const Matrix m = load_matrix(file);
  EXPECT_NE(r.out.find(m.cells[5].run_key), std::string::npos);
  EXPECT_EQ(Store(db).runs().size(), 0u);
  r = test::run_ptq(fmt::format("run {} --db {} --dry-run --only method=gptq,bits=w4g32", file, db));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(count_of(r.out, " pending"), 2) << r.out;
  EXPECT_EQ(count_of(r.out, "no estimate"), 2) << r.out;  // an empty store has nothing to estimate from

  // After the GPTQ w4g32 seed-0 cell ran: its seed-1 twin is estimated from it exactly (same settings, another
  // seed), with its time and measured peak memory; GPTQ w3g32 from the same method and model (scaled); RTN/AWQ not.
  r = test::run_ptq(fmt::format("run {} --db {} --only method=gptq,bits=w4g32,seed=s0 --threads 1", file, db));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto done = Store(db).runs();
  ASSERT_EQ(done.size(), 1u);
  double seconds = 0;
  int64_t peak = 0;
  for (const auto& t : done[0].timings)
    if (t.stage == "total") seconds = t.seconds, peak = t.peak_bytes.value_or(0);
  EXPECT_GT(peak, 50LL << 20);  // the process holds LibTorch: tens of MB at least
  r = test::run_ptq(fmt::format("run {} --db {} --dry-run --json --only method=gptq", file, db));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::string out = r.out;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  const nlohmann::json j = nlohmann::json::parse(out.substr(out.rfind('\n') + 1));  // --json: the last line
  int exact = 0, scaled = 0;
  for (const auto& c : j["cells"]) {
    if (c["status"] == "finished") continue;
    ASSERT_TRUE(c.contains("estimate")) << c.dump();
    EXPECT_EQ(c["estimate"]["peak_bytes"].get<int64_t>(), peak);
    if (c["estimate"]["scaled"].get<bool>()) {
      ++scaled;
    } else {
      ++exact;
      EXPECT_DOUBLE_EQ(c["estimate"]["seconds"].get<double>(), seconds);
    }
  }
  EXPECT_EQ(exact, 1);
  EXPECT_EQ(scaled, 2);
  EXPECT_EQ(j["estimate"]["pending"], 3);
  EXPECT_EQ(j["estimate"]["estimated"], 3);
}

// A finished matrix as text (`ptq dump`, the form results/smollm2/ commits): `ptq import` of it gives a store with
// the same runs and run keys, so the table is the same and `ptq run` resumes with nothing left to do.
TEST(MatrixTest, DumpAndImportRestoreTheStore) {
  test::TempDir dir;
  const std::string file = dir.file("m.yaml"), db = dir.file("a.db"), db2 = dir.file("b.db");
  const std::string dump = dir.file("out/m.jsonl"), dump2 = dir.file("m2.jsonl");
  test::write_file(file, fmt::format("name: dumped\nbase: {}\n", base_config()) + small_set() +
                             "axes:\n"
                             "  method:\n"
                             "    - {name: rtn, set: {quant.method: RTN, quant.special: {}}}\n"
                             "  bits:\n"
                             "    - {name: w3g32, set: {quant.weight.bit: 3}}\n"
                             "    - {name: w4g32, set: {quant.weight.bit: 4}}\n");
  auto r = test::run_ptq(fmt::format("run {} --db {} --threads 1", file, db));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  r = test::run_ptq(fmt::format("dump --db {} --matrix dumped --out {} --json", db, dump));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("\"runs\":2"), std::string::npos) << r.out;
  r = test::run_ptq(fmt::format("import {} --db {}", dump, db2));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("2 runs restored"), std::string::npos) << r.out;
  EXPECT_EQ(Store(db2).runs("dumped"), Store(db).runs("dumped"));
  r = test::run_ptq(fmt::format("dump --db {} --matrix dumped --out {}", db2, dump2));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(test::read_file(dump2), test::read_file(dump));
  const auto t1 = test::run_ptq(fmt::format("table --db {} --matrix dumped", db));
  const auto t2 = test::run_ptq(fmt::format("table --db {} --matrix dumped", db2));
  ASSERT_EQ(t1.exit_code, 0) << t1.out << t1.err;
  EXPECT_EQ(t2.out, t1.out);
  r = test::run_ptq(fmt::format("run {} --db {} --dry-run", file, db2));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("2 cells, 2 already finished"), std::string::npos) << r.out;
  r = test::run_ptq(fmt::format("import {} --db {}", dump, db2));  // again: nothing new
  EXPECT_NE(r.out.find("0 runs restored from " + dump + ", 2 already finished"), std::string::npos) << r.out;
  // Bad input: exit 2, naming what is wrong.
  r = test::run_ptq(fmt::format("dump --db {} --matrix nosuch --out {}", db, dump2));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no runs of matrix 'nosuch'"), std::string::npos) << r.err;
  r = test::run_ptq(fmt::format("dump --db {} --out {}", dir.file("missing.db"), dump2));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no such results store"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir.file("missing.db")));
}

// THE ACCEPTANCE TEST: SIGKILL in the middle of a matrix, rerun, nothing finished is recomputed.
TEST(MatrixTest, ResumesAfterSigkillWithoutRecomputing) {
  test::TempDir dir;
  const std::string file = dir.file("m.yaml"), db = dir.file("store/ptq.db"), log = dir.file("first.log");
  test::write_file(file, acceptance_matrix("resume"));
  const std::string bin = test::ptq_bin();

  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1), ::dup2(fd, 2);
    ::execl(bin.c_str(), bin.c_str(), "run", file.c_str(), "--db", db.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  const auto t0 = std::chrono::steady_clock::now();
  int finished_at_kill = 0;
  bool exited = false;
  while (std::chrono::steady_clock::now() - t0 < std::chrono::minutes(8)) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      exited = true;
      break;
    }
    if ((finished_at_kill = count_finished(db)) >= 3) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_FALSE(exited) << "the matrix ended before the kill:\n" << test::read_file(log);
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));

  std::map<std::string, std::string> before;  // run_key -> finished_at
  {
    Store store(db);
    for (const auto& r : store.runs("resume"))
      if (r.status == RunStatus::kFinished) before[r.run_key] = r.finished_at;
  }
  ASSERT_GE(before.size(), 3u);
  ASSERT_LT(before.size(), 12u);
  std::printf("killed after %zu finished runs (%.1f s)\n", before.size(),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());

  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // a recomputed run would get a later timestamp
  const auto r = test::run_ptq(fmt::format("run {} --db {}", file, db));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(count_of(r.out, "(skipped)"), static_cast<int>(before.size())) << r.out;
  EXPECT_EQ(count_of(r.out, "(done)"), 12 - static_cast<int>(before.size())) << r.out;
  EXPECT_NE(r.out.find("[12/12]"), std::string::npos) << r.out;

  Store store(db);
  std::string details;
  EXPECT_TRUE(store.integrity_ok(&details)) << details;
  const auto runs = store.runs();
  ASSERT_EQ(runs.size(), 12u);
  std::set<std::string> keys;
  for (const auto& run : runs) {
    keys.insert(run.run_key);
    EXPECT_EQ(run.status, RunStatus::kFinished) << run.run_key;
    EXPECT_EQ(run.matrix, "resume");
    EXPECT_FALSE(run.started_at.empty());
    EXPECT_FALSE(run.finished_at.empty());
    EXPECT_LE(run.started_at, run.finished_at);
    if (before.count(run.run_key)) {
      EXPECT_EQ(run.finished_at, before[run.run_key]) << "recomputed " << run.run_key;
    }
  }
  EXPECT_EQ(keys.size(), 12u);
  const auto ppl = store.metrics("resume", "ppl");
  EXPECT_GE(ppl.size(), 24u);  // pretrain and fake_quant for every run
  std::printf("%zu runs finished before the kill were skipped, %zu computed by the rerun\n", before.size(),
              12 - before.size());

  // Everything finished: a third run does nothing.
  const auto again = test::run_ptq(fmt::format("run {} --db {} --json", file, db));
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_EQ(count_of(again.out, "(skipped)"), 12);

  // ptq table: methods x bit settings, mean ± std over the 2 seeds; the same store prints the same bytes.
  const auto t1 = test::run_ptq(fmt::format("table --db {} --matrix resume", db));
  const auto t2 = test::run_ptq(fmt::format("table --db {} --matrix resume", db));
  ASSERT_EQ(t1.exit_code, 0) << t1.out << t1.err;
  EXPECT_EQ(t1.out, t2.out);
  // The fp row (pretrain perplexity of the same runs) comes first, then one row per method (src/report/table.h).
  EXPECT_EQ(t1.out.rfind("| method | w3g32 | w4g32 |\n|---|---|---|\n| fp | ", 0), 0u) << t1.out;
  EXPECT_NE(t1.out.find(" (n=6) |\n| rtn | "), std::string::npos) << t1.out;
  EXPECT_EQ(count_of(t1.out, "(n=2)"), 6) << t1.out;
  const auto csv = test::run_ptq(fmt::format("table --db {} --matrix resume --format csv", db));
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  EXPECT_EQ(count_of(csv.out, "\n"), 1 + 2 + 6) << csv.out;  // header, fp per column, cells
  EXPECT_EQ(csv.out.rfind("method,bits,dataset,n,ppl_mean,ppl_std\nfp,w3g32,tinystories,6,", 0), 0u) << csv.out;
  EXPECT_NE(csv.out.find("\nrtn,w3g32,tinystories,2,"), std::string::npos) << csv.out;
  const auto tex = test::run_ptq(fmt::format("table --db {} --matrix resume --format latex", db));
  ASSERT_EQ(tex.exit_code, 0) << tex.err;
  EXPECT_NE(tex.out.find("\\begin{tabular}{lrr}"), std::string::npos) << tex.out;
  EXPECT_EQ(test::run_ptq(fmt::format("table --db {} --matrix nope", db)).exit_code, 2);
}

// A problem only reading the data finds (a malformed line in a calibration jsonl; missing files are caught before the
// matrix starts, experiment/input_check.h): that cell fails, is recorded, and the others run.
TEST(MatrixTest, FailedCellIsRecordedAndOthersFinish) {
  test::TempDir dir;
  const std::string file = dir.file("m.yaml"), db = dir.file("ptq.db");
  test::write_file(dir.file("broken.jsonl"), "{\"text\": \"Once upon a time.\"}\nnot json\n");
  test::write_file(file, fmt::format("name: failing\nbase: {}\n", base_config()) + small_set() +
                             "axes:\n"
                             "  calib:\n"
                             "    - {name: ok,  set: {}}\n"
                             "    - {name: bad, set: {calib.name: jsonl, calib.path: " + dir.file("broken.jsonl") +
                             "}}\n"
                             "    - {name: ok2, set: {calib.seed: 7}}\n");
  const auto r = test::run_ptq(fmt::format("run {} --db {} --json", file, db));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("calib=bad: ppl - (FAILED: "), std::string::npos) << r.out;
  EXPECT_EQ(count_of(r.out, "(done)"), 2) << r.out;
  Store store(db);
  const Matrix m = load_matrix(file);
  ASSERT_EQ(m.cells.size(), 3u);
  EXPECT_EQ(store.status(m.cells[0].run_key), RunStatus::kFinished);
  EXPECT_EQ(store.status(m.cells[2].run_key), RunStatus::kFinished);
  const auto bad = store.run(m.cells[1].run_key);
  ASSERT_TRUE(bad.has_value());
  EXPECT_EQ(bad->status, RunStatus::kFailed);
  EXPECT_NE(bad->error.find("broken.jsonl: line 2 is not valid JSON"), std::string::npos) << bad->error;
  EXPECT_FALSE(bad->finished_at.empty());
  EXPECT_TRUE(store.integrity_ok());

  // A rerun retries only the failed cell (and fails it again).
  const auto again = test::run_ptq(fmt::format("run {} --db {}", file, db));
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_EQ(count_of(again.out, "(skipped)"), 2) << again.out;
  EXPECT_EQ(store.runs().size(), 3u);
}

}  // namespace
}  // namespace ptq
