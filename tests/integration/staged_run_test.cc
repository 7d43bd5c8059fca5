// The AWQ -> OmniQuant combination as one run (ptq.step_1, src/experiment/staged_run.h), through the ptq binary on
// stories260K with the shipped configs: step 1 runs once into the content-addressed cache and is reused; the
// hand-over is wired by ptq (both flows); bad step-1 settings are errors before anything runs.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "support/test_data.h"

namespace ptq {
namespace {

namespace fs = std::filesystem;

std::string config(const std::string& rel) { return test::config_path(rel); }

using test::last_json_line;

// Small and fast: 8 calibration samples for both steps, 2 epochs, 10 evaluation windows; the shipped relative paths
// replaced by absolute ones.
std::string small_run(const std::string& flow, const std::string& cache) {
  const std::string model = test::data_path("models/stories260K-hf");
  const std::string step1 = config("quantization/combination/awq_comb_omni/" + flow + "/step_1_awq.yml");
  return "run --config " + config("quantization/combination/awq_comb_omni/" + flow + "/awq_omni.yml") +
         " --set model.path=" + model + " --set calib.n_samples=8 --set quant.special.epochs=2" +
         " --set eval.max_windows=10 --set eval.eval_pos=[fake_quant] --set ptq.step_1.config=" + step1 +
         " --set ptq.step_1.cache_dir=" + cache + " --set ptq.step_1.set.model.path=" + model +
         " --set ptq.step_1.set.calib.n_samples=8 --json --threads 1";
}

TEST(StagedRun, WeightOnlyFlowCachesStepOneAndReusesIt) {
  test::TempDir dir;
  const std::string cache = dir.file("cache");
  auto first = test::run_ptq(small_run("w4a16g128", cache));
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const nlohmann::json a = last_json_line(first.out);
  EXPECT_FALSE(a["step_1"]["cached"].get<bool>());
  EXPECT_EQ(a["step_1"]["handover"], "transformed_model");
  const fs::path key_dir = a["step_1"]["path"].get<std::string>();
  EXPECT_TRUE(fs::exists(key_dir / "manifest.json"));
  EXPECT_TRUE(fs::exists(key_dir / "transformed_model" / "config.json"));
  // Only the completed folder is left in the cache (no temporaries).
  int entries = 0;
  for (const auto& e : fs::directory_iterator(cache)) entries += e.is_directory() ? 1 : 0;
  EXPECT_EQ(entries, 1);
  // Step 2 started from AWQ's clip search on the transformed model and trained 2 epochs per block.
  for (const char* b : {"0", "4"}) {
    const auto& n = a["notes"][b]["omniquant"];
    EXPECT_EQ(n["loss"].size(), 2u) << n.dump();
    EXPECT_FALSE(n["clip"].contains("self_attn.q_proj"));
  }
  // The stored configuration is the one written (with its step 1), the model the original.
  EXPECT_EQ(a["config"]["model"]["path"], test::data_path("models/stories260K-hf"));
  EXPECT_EQ(a["config"]["step_1"]["config"]["method"], "awq");
  EXPECT_EQ(a["config"]["step_1"]["config"]["scheme"], a["config"]["scheme"]);  // same_scheme

  auto second = test::run_ptq(small_run("w4a16g128", cache));
  ASSERT_EQ(second.exit_code, 0) << second.err;
  const nlohmann::json b = last_json_line(second.out);
  EXPECT_TRUE(b["step_1"]["cached"].get<bool>());
  EXPECT_EQ(b["step_1"]["key"], a["step_1"]["key"]);
  // Same seed, same artifacts: the same perplexity.
  EXPECT_DOUBLE_EQ(b["evals"][0]["ppl"].get<double>(), a["evals"][0]["ppl"].get<double>());

  // Another step-1 setting is another key (another folder); another step-2 setting reuses the folder.
  auto other = test::run_ptq(small_run("w4a16g128", cache) + " --set ptq.step_1.set.quant.special.trans_version=v2");
  ASSERT_EQ(other.exit_code, 0) << other.err;
  EXPECT_NE(last_json_line(other.out)["step_1"]["key"], a["step_1"]["key"]);
  auto lr = test::run_ptq(small_run("w4a16g128", cache) + " --set quant.special.lwc_lr=0.02");
  ASSERT_EQ(lr.exit_code, 0) << lr.err;
  EXPECT_TRUE(last_json_line(lr.out)["step_1"]["cached"].get<bool>());
}

// Step 1 follows step 2's model and calibration text (same_model, same_calib_data), so `--set model.path=...` on a
// run or matrix moves both steps; false keeps step 1's own. Read from the resolved configuration (--dry-run).
TEST(StagedRun, StepOneFollowsTheModelAndCalibrationText) {
  const std::string cfg = config("quantization/combination/awq_comb_omni/w4a16g128/awq_omni.yml");
  const std::string model = test::data_path("models/stories260K-hf");
  const std::string text = test::data_path("eval/tinystories/tinystories_valid_first1000.txt");
  auto plan = [&](const std::string& extra) {
    auto r = test::run_ptq("run --config " + cfg + " --set model.path=" + model + " --set calib.name=text" +
                           " --set calib.path=" + text + " --set calib.preproc=random_windows" +
                           " --set calib.first_doc=0 --set calib.last_doc=-1" + extra +
                           " --dry-run --json");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return last_json_line(r.out)["config"]["step_1"]["config"];
  };
  const nlohmann::json follows = plan("");
  EXPECT_EQ(follows["model"]["path"], model);
  EXPECT_EQ(follows["calib"]["name"], "text");
  EXPECT_EQ(follows["calib"]["path"], text);
  EXPECT_EQ(follows["calib"]["last_doc"], -1);
  EXPECT_EQ(follows["calib"]["preproc"], "random_windows");  // step_1_awq.yml's txt_general_preproc needs documents
  EXPECT_EQ(follows["calib"]["bs"], -1);  // step 1's own batching (AWQ: one batch) stays
  const nlohmann::json own = plan(" --set ptq.step_1.same_model=false --set ptq.step_1.same_calib_data=false");
  EXPECT_EQ(own["model"]["path"], "../shared/data/models/stories260K-hf");  // as step_1_awq.yml says
  EXPECT_EQ(own["calib"]["name"], "tinystories");
  EXPECT_EQ(own["calib"]["first_doc"], 500);
}

TEST(StagedRun, ScalesClipsFlowWiresBothFiles) {
  test::TempDir dir;
  const std::string cache = dir.file("cache");
  auto r = test::run_ptq(small_run("w8a8", cache) + " --set eval.eval_pos=[pretrain,fake_quant]");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = last_json_line(r.out);
  const fs::path key_dir = j["step_1"]["path"].get<std::string>();
  EXPECT_TRUE(fs::exists(key_dir / "scales" / "scales.safetensors"));
  EXPECT_TRUE(fs::exists(key_dir / "clips" / "clips.safetensors"));
  EXPECT_EQ(j["quant"]["scheme"], "w8a8-asym-aasym");
  for (const char* b : {"0", "4"}) {
    const auto& n = j["notes"][b]["omniquant"];
    EXPECT_TRUE(n.contains("let_scale")) << n.dump();
    EXPECT_EQ(n["loss"].size(), 2u) << n.dump();
    EXPECT_TRUE(n["clip"].contains("mlp.down_proj")) << n.dump();  // LWC from AWQ's clips, q/k without
    EXPECT_FALSE(n["clip"].contains("self_attn.k_proj")) << n.dump();
  }
  ASSERT_EQ(j["evals"].size(), 2u);
  const double fp = j["evals"][0]["ppl"], q = j["evals"][1]["ppl"];
  EXPECT_GT(q, fp);
  EXPECT_LT(q, fp * 1.05);  // w8a8 stays within 5% of fp on the same windows

  // The hand-over owns the paths: a configured scale_path is refused before anything runs.
  auto bad = test::run_ptq(small_run("w8a8", dir.file("cache2")) + " --set quant.special.scale_path=/tmp/x");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("set by the step-1 hand-over"), std::string::npos) << bad.err;
  EXPECT_FALSE(fs::exists(dir.file("cache2")));
}

TEST(StagedRun, BadStepOneSettingsFailBeforeRunning) {
  test::TempDir dir;
  const std::string base = small_run("w4a16g128", dir.file("cache"));
  auto missing = test::run_ptq(base + " --set ptq.step_1.config=" + dir.file("nope.yml"));
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("ptq.step_1.config"), std::string::npos) << missing.err;
  EXPECT_NE(missing.err.find("nope.yml"), std::string::npos) << missing.err;
  auto handover = test::run_ptq(base + " --set ptq.step_1.handover=weights");
  EXPECT_EQ(handover.exit_code, 2);
  EXPECT_NE(handover.err.find("ptq.step_1.handover"), std::string::npos) << handover.err;
  auto unknown = test::run_ptq(base + " --set ptq.step_1.colour=blue");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("colour"), std::string::npos) << unknown.err;
  auto not_awq = test::run_ptq(base + " --set ptq.step_1.config=" + config("quantization/methods/RTN/rtn_w_only.yml"));
  EXPECT_EQ(not_awq.exit_code, 2);
  EXPECT_NE(not_awq.err.find("must be an AWQ run"), std::string::npos) << not_awq.err;
  // An incomplete cache folder (a killed step 1 that left its final name) is never reused.
  auto plan = test::run_ptq(base + " --dry-run");
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  const nlohmann::json p = last_json_line(plan.out);
  EXPECT_FALSE(p["step_1"]["cached"].get<bool>());
  fs::create_directories(p["step_1"]["path"].get<std::string>());
  auto incomplete = test::run_ptq(base);
  EXPECT_NE(incomplete.exit_code, 0);
  EXPECT_NE(incomplete.err.find("incomplete step-1 cache folder"), std::string::npos) << incomplete.err;
}

}  // namespace
}  // namespace ptq
