// `ptq run --config` end to end on stories260K, and the config parser's errors (file and key path named).
#include <gtest/gtest.h>

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "experiment/run_config.h"
#include "support/test_data.h"

namespace ptq {
namespace {

std::string config(const std::string& rel) { return test::config_path(rel); }

using test::last_json_line;

std::string model_override() { return "--set model.path=" + test::data_path("models/stories260K-hf"); }

TEST(RunConfig, RtnEndToEndWithJson) {
  test::TempDir dir;
  const std::string save = dir.file("out");
  auto r = test::run_ptq("run --config " + config("quantization/methods/RTN/rtn_w_only.yml") + " " + model_override() +
                         " --set eval.max_windows=20 --set save.save_fake=true --set save.save_path=" + save +
                         " --json --threads 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = last_json_line(r.out);
  EXPECT_EQ(j["method"], "rtn");
  EXPECT_EQ(j["quant"]["scheme"], "w4g32");
  ASSERT_EQ(j["evals"].size(), 2u);
  EXPECT_EQ(j["evals"][0]["pos"], "pretrain");
  EXPECT_EQ(j["evals"][1]["pos"], "fake_quant");
  const double fp = j["evals"][0]["ppl"], q = j["evals"][1]["ppl"];
  EXPECT_GT(fp, 1.0);
  EXPECT_GT(q, fp);       // 4-bit RTN costs perplexity on a 260K model
  EXPECT_LT(q, fp * 2);   // ... but stays in the same regime
  EXPECT_EQ(j["evals"][0]["tokens"], 20 * 255);
  // The saved fake-quant checkpoint loads and evaluates to the same perplexity.
  ASSERT_TRUE(std::filesystem::exists(save + "/fake_quant_model/model.safetensors"));
  auto e = test::run_ptq("eval --model " + save + "/fake_quant_model --dataset tinystories --seq-len 256 "
                         "--max-windows 20 --json --threads 1 --tokenizer " +
                         test::data_path("models/stories260K-hf/tokenizer.model"));
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_NEAR(last_json_line(e.out)["ppl"].get<double>(), q, 1e-9 * q);
  // Saving never overwrites.
  auto again = test::run_ptq("run --config " + config("quantization/methods/RTN/rtn_w_only.yml") + " " +
                             model_override() + " --set save.save_fake=true --set save.save_path=" + save);
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_NE(again.err.find("already exists"), std::string::npos) << again.err;
}

TEST(RunConfig, W8A8RunsWithActivationQuantization) {
  auto r = test::run_ptq("run --config " + config("quantization/methods/RTN/rtn_w_a.yml") + " " + model_override() +
                         " --set eval.max_windows=10 --json --threads 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = last_json_line(r.out);
  EXPECT_EQ(j["quant"]["scheme"], "w8a8");
  const double fp = j["evals"][0]["ppl"], q = j["evals"][1]["ppl"];
  EXPECT_NEAR(q, fp, 0.05 * fp);  // 8-bit weights and activations barely move a float model
  EXPECT_NE(q, fp);
}

TEST(RunConfig, GptqEndToEndBeatsRtn) {
  auto run = [](const std::string& method, const std::string& extra) {
    test::TempDir dir;
    auto r = test::run_ptq("run --config " + config("quantization/methods/GPTQ/gptq_w_only.yml") + " " +
                           model_override() + " --set quant.method=" + method +
                           " --set quant.weight.bit=3 --set calib.n_samples=32 --set eval.max_windows=40" +
                           " --set calib.dump_path=" + dir.file("calib.json") + extra + " --json --threads 1");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(std::filesystem::exists(dir.file("calib.json")));
    return last_json_line(r.out);
  };
  nlohmann::json g = run("GPTQ", ""), q = run("RTN", " --set 'quant.special={}'");
  EXPECT_EQ(g["method"], "gptq");
  EXPECT_EQ(g["quant"]["params"]["actorder"], true);
  EXPECT_EQ(g["calibration"]["samples"], 32);
  EXPECT_EQ(g["layer_errors"].size(), 35u);
  EXPECT_EQ(g["evals"][0]["ppl"], q["evals"][0]["ppl"]);  // same fp model, same protocol
  const double fp = g["evals"][0]["ppl"], gptq = g["evals"][1]["ppl"], rtn = q["evals"][1]["ppl"];
  EXPECT_GT(gptq, fp);
  EXPECT_LT(gptq, rtn);  // w3g32 on 40 windows of TinyStories: GPTQ recovers part of RTN's loss
  std::printf("[ info     ] w3g32, 40 windows: fp %.4f, RTN %.4f, GPTQ %.4f\n", fp, rtn, gptq);
}

TEST(RunConfig, AwqPresetsEndToEnd) {
  for (const char* preset : {"awq_w_only_academic.yml", "awq_w_only_llmc.yml"}) {
    test::TempDir dir;
    const std::string save = dir.file("out");
    auto r = test::run_ptq("run --config " + config(std::string("quantization/methods/Awq/") + preset) + " " +
                           model_override() +
                           " --set quant.weight.bit=3 --set calib.n_samples=16 --set eval.max_windows=40 --json "
                           "--threads 1 --set save.save_trans=true --set save.save_fake=true --set save.save_path=" +
                           save);
    ASSERT_EQ(r.exit_code, 0) << preset << ": " << r.err;
    nlohmann::json j = last_json_line(r.out);
    EXPECT_EQ(j["method"], "awq");
    EXPECT_EQ(j["quant"]["quant_out"], false);
    EXPECT_EQ(j["quant"]["params"]["weight_clip"], true);
    const double fp = j["evals"][0]["ppl"], q = j["evals"][1]["ppl"];
    EXPECT_GT(q, fp) << preset;
    EXPECT_LT(q, fp * 2.5) << preset;
    std::printf("[ info     ] %s w3g32, 40 windows: fp %.4f, AWQ %.4f\n", preset, fp, q);
    // save_trans holds the transformed fp model: same function as the original (to float rounding); save_fake the
    // evaluated fake-quant model.
    auto eval = [&](const std::string& model) {
      auto e = test::run_ptq("eval --model " + model + " --dataset tinystories --seq-len 256 --max-windows 40 --json "
                             "--threads 1 --tokenizer " + test::data_path("models/stories260K-hf/tokenizer.model"));
      EXPECT_EQ(e.exit_code, 0) << e.err;
      return last_json_line(e.out)["ppl"].get<double>();
    };
    EXPECT_NEAR(eval(save + "/transformed_model"), fp, 1e-5 * fp) << preset;
    EXPECT_NEAR(eval(save + "/fake_quant_model"), q, 1e-9 * q) << preset;
  }
}

// Every shipped configuration parses and validates (unknown keys would be errors).
TEST(RunConfig, EveryShippedConfigParses) {
  int n = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(std::string(PTQ_SOURCE_DIR) + "/configs")) {
    if (e.path().extension() != ".yml") continue;
    ++n;
    if (e.path().string().find("backend/autoawq") != std::string::npos) {
      // The AutoAWQ backend file asks for the real-quant export (tests/integration/export_test.cc runs it).
      const RunConfig c = load_run_config(e.path().string());
      EXPECT_TRUE(c.save_autoawq);
      EXPECT_EQ(c.pack_version, "gemm_pack");
      EXPECT_FALSE(c.save_path.empty());
      continue;
    }
    EXPECT_NO_THROW(load_run_config(e.path().string())) << e.path();
  }
  EXPECT_GE(n, 8);
}

// Parsing errors name the file and the key path.
void expect_config_error(const std::string& yaml, const std::string& needle) {
  test::TempDir dir;
  const std::string f = dir.file("bad.yml");
  test::write_file(f, yaml);
  try {
    load_run_config(f);
    ADD_FAILURE() << "no error; expected '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUser);
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("bad.yml"), std::string::npos) << e.what();
  }
}

const char* kGood = R"(
model: {path: /m}
quant:
  method: RTN
  weight: {bit: 4, symmetric: False, granularity: per_group, group_size: 128}
)";

TEST(RunConfig, ParsesLlmcKeys) {
  test::TempDir dir;
  test::write_file(dir.file("ok.yml"), kGood);
  RunConfig c = load_run_config(dir.file("ok.yml"), {"quant.weight.bit=3", "ptq.threads=2"});
  EXPECT_EQ(c.method, "rtn");
  EXPECT_EQ(c.scheme.name(), "w3g128");
  EXPECT_EQ(c.threads, 2);
  EXPECT_FALSE(c.calib.has_value());
}

TEST(RunConfig, OverridingAnAliasedKeyChangesOnlyThatKey) {
  test::TempDir dir;
  test::write_file(dir.file("alias.yml"), std::string("base: {seed: &seed 42}\ncalib: {name: tinystories, seed: *seed}\n") +
                                              kGood);
  RunConfig c = load_run_config(dir.file("alias.yml"), {"calib.seed=7"});
  EXPECT_EQ(c.seed, 42);
  EXPECT_EQ(c.calib->seed, 7u);
  RunConfig d = load_run_config(dir.file("alias.yml"), {"base.seed=3"});
  EXPECT_EQ(d.seed, 3);
  EXPECT_EQ(d.calib->seed, 42u);
}

TEST(RunConfig, BadKeysAreNamed) {
  expect_config_error(std::string(kGood) + "quantt: {}\n", "quantt: unknown key");
  expect_config_error(R"(
model: {path: /m}
quant:
  method: RTN
  weight: {bits: 4, symmetric: False, granularity: per_group, group_size: 128}
)",
                      "quant.weight.bits: unknown key");
  expect_config_error(R"(
model: {path: /m}
quant:
  method: RTN
  weight: {bit: 9, symmetric: False, granularity: per_group, group_size: 128}
)",
                      "weight bits must be in 2..8, got 9");
  expect_config_error(R"(
model: {path: /m}
quant:
  method: RTN
  weight: {bit: four, symmetric: False, granularity: per_group, group_size: 128}
)",
                      "quant.weight.bit: cannot read 'four' as an integer");
  expect_config_error(R"(
model: {path: /m}
quant:
  method: SmoothQuant99
  weight: {bit: 4, symmetric: False, granularity: per_channel}
)",
                      "quant.method: unknown method 'SmoothQuant99'");
  expect_config_error(R"(
model: {path: /m}
quant:
  method: RTN
  weight: {bit: 4, symmetric: False, granularity: per_row}
)",
                      "quant.weight.granularity: unknown granularity 'per_row'");
  expect_config_error(R"(
model: {path: /m}
quant:
  method: RTN
  weight: {bit: 4, symmetric: False, granularity: per_group, group_size: 128}
  special: {actorder: True}
)",
                      "unknown parameter 'actorder'");
  expect_config_error(std::string(kGood) + "calib: {name: wikitext2, download: True}\n", "calib.download");
  expect_config_error(std::string(kGood) + "save: {save_vllm: True, save_path: /x}\n",
                      "save.save_vllm: this real-quant export is not supported");
  expect_config_error(std::string(kGood) + "save: {save_autoawq: True}\n", "save.save_path is required");
  expect_config_error(std::string(kGood) + "save: {save_gptq: True, gptq_version: v3, save_path: /x}\n",
                      "save.gptq_version: 'v3' (v1, v2)");
  expect_config_error(R"(
model: {path: /m}
quant:
  method: RTN
  weight: {bit: 4, symmetric: False, granularity: per_group, group_size: 128, pack_version: marlin_pack}
)",
                      "quant.weight.pack_version: 'marlin_pack' is not supported (gemm_pack, gemv_pack)");
  expect_config_error("model: [1, 2\n", "not valid YAML");
  expect_config_error("quant: {method: RTN}\n", "model.path is required");
}

TEST(RunConfig, MissingConfigFileExitsTwo) {
  auto r = test::run_ptq("run --config /nonexistent/x.yml");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("/nonexistent/x.yml: no such configuration file"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace ptq
