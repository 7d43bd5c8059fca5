// The performance tooling through the real binary: `ptq random-model` (random Llama checkpoints for benchmarks and
// the peak-memory measurement of scripts/perf_report.sh) and `ptq bench-import` (Google Benchmark JSON output of a
// real tests/bench program, bench_pack, into the results store).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "model/checkpoint.h"
#include "model/hf_checkpoint.h"
#include "model/safetensors.h"
#include "store/bench_import.h"
#include "store/store.h"
#include "support/test_data.h"

namespace ptq {
namespace {

namespace fs = std::filesystem;
using test::run_ptq;
using test::TempDir;

const char* kSmall = "--hidden 128 --intermediate 256 --layers 2 --heads 4 --kv-heads 2 --vocab 512";

TEST(RandomModel, WritesALoadableCheckpointOfTheShape) {
  TempDir dir;
  const std::string out = dir.file("m");
  const auto r = run_ptq(fmt::format("random-model --out {} {} --dtype float16 --seed 3 --json --tokenizer {}", out,
                                     kSmall, test::data_path("models/stories260K-hf/tokenizer.model")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = test::last_json_line(r.out);
  // 512·128 embedding + lm_head, per layer q 128², k/v 64·128, o 128², gate/up/down 3·256·128, 2 norms; final norm.
  const int64_t per_layer = 2 * 128 * 128 + 2 * 64 * 128 + 3 * 256 * 128 + 2 * 128;
  const int64_t params = 2 * 512 * 128 + 2 * per_layer + 128;
  EXPECT_EQ(j["parameters"].get<int64_t>(), params);
  EXPECT_EQ(j["bytes"].get<int64_t>(), 2 * params);
  EXPECT_EQ(j["config"]["num_key_value_heads"].get<int>(), 2);
  EXPECT_TRUE(fs::exists(out + "/tokenizer.model"));
  // The files transformers reads beside config.json (model/hf_side_files.h).
  const auto tc = nlohmann::json::parse(test::read_file(out + "/tokenizer_config.json"));
  EXPECT_EQ(tc["model_max_length"], j["config"]["max_position_embeddings"]);
  EXPECT_TRUE(nlohmann::json::parse(test::read_file(out + "/generation_config.json")).is_object());

  const auto ckp = HfCheckpoint::open(out);
  const HfCheckpoint& ck = *ckp;
  EXPECT_EQ(ck.config().num_layers, 2);
  EXPECT_EQ(ck.config().dtype, at::kHalf);
  const auto names = ck.names();
  const auto expected = hf_tensor_names(ck.config());
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()), std::set<std::string>(expected.begin(), expected.end()));
  // GPT-2 style: N(0, 0.02), residual outputs 0.02 / sqrt(2 * layers) = 0.01; norms 1.
  const at::Tensor q = ck.load("model.layers.0.self_attn.q_proj.weight").to(at::kFloat);
  const at::Tensor o = ck.load("model.layers.1.self_attn.o_proj.weight").to(at::kFloat);
  EXPECT_NEAR(q.std().item<double>(), 0.02, 0.001);
  EXPECT_NEAR(o.std().item<double>(), 0.01, 0.0005);
  EXPECT_TRUE(at::equal(ck.load("model.norm.weight"), at::ones({128}, at::kHalf)));

  // A random model is close to uniform over its vocabulary: ppl near 512 (logits have std ~0.3 at init).
  const auto e = run_ptq(fmt::format("eval --model {} --dataset tinystories --seq-len 64 --max-windows 4 --json", out));
  ASSERT_EQ(e.exit_code, 0) << e.err;
  const double ppl = test::last_json_line(e.out)["ppl"].get<double>();
  EXPECT_GT(ppl, 512 * 0.8);
  EXPECT_LT(ppl, 512 * 1.25);

  // Same seed: byte-identical weights; another seed: different ones.
  ASSERT_EQ(run_ptq(fmt::format("random-model --out {} {} --dtype float16 --seed 3", dir.file("m2"), kSmall)).exit_code,
            0);
  ASSERT_EQ(run_ptq(fmt::format("random-model --out {} {} --dtype float16 --seed 4", dir.file("m3"), kSmall)).exit_code,
            0);
  EXPECT_EQ(test::read_file(out + "/model.safetensors"), test::read_file(dir.file("m2") + "/model.safetensors"));
  EXPECT_NE(test::read_file(out + "/model.safetensors"), test::read_file(dir.file("m3") + "/model.safetensors"));
}

TEST(RandomModel, NamedShapesAndBadArguments) {
  TempDir dir;
  // A named shape with its layer count overridden: llama2-7b's width, 1 layer, vocab cut to keep the file small.
  const auto r = run_ptq(fmt::format("random-model --out {} --shape llama2-7b --layers 1 --vocab 256 --json",
                                     dir.file("seven")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto c = test::last_json_line(r.out)["config"];
  EXPECT_EQ(c["hidden_size"].get<int>(), 4096);
  EXPECT_EQ(c["intermediate_size"].get<int>(), 11008);
  EXPECT_EQ(c["num_attention_heads"].get<int>(), 32);
  EXPECT_EQ(c["num_hidden_layers"].get<int>(), 1);

  struct Bad {
    std::string args, needle;
  };
  const std::vector<Bad> bad = {
      {"--shape llama2-70b", "unknown model shape 'llama2-70b' (known: llama2-7b, llama2-13b, llama3-8b)"},
      {"--hidden 128 --intermediate 256 --layers 2 --heads 3 --vocab 512", "--hidden 128 is not a multiple of --heads 3"},
      {"--hidden 128 --intermediate 256 --heads 4 --vocab 512", "--layers is required without --shape"},
      {std::string(kSmall) + " --dtype int8", "--dtype: 'int8' is not one of float32, float16, bfloat16"},
      {std::string(kSmall) + " --vocab 100 --tokenizer " + test::data_path("models/stories260K-hf/tokenizer.model"),
       "512 ids do not fit --vocab 100"},
      {"--shape llama2-7b --layers 0", "--layers must be positive"},
  };
  for (const Bad& b : bad) {
    const auto e = run_ptq(fmt::format("random-model --out {} {}", dir.file("bad"), b.args));
    EXPECT_EQ(e.exit_code, 2) << b.args;
    EXPECT_NE(e.err.find(b.needle), std::string::npos) << b.args << "\n" << e.err;
    EXPECT_FALSE(fs::exists(dir.file("bad"))) << b.args;
  }
  // An existing folder is not replaced without --force.
  const auto again = run_ptq(fmt::format("random-model --out {} {}", dir.file("seven"), kSmall));
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_NE(again.err.find("exists (use --force"), std::string::npos) << again.err;
}

TEST(BenchImport, RealBenchmarkOutputIntoTheStore) {
  const char* bench = std::getenv("PTQ_BENCH_PACK");
  if (bench == nullptr) GTEST_SKIP() << "benchmarks not built (PTQ_BUILD_BENCH=OFF)";
  TempDir dir;
  const std::string json = dir.file("pack.json"), db = dir.file("ptq.db");
  const std::string cmd = fmt::format("{} --threads=1 --benchmark_filter='BM_CodesCopy|BM_GptqPack' "
                                      "--benchmark_min_time=0.01 --benchmark_format=json > {}",
                                      bench, json);
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;

  const auto r = run_ptq(fmt::format("bench-import --db {} --label t {} --json", db, json));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(test::last_json_line(r.out)["imported"].get<int>(), 1);
  {
    Store s(db);
    const auto runs = bench_runs(s, "bench_pack");
    ASSERT_EQ(runs.size(), 1u);
    const BenchRun& b = runs[0];
    EXPECT_EQ(b.label, "t");
    EXPECT_EQ(b.threads, 1);
    EXPECT_EQ(b.device.rfind("cpu: ", 0), 0u) << b.device;
    EXPECT_EQ(b.git_sha.size() >= 7, true) << b.git_sha;
    ASSERT_EQ(b.results.size(), 2u);
    std::set<std::string> names;
    for (const BenchResult& x : b.results) {
      names.insert(x.name);
      EXPECT_GT(x.real_time, 0) << x.name;
      EXPECT_EQ(x.time_unit, "ms") << x.name;
      EXPECT_GT(x.iterations, 0) << x.name;
      // 16 MiB of codes per iteration: the stored rate agrees with the stored time.
      const double rate = x.counters.at("bytes_per_second").get<double>();
      EXPECT_NEAR(rate * x.real_time / 1e3, 4096.0 * 4096.0, 0.02 * 4096.0 * 4096.0) << x.name;
    }
    EXPECT_EQ(names, (std::set<std::string>{"BM_CodesCopy/real_time", "BM_GptqPack/real_time"}));
    std::string details;
    EXPECT_TRUE(s.integrity_ok(&details)) << details;
  }
  // The same file again adds nothing.
  const auto again = run_ptq(fmt::format("bench-import --db {} {} --json", db, json));
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(test::last_json_line(again.out)["imported"].get<int>(), 0);
  EXPECT_EQ(test::last_json_line(again.out)["runs"].get<int>(), 1);
  // --list --json: the stored runs with their results, as the report scripts read them.
  const auto listed = run_ptq(fmt::format("bench-import --db {} --list --json", db));
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  const nlohmann::json stored = test::last_json_line(listed.out).at("stored");
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].at("program"), "bench_pack");
  EXPECT_EQ(stored[0].at("label"), "t");
  EXPECT_EQ(stored[0].at("threads"), 1);
  ASSERT_EQ(stored[0].at("results").size(), 2u);
  {
    Store s(db);
    const BenchResult first = bench_runs(s, "bench_pack").at(0).results.at(0);
    EXPECT_EQ(stored[0]["results"][0].at("name"), first.name);
    EXPECT_EQ(stored[0]["results"][0].at("real_time").get<double>(), first.real_time);
    EXPECT_EQ(stored[0]["results"][0].at("counters"), first.counters);
  }

  // Bad files: exit 2, the file named, nothing written (one bad file among good ones imports nothing).
  test::write_file(dir.file("trunc.json"), test::read_file(json).substr(0, 200));
  test::write_file(dir.file("other.json"), R"({"runs": []})");
  const std::string fresh = dir.file("fresh.db");
  for (const auto& [file, needle] : std::vector<std::pair<std::string, std::string>>{
           {dir.file("trunc.json"), "not valid JSON"},
           {dir.file("other.json"), "context: missing (not Google Benchmark JSON output"},
           {dir.file("none.json"), "no such file"}}) {
    const auto e = run_ptq(fmt::format("bench-import --db {} {} {}", fresh, json, file));
    EXPECT_EQ(e.exit_code, 2) << file;
    EXPECT_NE(e.err.find(file), std::string::npos) << e.err;
    EXPECT_NE(e.err.find(needle), std::string::npos) << e.err;
    EXPECT_FALSE(fs::exists(fresh)) << file;
  }
}

}  // namespace
}  // namespace ptq
