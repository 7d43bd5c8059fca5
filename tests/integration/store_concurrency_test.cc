// Concurrency of the results store (src/store/store.h: WAL, BEGIN IMMEDIATE, busy_timeout): several processes writing one
// SQLite file at once, as several GPUs or job-array tasks running disjoint matrices into a shared store.
//   1. Four `ptq run` processes, each a different matrix, started together on a store that does not exist yet (so they
//      also race to create it and migrate its schema): every cell finished exactly once, no "database is locked",
//      integrity_check clean; the same four again skip everything.
//   2. Four processes recording 150 runs each (plus mark_running and artifact rows) through Store as fast as they
//      can: no lost row, no busy error, 600 runs afterwards.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <set>
#include <thread>

#include "store/store.h"
#include "store/schema.h"
#include "support/test_data.h"

namespace ptq {
namespace {

using Clock = std::chrono::steady_clock;

std::string base_config() { return std::string(PTQ_SOURCE_DIR) + "/configs/quantization/methods/GPTQ/gptq_w_only.yml"; }

// Matrix k: three cells of its own (RTN bits x eval settings differ per matrix, so no two share a run key).
std::string matrix_text(int k) {
  return fmt::format(
      "name: conc{0}\nbase: {1}\n"
      "set: {{model.path: \"{2}\", calib.n_samples: 4, calib.seq_len: 32, eval.max_windows: {3}, eval.seq_len: 64}}\n"
      "axes:\n  method:\n"
      "    - {{name: rtn3, set: {{quant.method: RTN, quant.special: {{}}, quant.weight.bit: 3}}}}\n"
      "    - {{name: rtn4, set: {{quant.method: RTN, quant.special: {{}}}}}}\n"
      "    - {{name: gptq4, set: {{quant.method: GPTQ}}}}\n",
      k, base_config(), test::data_path("models/stories260K-hf"), 2 + k);
}

struct Child {
  pid_t pid = -1;
  std::string log;
};

Child spawn(const std::vector<std::string>& argv, const std::string& log) {
  Child c;
  c.log = log;
  c.pid = ::fork();
  if (c.pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1), ::dup2(fd, 2);
    std::vector<char*> a;
    for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    ::execv(a[0], a.data());
    ::_exit(127);
  }
  return c;
}

int wait_exit(const Child& c) {
  int status = 0;
  ::waitpid(c.pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(StoreConcurrency, FourMatricesIntoOneStore) {
  test::TempDir dir;
  const std::string db = dir.file("shared/ptq.db");
  std::vector<std::string> files;
  for (int k = 0; k < 4; ++k) {
    files.push_back(dir.file(fmt::format("m{}.yaml", k)));
    test::write_file(files.back(), matrix_text(k));
  }
  for (int round = 0; round < 2; ++round) {
    const auto t0 = Clock::now();
    std::vector<Child> kids;
    for (int k = 0; k < 4; ++k)
      kids.push_back(spawn({test::ptq_bin(), "run", files[k], "--db", db, "--threads", "1"},
                           dir.file(fmt::format("r{}_{}.log", round, k))));
    for (const auto& c : kids) {
      const int code = wait_exit(c);
      const std::string log = test::read_file(c.log);
      EXPECT_EQ(code, 0) << log;
      EXPECT_EQ(log.find("database is locked"), std::string::npos) << log;
      EXPECT_EQ(log.find("SQLITE_BUSY"), std::string::npos) << log;
      EXPECT_NE(log.find(round == 0 ? "3 done, 0 skipped, 0 failed" : "0 done, 3 skipped, 0 failed"),
                std::string::npos)
          << log;
    }
    std::printf("round %d: 4 concurrent matrices x 3 cells into one store: %.1f s wall\n", round + 1,
                std::chrono::duration<double>(Clock::now() - t0).count());
  }
  Store store(db);
  std::string details;
  EXPECT_TRUE(store.integrity_ok(&details)) << details;
  const auto runs = store.runs();
  ASSERT_EQ(runs.size(), 12u);
  std::set<std::string> keys;
  for (const auto& r : runs) {
    keys.insert(r.run_key);
    EXPECT_EQ(r.status, RunStatus::kFinished) << r.run_key;
    EXPECT_FALSE(r.metrics.empty()) << r.run_key;
  }
  EXPECT_EQ(keys.size(), 12u);
  for (int k = 0; k < 4; ++k) EXPECT_EQ(store.runs(fmt::format("conc{}", k)).size(), 3u) << k;
  EXPECT_EQ(store.schema_version(), schema::kCurrentVersion);
}

RunRecord small_record(const std::string& key, int i) {
  RunRecord r;
  r.matrix = "stress";
  r.run_key = key;
  r.config = {{"i", i}};
  r.method = "rtn";
  r.metrics = {{"ppl", "tinystories", "fake_quant", 10.0 + i, nullptr}};
  r.layer_errors = {{0, "model.layers.0.mlp.up_proj", "rel_output_error", 0.01 * i}};
  r.timings = {{"total", 0.5, std::nullopt}};
  r.events = {{0, "model.layers.0", "omniquant_diverged", "initial parameters", nullptr}};
  return r;
}

TEST(StoreConcurrency, FourWritersRecordEveryRow) {
  test::TempDir dir;
  const std::string db = dir.file("stress.db");
  constexpr int kWriters = 4, kRuns = 150;
  const auto t0 = Clock::now();
  std::vector<pid_t> kids;
  for (int w = 0; w < kWriters; ++w) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int code = 0;
      try {
        Store s(db);  // every writer opens (and may create and migrate) the store itself
        for (int i = 0; i < kRuns; ++i) {
          const std::string key = fmt::format("w{}-{}", w, i);
          RunRecord r = small_record(key, i);
          s.mark_running(r);
          s.record_run(r, false, {ArtifactRecord{"a:" + key, "test", "/nonexistent/" + key, "", 0, utc_now()}});
          (void)s.is_finished(fmt::format("w{}-{}", (w + 1) % kWriters, i));  // readers beside the writers
        }
      } catch (const std::exception& e) {
        std::fprintf(stderr, "writer %d: %s\n", w, e.what());
        code = 1;
      }
      std::fflush(nullptr);
      ::_exit(code);
    }
    kids.push_back(pid);
  }
  for (const pid_t pid : kids) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "a writer failed (see its message above)";
  }
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  Store s(db);
  EXPECT_TRUE(s.integrity_ok());
  const auto runs = s.runs("stress");
  ASSERT_EQ(runs.size(), static_cast<size_t>(kWriters * kRuns));
  for (const auto& r : runs) {
    EXPECT_EQ(r.status, RunStatus::kFinished);
    EXPECT_EQ(r.metrics.size(), 1u);
    EXPECT_EQ(r.events.size(), 1u);
  }
  Statement q(s.db(), "SELECT COUNT(*) FROM artifacts");
  ASSERT_TRUE(q.step());
  EXPECT_EQ(q.column_int64(0), kWriters * kRuns);
  std::printf("%d writers x %d runs (mark_running + record_run with rows and an artifact, one read each): %.2f s, "
              "%.0f transactions/s\n",
              kWriters, kRuns, secs, 2.0 * kWriters * kRuns / secs);
}

}  // namespace
}  // namespace ptq
