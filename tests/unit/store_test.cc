// The SQLite results store: round trips, one-transaction atomicity, replace rules, concurrent writers (WAL),
// idempotent merges, dumps restored exactly, migrations, version and file-format refusals, values stored verbatim.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "store/store.h"
#include "store/run_dump.h"
#include "store/schema.h"
#include "support/errors.h"
#include "support/test_data.h"

namespace ptq {
namespace {

RunRecord full_record(const std::string& key, const std::string& matrix = "m1") {
  RunRecord r;
  r.matrix = matrix;
  r.run_key = key;
  r.config = {{"method", "gptq"}, {"scheme", "w4a16g128"}, {"seed", 7}, {"special", {{"damp", 0.01}}}};
  r.status = RunStatus::kFinished;
  r.git_sha = "55aaa9a";
  r.torch_version = "2.5.1";
  r.device = "cuda:0";
  r.started_at = "2025-01-31T12:00:00Z";
  r.finished_at = "2025-01-31T12:34:56Z";
  r.method = "gptq";
  r.scheme = "w4a16g128";
  r.quant = {{"scheme", "w4a16g128"}, {"params", {{"damp", 0.01}}}, {"quant_out", true}};
  r.calibration = {{"dataset", "tinystories"}, {"n", 8}, {"seq_len", 256}, {"seed", 3}};
  r.system = {{"git_commit", "55aaa9a"}, {"threads", 2}};
  r.notes = {{"0", {{"dead_columns", 1}}}};
  r.saved_path = "results/x/fake_quant_model";
  const nlohmann::json protocol = {{"dataset", "wikitext2"}, {"seq_len", 2048}, {"bos", false}};
  r.metrics = {{"ppl", "wikitext2", "fake_quant", 5.4731234567890123, protocol},
               {"ppl_stderr", "wikitext2", "fake_quant", 0.0123, protocol},
               {"ppl", "wikitext2", "pretrain", std::numeric_limits<double>::quiet_NaN(), protocol},
               {"tokens", "wikitext2", "pretrain", std::numeric_limits<double>::infinity(), nullptr}};
  r.layer_errors = {{0, "model.layers.0.self_attn.q_proj", "rel_output_error", 0.011},
                    {0, "model.layers.0.self_attn.q_proj", "rel_weight_error", 0.021},
                    {1, "model.layers.1.mlp.down_proj", "rel_output_error", 1e-300}};
  r.block_errors = {{0, "rel_output_error", 0.02}, {1, "rel_output_error", 0.03}};
  r.timings = {{"load", 0.5, std::nullopt}, {"quantize", 12.25, int64_t{3} << 33}, {"total", 13.0, std::nullopt}};
  r.events = {{1, "model.layers.1.mlp.down_proj", "gptq_cholesky_failed", "rtn", {{"damp", 0.5}, {"retries", 5}}},
              {2, "model.layers.2", "omniquant_diverged", "initial parameters", nullptr}};
  return r;
}

int64_t count(Store& s, const std::string& table) {
  Statement q(s.db(), "SELECT COUNT(*) FROM " + table);  // table names are fixed by the tests, not values
  q.step();
  return q.column_int64(0);
}

TEST(Store, RoundTripsEveryField) {
  test::TempDir dir;
  const RunRecord r = full_record("k1");
  {
    Store s(dir.file("x.db"));
    EXPECT_EQ(s.schema_version(), schema::kCurrentVersion);
    s.record_run(r);
  }
  Store s(dir.file("x.db"));  // reopened: nothing cached
  const auto back = s.run("k1");
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, r);
  EXPECT_TRUE(std::isnan(back->metrics[2].value));
  EXPECT_TRUE(std::isinf(back->metrics[3].value));
  EXPECT_EQ(back->metrics[0].value, 5.4731234567890123);
  EXPECT_EQ(back->timings[1].peak_bytes, int64_t{3} << 33);
  EXPECT_TRUE(s.is_finished("k1"));
  EXPECT_FALSE(s.is_finished("nope"));
  EXPECT_FALSE(s.run("nope").has_value());
  EXPECT_TRUE(s.integrity_ok());
}

TEST(Store, DumpRestoresEveryFieldExactly) {
  test::TempDir dir;
  const RunRecord r = full_record("k1");
  RunRecord running = full_record("k2");
  running.status = RunStatus::kRunning;
  const std::string dump = dir.file("m1.jsonl"), again = dir.file("again.jsonl");
  {
    Store s(dir.file("a.db"));
    s.record_run(r);
    s.mark_running(running);
    s.record_run(full_record("k3", "other"));
    const DumpStats st = write_run_dump(s, "m1", dump);
    EXPECT_EQ(st.runs, 1);
    EXPECT_EQ(st.skipped, 1);  // k2 is still running: not in the dump
  }
  EXPECT_TRUE(is_run_dump_file(dump));
  const std::string text = test::read_file(dump);
  EXPECT_NE(text.find("\"value\":\"nan\""), std::string::npos) << text;  // JSON has no NaN
  EXPECT_NE(text.find("\"value\":\"inf\""), std::string::npos) << text;
  Store b(dir.file("b.db"));
  const RestoreStats st = restore_run_dump(dump, "", b);
  EXPECT_EQ(st.added, 1);
  const auto back = b.run("k1");
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, r);
  EXPECT_EQ(back->metrics[0].value, 5.4731234567890123);
  EXPECT_TRUE(std::isnan(back->metrics[2].value));
  EXPECT_FALSE(b.run("k2").has_value());
  write_run_dump(b, "m1", again);
  EXPECT_EQ(test::read_file(again), text);  // dump -> restore -> dump: the same bytes
  EXPECT_EQ(restore_run_dump(dump, "", b).skipped, 1);  // restoring again adds nothing
  EXPECT_EQ(count(b, "runs"), 1);

  // A damaged file (a line cut short, a key missing) changes nothing and names the file and the line.
  const std::string cut = dir.file("cut.jsonl");
  test::write_file(cut, text + text.substr(0, text.size() / 2) + "\n");
  Store c(dir.file("c.db"));
  std::string e = test::error_of([&] { restore_run_dump(cut, "", c); });
  EXPECT_NE(e.find(cut + ": line 2: not JSON"), std::string::npos) << e;
  nlohmann::json j = nlohmann::json::parse(text);
  j.erase("scheme");
  test::write_file(cut, j.dump() + "\n");
  e = test::error_of([&] { restore_run_dump(cut, "", c); });
  EXPECT_NE(e.find(cut + ": line 1: run: key 'scheme' missing"), std::string::npos) << e;
  EXPECT_EQ(count(c, "runs"), 0);
  e = test::error_of([&] { write_run_dump(c, "nothing", again); });
  EXPECT_NE(e.find("no runs of matrix 'nothing'"), std::string::npos) << e;
}

TEST(Store, RunsAndMetricQueries) {
  test::TempDir dir;
  Store s(dir.file("x.db"));
  s.record_run(full_record("a", "m1"));
  s.record_run(full_record("b", "m2"));
  RunRecord failed = full_record("c", "m1");
  failed.status = RunStatus::kFailed;
  failed.error = "out of memory";
  s.record_run(failed);

  EXPECT_EQ(s.runs().size(), 3u);
  const auto m1 = s.runs("m1");
  ASSERT_EQ(m1.size(), 2u);
  EXPECT_EQ(m1[0].run_key, "a");
  EXPECT_EQ(m1[1], failed);

  // Finished runs only: the failed run's numbers are not table material.
  const auto ppl = s.metrics("m1", "ppl");
  ASSERT_EQ(ppl.size(), 2u);
  EXPECT_EQ(ppl[0].run_key, "a");
  EXPECT_EQ(ppl[0].method, "gptq");
  EXPECT_EQ(ppl[0].scheme, "w4a16g128");
  EXPECT_EQ(ppl[0].config["seed"], 7);
  EXPECT_EQ(ppl[0].dataset, "wikitext2");
  EXPECT_EQ(ppl[0].pos, "fake_quant");
  EXPECT_EQ(ppl[0].value, 5.4731234567890123);
  EXPECT_EQ(ppl[0].protocol["seq_len"], 2048);
  EXPECT_EQ(ppl[1].pos, "pretrain");
  EXPECT_TRUE(std::isnan(ppl[1].value));
  EXPECT_EQ(s.metrics("", "ppl").size(), 4u);
  EXPECT_EQ(s.metrics("m2", "").size(), 4u);
}

TEST(Store, ARecordIsOneTransaction) {
  test::TempDir dir;
  Store s(dir.file("x.db"));
  s.record_run(full_record("good"));
  const int64_t metrics_before = count(s, "metrics");
  const int64_t layers_before = count(s, "layer_errors");

  // The same metric twice: the second insert violates UNIQUE (run_id, name, dataset, pos) after the run row, the
  // first metrics and nothing else have been written.
  RunRecord bad = full_record("bad");
  bad.metrics.push_back(bad.metrics[0]);
  const std::string msg = test::error_of([&] { s.record_run(bad); });
  EXPECT_EQ(msg.find(dir.file("x.db") + ": INSERT INTO metrics"), 0u) << msg;
  EXPECT_NE(msg.find("UNIQUE constraint failed"), std::string::npos) << msg;
  EXPECT_NE(msg.find("(run bad: metric ppl wikitext2 fake_quant)"), std::string::npos) << msg;
  EXPECT_FALSE(s.run("bad").has_value());
  EXPECT_EQ(count(s, "runs"), 1);
  EXPECT_EQ(count(s, "metrics"), metrics_before);
  EXPECT_EQ(count(s, "layer_errors"), layers_before);

  // A failing replacement leaves the old (unfinished) row in place, children included.
  RunRecord running = full_record("r");
  running.status = RunStatus::kFailed;
  s.record_run(running);
  RunRecord bad2 = full_record("r");
  bad2.timings.push_back(bad2.timings[0]);
  EXPECT_THROW(s.record_run(bad2), Error);
  ASSERT_TRUE(s.run("r").has_value());
  EXPECT_EQ(*s.run("r"), running);

  // The connection is usable after the rollback.
  s.record_run(full_record("after"));
  EXPECT_TRUE(s.is_finished("after"));
  EXPECT_TRUE(s.integrity_ok());
}

TEST(Store, ReplaceRules) {
  test::TempDir dir;
  Store s(dir.file("x.db"));
  RunRecord r = full_record("k");
  s.mark_running(r);
  EXPECT_EQ(s.status("k"), RunStatus::kRunning);
  EXPECT_FALSE(s.is_finished("k"));
  EXPECT_EQ(count(s, "metrics"), 0);  // a running row carries no numbers
  EXPECT_TRUE(s.run("k")->finished_at.empty());

  // A killed process left 'running': the rerun marks it again, then fails.
  s.mark_running(r);
  RunRecord failed = r;
  failed.status = RunStatus::kFailed;
  failed.error = "CUDA out of memory";
  failed.metrics.clear();
  s.record_run(failed);
  EXPECT_EQ(s.status("k"), RunStatus::kFailed);
  EXPECT_EQ(s.run("k")->error, "CUDA out of memory");

  // A failed run is replaced by its finished rerun, without leftovers.
  s.record_run(r);
  EXPECT_TRUE(s.is_finished("k"));
  EXPECT_EQ(count(s, "runs"), 1);
  EXPECT_EQ(count(s, "metrics"), static_cast<int64_t>(r.metrics.size()));

  // A finished run is kept unless replacement is asked for.
  RunRecord again = r;
  again.metrics[0].value = 99;
  const std::string msg = test::error_of([&] { s.record_run(again); });
  EXPECT_NE(msg.find("already finished"), std::string::npos) << msg;
  EXPECT_NE(msg.find(dir.file("x.db")), std::string::npos) << msg;
  EXPECT_THROW(s.mark_running(again), Error);
  EXPECT_EQ(s.run("k")->metrics[0].value, r.metrics[0].value);
  s.record_run(again, /*replace_finished=*/true);
  EXPECT_EQ(s.run("k")->metrics[0].value, 99);
  EXPECT_EQ(count(s, "metrics"), static_cast<int64_t>(r.metrics.size()));
  EXPECT_TRUE(s.integrity_ok());
}

TEST(Store, TwoThreadsWriteConcurrently) {
  test::TempDir dir;
  const std::string path = dir.file("x.db");
  constexpr int kRuns = 25;
  std::vector<std::string> errors(2);
  auto writer = [&](int w) {
    try {
      Store s(path);  // each thread its own connection; both may race to create and migrate the file
      for (int i = 0; i < kRuns; ++i) s.record_run(full_record(fmt::format("t{}-{}", w, i)));
    } catch (const std::exception& e) {
      errors[static_cast<size_t>(w)] = e.what();
    }
  };
  std::thread a(writer, 0), b(writer, 1);
  a.join();
  b.join();
  EXPECT_EQ(errors[0], "");
  EXPECT_EQ(errors[1], "");
  Store s(path);
  EXPECT_EQ(count(s, "runs"), 2 * kRuns);
  EXPECT_EQ(count(s, "schema_version"), schema::kCurrentVersion);
  EXPECT_TRUE(s.integrity_ok());
}

TEST(Store, TwoProcessesWriteConcurrently) {
  test::TempDir dir;
  const std::string path = dir.file("x.db");
  Store(path).record_run(full_record("parent"));  // created before the fork: no connection crosses it
  constexpr int kRuns = 25;
  std::vector<pid_t> kids;
  for (int w = 0; w < 2; ++w) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int rc = 0;
      try {
        Store s(path);
        for (int i = 0; i < kRuns; ++i) s.record_run(full_record(fmt::format("p{}-{}", w, i)));
      } catch (...) {
        rc = 1;
      }
      _exit(rc);
    }
    kids.push_back(pid);
  }
  for (pid_t pid : kids) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  }
  Store s(path);
  EXPECT_EQ(count(s, "runs"), 2 * kRuns + 1);
  EXPECT_TRUE(s.integrity_ok());
}

TEST(Store, MergeIsIdempotent) {
  test::TempDir dir;
  {
    Store shard(dir.file("shard.db"));
    shard.record_run(full_record("a"));
    shard.record_run(full_record("b"));
    RunRecord failed = full_record("c");
    failed.status = RunStatus::kFailed;
    failed.error = "boom";
    shard.record_run(failed);
    shard.put_artifact({"sha:1", "clips", "cache/1.safetensors", "abc", 123, "2025-01-31T00:00:00Z"});
  }
  Store main(dir.file("main.db"));
  RunRecord unfinished = full_record("a");
  main.mark_running(unfinished);  // unfinished here, finished in the shard: taken from the shard
  main.record_run(full_record("z"));

  const MergeStats first = main.merge_from(dir.file("shard.db"));
  EXPECT_EQ(first.added, 2);
  EXPECT_EQ(first.replaced, 1);
  EXPECT_EQ(first.skipped, 0);
  const std::vector<std::string> tables = {"runs",    "metrics",   "layer_errors", "block_errors",
                                           "timings", "artifacts", "events"};
  std::vector<int64_t> counts;
  for (const auto& t : tables) counts.push_back(count(main, t));
  EXPECT_EQ(counts[0], 4);
  EXPECT_EQ(*main.run("a"), full_record("a"));
  EXPECT_EQ(main.status("c"), RunStatus::kFailed);

  const MergeStats second = main.merge_from(dir.file("shard.db"));
  EXPECT_EQ(second.added, 0);
  EXPECT_EQ(second.replaced, 0);
  EXPECT_EQ(second.skipped, 3);
  for (size_t i = 0; i < tables.size(); ++i) EXPECT_EQ(count(main, tables[i]), counts[i]) << tables[i];
  EXPECT_EQ(*main.artifact("sha:1"),
            (ArtifactRecord{"sha:1", "clips", "cache/1.safetensors", "abc", 123, "2025-01-31T00:00:00Z"}));
  EXPECT_TRUE(main.integrity_ok());
  EXPECT_THROW(main.merge_from(dir.file("main.db")), Error);
  EXPECT_THROW(main.merge_from(dir.file("missing.db")), Error);
}

TEST(Store, MigratesAVersion1File) {
  test::TempDir dir;
  const std::string path = dir.file("v1.db");
  {
    Database db(path);
    db.exec(std::string(schema::kVersionTable));
    db.exec(std::string(schema::kMigration1));
    Statement(db, "INSERT INTO schema_version (version, applied_at) VALUES (1, '2024-12-01T00:00:00Z')").run();
    Statement ins(db, "INSERT INTO runs (matrix, run_key, config_json, status) VALUES (?, ?, ?, ?)");
    ins.bind(1, "old").bind(2, "v1-run").bind(3, R"({"method":"rtn"})").bind(4, "finished").run();
    Statement(db, "INSERT INTO metrics (run_id, name, dataset, value) VALUES (1, 'ppl', 'wikitext2', 6.5)").run();
  }
  Store s(path);
  EXPECT_EQ(s.schema_version(), schema::kCurrentVersion);
  EXPECT_EQ(count(s, "schema_version"), schema::kCurrentVersion);
  const auto old = s.run("v1-run");
  ASSERT_TRUE(old.has_value());
  EXPECT_EQ(old->config["method"], "rtn");
  EXPECT_EQ(old->method, "");  // the v2 column's default
  ASSERT_EQ(old->metrics.size(), 1u);
  EXPECT_EQ(old->metrics[0].pos, "");
  EXPECT_EQ(old->metrics[0].value, 6.5);
  s.record_run(full_record("new"));  // the v2 columns and tables are there
  EXPECT_EQ(*s.run("new"), full_record("new"));
  EXPECT_TRUE(s.integrity_ok());
}

TEST(Store, RefusesANewerSchema) {
  test::TempDir dir;
  const std::string path = dir.file("x.db");
  {
    Store s(path);
    Statement(s.db(), "INSERT INTO schema_version (version, applied_at) VALUES (?, '2030-01-01T00:00:00Z')")
        .bind(1, schema::kCurrentVersion + 1)
        .run();
  }
  const std::string msg = test::error_of([&] { Store s(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find(fmt::format("schema version {}", schema::kCurrentVersion + 1)), std::string::npos) << msg;
  EXPECT_NE(msg.find("newer"), std::string::npos) << msg;
}

TEST(Store, MalformedFileNamesTheFile) {
  test::TempDir dir;
  const std::string path = dir.file("x.db");
  test::write_file(path, "this is not a database, just some text that is long enough to look like a header\n");
  const std::string msg = test::error_of([&] { Store s(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("not a database"), std::string::npos) << msg;
  EXPECT_EQ(test::read_file(path).substr(0, 7), "this is");  // left as it was

  const std::string missing_dir = dir.file("no/such/dir/x.db");
  const std::string msg2 = test::error_of([&] { Store s(missing_dir); });
  EXPECT_NE(msg2.find(missing_dir), std::string::npos) << msg2;
}

TEST(Store, ValuesAreStoredVerbatim) {
  test::TempDir dir;
  Store s(dir.file("x.db"));
  const std::string evil = "'); DROP TABLE runs; -- \" ` ; \\ %s {} \xe2\x9c\x93 \n\t";
  RunRecord r = full_record(evil, evil);
  r.error = evil;
  r.git_sha = "x' OR '1'='1";
  r.status = RunStatus::kFailed;
  r.config["note"] = evil;
  r.metrics[0].dataset = evil;
  r.layer_errors[0].layer = evil;
  r.timings[0].stage = evil;
  s.record_run(r);
  s.record_run(full_record("x' OR '1'='1"));
  EXPECT_EQ(*s.run(evil), r);
  EXPECT_EQ(s.runs(evil).size(), 1u);
  EXPECT_EQ(count(s, "runs"), 2);
  EXPECT_FALSE(s.is_finished("' OR 1=1 --"));
  EXPECT_TRUE(s.integrity_ok());
}

TEST(Store, IntegrityCheckFindsDuplicatesAndOrphans) {
  test::TempDir dir;
  Store s(dir.file("x.db"));
  s.record_run(full_record("a"));
  std::string details;
  EXPECT_TRUE(s.integrity_ok(&details));
  EXPECT_EQ(details, "");
  // Break the store behind its back: orphan rows (foreign keys off for this connection).
  s.db().exec("PRAGMA foreign_keys=OFF");
  Statement(s.db(), "INSERT INTO timings (run_id, stage, seconds) VALUES (999, 'load', 1.0)").run();
  EXPECT_FALSE(s.integrity_ok(&details));
  EXPECT_NE(details.find("timings"), std::string::npos) << details;
}

TEST(Store, RecordFromRunJson) {
  // The shape `ptq run --config ... --json` prints (src/cli/cmd_run.cc).
  const nlohmann::json j = nlohmann::json::parse(R"({
    "method": "gptq",
    "quant": {"scheme": "w4a16g32", "weight": "int4 sym group32", "act": "none", "params": {"damp": 0.01},
              "quant_out": true},
    "evals": [
      {"pos": "pretrain", "dataset": "tinystories", "ppl": 8.5, "ppl_stderr": 0.1, "nll_mean": 2.14, "tokens": 4096,
       "windows": 16, "seconds": 0.4, "protocol": {"dataset": "tinystories", "seq_len": 256}},
      {"pos": "fake_quant", "dataset": "tinystories", "ppl": null, "ppl_stderr": null, "nll_mean": null,
       "tokens": 4096, "windows": 16, "seconds": 0.5, "protocol": {"dataset": "tinystories", "seq_len": 256}}
    ],
    "timings": {"load": 0.1, "calibration": 0.2, "quantize": 1.5, "eval_pretrain": 0.4, "total": 3.0},
    "layer_errors": [{"block": 0, "layer": "model.layers.0.self_attn.q_proj", "rel_output_error": 0.01,
                      "rel_weight_error": 0.02},
                     {"block": 1, "layer": "model.layers.1.mlp.up_proj", "rel_output_error": 0.03,
                      "rel_weight_error": 0.04}],
    "block_errors": [0.05, 0.06],
    "calibration": {"dataset": "tinystories", "n_samples": 8, "seed": 0},
    "notes": {},
    "config": {"method": "gptq", "device": "cpu", "seed": 0},
    "saved": "",
    "system": {"git_commit": "abc1234", "torch_version": "2.5.1", "threads": 2}
  })");
  const RunRecord r = run_record_from_json(j, "mx", "key1");
  EXPECT_EQ(r.matrix, "mx");
  EXPECT_EQ(r.run_key, "key1");
  EXPECT_EQ(r.status, RunStatus::kFinished);
  EXPECT_EQ(r.method, "gptq");
  EXPECT_EQ(r.scheme, "w4a16g32");
  EXPECT_EQ(r.quant, j["quant"]);
  EXPECT_EQ(r.config, j["config"]);
  EXPECT_EQ(r.calibration, j["calibration"]);
  EXPECT_EQ(r.system, j["system"]);
  EXPECT_EQ(r.git_sha, "abc1234");
  EXPECT_EQ(r.torch_version, "2.5.1");
  EXPECT_EQ(r.device, "cpu");
  EXPECT_EQ(r.saved_path, "");
  EXPECT_EQ(r.metrics.size(), 12u);
  EXPECT_EQ(r.metrics[0], (MetricValue{"ppl", "tinystories", "pretrain", 8.5, j["evals"][0]["protocol"]}));
  EXPECT_EQ(r.metrics[6].name, "ppl");
  EXPECT_EQ(r.metrics[6].pos, "fake_quant");
  EXPECT_TRUE(std::isnan(r.metrics[6].value));
  ASSERT_EQ(r.layer_errors.size(), 4u);
  EXPECT_EQ(r.layer_errors[3], (LayerErrorValue{1, "model.layers.1.mlp.up_proj", "rel_weight_error", 0.04}));
  ASSERT_EQ(r.block_errors.size(), 2u);
  EXPECT_EQ(r.block_errors[1], (BlockErrorValue{1, "rel_output_error", 0.06}));
  ASSERT_EQ(r.timings.size(), 5u);
  EXPECT_EQ(r.finished_at.size(), 20u);  // 2025-01-31T12:34:56Z
  EXPECT_EQ(r.finished_at.back(), 'Z');
  EXPECT_LE(r.started_at, r.finished_at);

  test::TempDir dir;
  Store s(dir.file("x.db"));
  s.record_run(r);
  EXPECT_EQ(*s.run("key1"), r);
  EXPECT_EQ(s.metrics("mx", "ppl").size(), 2u);
}

}  // namespace
}  // namespace ptq
