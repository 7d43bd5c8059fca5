// `ptq train` end to end on the real Debian corpus (installed by scripts/setup.sh): the tiny preset is trained once
// for the suite (about 2 minutes on 2 cores), then evaluated, quantized (RTN w2, AWQ w4 with an AutoAWQ export that
// must verify), retrained from the cache, and checked for determinism and bad input.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <sstream>
#include <unordered_set>

#include "model/tokenizer.h"
#include "support/test_data.h"

namespace fs = std::filesystem;

namespace ptq {
namespace {

using test::last_json_line;

class Train : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::make_unique<test::TempDir>();
    auto r = test::run_ptq(train_args("tiny", model_dir()) + " --json");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    card_ = new nlohmann::json(last_json_line(r.out));
  }
  static void TearDownTestSuite() {
    delete card_;
    card_ = nullptr;
    dir_.reset();
  }
  static std::string model_dir() { return dir_->file("tiny"); }
  static std::string corpus_dir() { return dir_->file("corpus"); }
  static std::string train_args(const std::string& preset, const std::string& out) {
    return "train --preset " + preset + " --out " + out + " --corpus-dir " + corpus_dir() + " --threads 1";
  }
  // A run on the tiny model: calibration and evaluation on its own splits, 128-token windows.
  static std::string run_args(const std::string& config, const std::string& extra) {
    const std::string m = model_dir();
    return "run --config " + test::config_path(config) + " --set model.path=" + m +
           " --set calib.name=text --set calib.path=" + m + "/data/calib.txt --set calib.preproc=random_windows" +
           " --set calib.n_samples=16 --set calib.seq_len=128 --set calib.first_doc=0 --set calib.last_doc=-1" +
           " --set eval.name=text --set eval.path=" + m + "/data/valid.txt --set eval.seq_len=128" +
           " --set eval.max_windows=40 --set eval.first_doc=0 --set eval.last_doc=-1 --json --threads 1 " + extra;
  }
  static std::unique_ptr<test::TempDir> dir_;
  static nlohmann::json* card_;
};
std::unique_ptr<test::TempDir> Train::dir_;
nlohmann::json* Train::card_ = nullptr;

TEST_F(Train, TinyModelIsAnHfCheckpointThatLearned) {
  ASSERT_NE(card_, nullptr);
  const nlohmann::json& c = *card_;
  EXPECT_FALSE(c["cached"].get<bool>());
  // hidden 256, intermediate 512, 2 layers, 4 heads of 64 over 2 KV heads, vocab 2048, tied embeddings:
  // 2048*256 + 2 * (2*256*256 + 2*256*128 + 3*256*512 + 2*256) + 256.
  EXPECT_EQ(c["parameters"], 1705216);
  const auto cfg = nlohmann::json::parse(test::read_file(model_dir() + "/config.json"));
  EXPECT_EQ(cfg["hidden_size"], 256);
  EXPECT_EQ(cfg["intermediate_size"], 512);
  EXPECT_EQ(cfg["num_key_value_heads"], 2);
  EXPECT_EQ(cfg["tie_word_embeddings"], true);
  // Training lowered the loss by more than 2 nats and beat a unigram model of the same split by a factor > 3.
  const auto& curve = c["loss_curve"];
  ASSERT_GE(curve.size(), 50u);
  EXPECT_GT(curve.front()["loss"].get<double>() - curve.back()["loss"].get<double>(), 2.0);
  const double ppl = c["heldout"]["ppl"], unigram = c["heldout"]["unigram_ppl"];
  EXPECT_LT(ppl * 3.0, unigram) << ppl << " vs unigram " << unigram;
  std::printf("[ info     ] tiny: held-out ppl %.3f, unigram %.1f, %lld tokens, train %.0f s (%.0f tok/s), total %.0f s\n",
              ppl, unigram, static_cast<long long>(c["heldout"]["tokens"].get<int64_t>()),
              c["seconds"]["train"].get<double>(), c["train_tokens_per_second"].get<double>(),
              c["seconds"]["total"].get<double>());
  // The recipe names every source with its package version, and the corpus hash is recorded.
  const auto& recipe = c["corpus"];
  EXPECT_EQ(recipe["sha256"].get<std::string>().size(), 64u);
  ASSERT_EQ(recipe["sources"].size(), 5u);
  EXPECT_EQ(recipe["sources"][0]["name"], "kjv");
  EXPECT_EQ(recipe["sources"][0]["documents_kept"], 1189);  // chapters of the King James Bible
  for (const auto& s : recipe["sources"]) {
    EXPECT_GT(s["bytes"].get<int64_t>(), 500000) << s.dump();
    for (const auto& [pkg, version] : s["packages"].items()) EXPECT_NE(version, "unknown") << pkg;
  }
}

TEST_F(Train, SplitsAreDisjointAndClean) {
  std::unordered_set<std::string> train;
  std::istringstream in(test::read_file(corpus_dir() + "/train.txt"));
  for (std::string line; std::getline(in, line);) {
    EXPECT_EQ(line.find("<p>"), std::string::npos) << line.substr(0, 200);
    EXPECT_NE(line.rfind("=head", 0), 0u) << line.substr(0, 200);
    train.insert(line);
  }
  EXPECT_GT(train.size(), 40000u);
  for (const char* split : {"/data/valid.txt", "/data/calib.txt"}) {
    std::istringstream s(test::read_file(model_dir() + split));
    int64_t lines = 0, shared = 0;
    for (std::string line; std::getline(s, line); ++lines) shared += train.count(line);
    EXPECT_GT(lines, 300) << split;
    EXPECT_EQ(shared, 0) << split;  // duplicates are removed before splitting: no held-out text is trained on
  }
}

TEST_F(Train, TokenizerIsByteFallbackBpe) {
  const auto tok = load_tokenizer(model_dir() + "/tokenizer.model");
  EXPECT_EQ(tok->vocab_size(), 2048);
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 2);
  const std::string text = "In the beginning \xd0\xb6 was 42.";  // Cyrillic ж is not in the corpus: byte pieces
  const auto ids = tok->encode(text, false);
  EXPECT_EQ(tok->decode(ids), text);
  EXPECT_LT(ids.size(), text.size());  // merges happened
}

TEST_F(Train, EvalReproducesTheCardsHeldOutPerplexity) {
  const std::string m = model_dir();
  auto r = test::run_ptq("eval --model " + m + " --dataset text --data-path " + m +
                         "/data/valid.txt --seq-len 128 --json --threads 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const double ppl = last_json_line(r.out)["ppl"];
  EXPECT_NEAR(ppl, (*card_)["heldout"]["ppl"].get<double>(), 1e-9 * ppl);
}

TEST_F(Train, SecondRunIsCached) {
  const auto before = fs::last_write_time(model_dir() + "/model.safetensors");
  auto r = test::run_ptq(train_args("tiny", model_dir()) + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = last_json_line(r.out);
  EXPECT_TRUE(j["cached"].get<bool>());
  EXPECT_EQ(j["cache_key"], (*card_)["cache_key"]);
  EXPECT_EQ(fs::last_write_time(model_dir() + "/model.safetensors"), before);
}

TEST_F(Train, QuantizesAndExportsVerified) {
  auto rtn = test::run_ptq(run_args("quantization/methods/RTN/rtn_w_only.yml",
                                    "--set quant.weight.bit=2 --set quant.weight.group_size=64"));
  ASSERT_EQ(rtn.exit_code, 0) << rtn.err;
  const auto r = last_json_line(rtn.out);
  const double fp = r["evals"][0]["ppl"], w2 = r["evals"][1]["ppl"];
  ASSERT_EQ(r["evals"][0]["pos"], "pretrain");
  // The tiny model is lightly trained (its tied embeddings, which stay fp, carry much of it): w2 costs under 1% here,
  // so the margin asserted is 0.3%; the default model shows 10.7% (README, the demo's table).
  EXPECT_LT(fp * 1.003, w2) << "fp " << fp << " RTN w2g64 " << w2;

  const std::string save = dir_->file("awq_export");
  auto awq = test::run_ptq(run_args("quantization/backend/autoawq/awq_w4a16.yml",
                                    "--set calib.bs=-1 --set save.save_fake=True --set save.save_path=" + save));
  ASSERT_EQ(awq.exit_code, 0) << awq.err;
  const auto a = last_json_line(awq.out);
  ASSERT_EQ(a["exports"].size(), 1u);
  const auto& v = a["exports"][0]["verify"];
  EXPECT_TRUE(v["ok"].get<bool>()) << a["exports"].dump(2);
  EXPECT_EQ(v["layers_checked"], 14);  // 2 layers x 7 linears, all exported
  const double w4 = a["evals"][1]["ppl"];
  EXPECT_LT(w4, w2);
  EXPECT_LT(w4, fp * 1.2) << "AWQ w4g128 " << w4 << " vs fp " << fp;
  auto check = test::run_ptq("verify-export " + save + "/autoawq_quant_model --seq-len 128 --max-windows 4 --threads 1");
  EXPECT_EQ(check.exit_code, 0) << check.err;
  std::printf("[ info     ] tiny held-out ppl (40 x 128): fp %.3f, RTN w2g64 %.3f, AWQ w4g128 %.3f (export verified)\n",
              fp, w2, w4);
}

TEST_F(Train, SameSeedSameWeightsOtherSeedOtherWeights) {
  const std::string a = dir_->file("det_a"), b = dir_->file("det_b"), c = dir_->file("det_c");
  for (const auto& [out, seed] : {std::pair{a, 7}, std::pair{b, 7}, std::pair{c, 8}}) {
    auto r = test::run_ptq(train_args("tiny", out) + " --steps 3 --seed " + std::to_string(seed));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  const std::string wa = test::read_file(a + "/model.safetensors");
  EXPECT_EQ(wa, test::read_file(b + "/model.safetensors"));
  EXPECT_EQ(test::read_file(a + "/tokenizer.model"), test::read_file(b + "/tokenizer.model"));
  EXPECT_NE(wa, test::read_file(c + "/model.safetensors"));
  for (const auto& e : fs::directory_iterator(dir_->path()))  // no temporary folder left behind
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();
}

TEST_F(Train, BadInputExitsTwoNamingTheProblem) {
  auto preset = test::run_ptq("train --preset huge --out " + dir_->file("x") + " --corpus-dir " + corpus_dir());
  EXPECT_EQ(preset.exit_code, 2);
  EXPECT_NE(preset.err.find("unknown training preset 'huge' (known: tiny, default)"), std::string::npos) << preset.err;
  ::setenv("PTQ_CORPUS_ROOT", dir_->file("bare_root").c_str(), 1);
  auto missing = test::run_ptq("train --preset tiny --out " + dir_->file("y") + " --corpus-dir " +
                               dir_->file("corpus2") + " --threads 1");
  ::unsetenv("PTQ_CORPUS_ROOT");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("corpus source 'kjv'"), std::string::npos) << missing.err;
  EXPECT_NE(missing.err.find("bible-kjv bible-kjv-text"), std::string::npos) << missing.err;
  EXPECT_FALSE(fs::exists(dir_->file("y")));
}

}  // namespace
}  // namespace ptq
