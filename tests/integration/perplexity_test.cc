// Evaluation text rules and the perplexity protocol against ../shared/data/fixtures/stories260K_reference.json
// ("evaluation" and "evaluation_bos_variant"), the WikiText-2 GPTQ join file, and `ptq eval` end to end.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>

#include "core/error.h"
#include "core/sha256.h"
#include "data/eval_text.h"
#include "eval/perplexity.h"
#include "model/loaded_model.h"
#include "support/stories260k.h"
#include "support/test_data.h"

namespace ptq {
namespace {

const nlohmann::json& fixture() { return test::stories_reference(); }
LoadedModel load_form(const std::string& form) { return test::load_stories(form); }

EvalText stories_0_9() {
  EvalTextOptions o;
  o.data_path = test::data_path("eval/tinystories/tinystories_valid_first1000.txt");
  o.first_story = 0;
  o.last_story = 9;
  return load_eval_text("tinystories", o);
}

TEST(EvalText, TinyStoriesMatchesFixtureText) {
  const EvalText t = stories_0_9();
  const auto& ev = fixture()["evaluation"];
  EXPECT_EQ(t.text, ev["text"].get<std::string>());
  EXPECT_EQ(sha256_hex(t.text), ev["text_sha256"].get<std::string>());
  EXPECT_EQ(t.file_sha256, ev["source_file"]["sha256"].get<std::string>());
}

TEST(EvalText, Sha256KnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(EvalText, WikiText2EqualsGptqJoinFile) {
  const EvalText t = load_eval_text("wikitext2", {test::data_path("eval/wikitext-2-raw/wiki.test.raw")});
  const std::string want = test::read_file(test::data_path("eval/wikitext-2-raw/wiki.test.gptq-join.txt"));
  ASSERT_EQ(t.text.size(), want.size());
  EXPECT_TRUE(t.text == want);
  EXPECT_EQ(t.file_sha256, "173c87a53759e0201f33e0ccf978e510c2042d7f2cb78229d9a50d79b9e7dd08");
}

TEST(EvalText, PtbAndC4Rules) {
  const EvalText p = load_eval_text("ptb", {test::data_path("eval/ptb/ptb.test.txt")});
  EXPECT_EQ(p.text.rfind(" no it was n't black monday but while", 0), std::string::npos);  // stripped
  EXPECT_EQ(p.text.rfind("no it was n't black monday but while", 0), 0u);
  EXPECT_EQ(p.text.find('\n'), std::string::npos);
  const EvalText c = load_eval_text("c4", {test::data_path("eval/c4/c4_validation_2k.jsonl")});
  EXPECT_EQ(c.token_limit_windows, 256);
  EXPECT_EQ(c.text.rfind("We offer valet parking", 0), 0u);
}

TEST(EvalText, UnknownDatasetAndMissingFileAreUserErrors) {
  try {
    load_eval_text("wikitext3");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUser);
    EXPECT_NE(std::string(e.what()).find("wikitext2"), std::string::npos) << e.what();
  }
  try {
    load_eval_text("text", {"/nonexistent/x.txt"});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUser);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/x.txt"), std::string::npos) << e.what();
  }
}

class Stories260KPpl : public ::testing::TestWithParam<std::tuple<std::string, bool, int64_t>> {};

TEST_P(Stories260KPpl, MatchesFixture) {
  const auto [form, bos, batch] = GetParam();
  LoadedModel m = load_form(form);
  const auto& ev = fixture()[bos ? "evaluation_bos_variant" : "evaluation"];
  PerplexityOptions opt;
  opt.seq_len = 256;
  opt.bos = bos;
  opt.batch_size = batch;
  const EvalText text = stories_0_9();
  const PerplexityResult r = evaluate_perplexity(m.model, *m.tokenizer, text, opt);
  EXPECT_EQ(r.stream_tokens, ev["token_count"].get<int64_t>());
  EXPECT_EQ(r.stream_tokens, bos ? 3359 : 3358);
  EXPECT_EQ(r.windows, 13);
  EXPECT_EQ(r.tokens, 3315);
  EXPECT_EQ(r.tokens, ev["scored_tokens"].get<int64_t>());
  const double rel = 1e-5;
  EXPECT_NEAR(r.nll_mean, ev["nll_mean"].get<double>(), rel * ev["nll_mean"].get<double>());
  EXPECT_NEAR(r.nll_sum, ev["nll_sum"].get<double>(), rel * ev["nll_sum"].get<double>());
  EXPECT_NEAR(r.ppl, ev["ppl"].get<double>(), rel * ev["ppl"].get<double>());
  const auto ref = ev["per_window_nll_sum"].get<std::vector<double>>();
  ASSERT_EQ(r.window_nll_sums.size(), ref.size());
  for (size_t w = 0; w < ref.size(); ++w) EXPECT_NEAR(r.window_nll_sums[w], ref[w], rel * ref[w]) << "window " << w;
  // The stderr over windows: the fixture's value where it has one (the BOS variant has none: computed from its
  // per-window sums with the fixture's rule, sample std (n-1) of per-window mean NLL / sqrt(windows)).
  double want_se = 0;
  if (ev.contains("nll_stderr_over_windows")) {
    want_se = ev["nll_stderr_over_windows"].get<double>();
  } else {
    const double n = static_cast<double>(ref.size()), per = 255.0;
    double m = 0, ss = 0;
    for (double s : ref) m += s / per / n;
    for (double s : ref) ss += (s / per - m) * (s / per - m);
    want_se = std::sqrt(ss / (n - 1)) / std::sqrt(n);
  }
  // Per-window sums agree to ~1e-7 relative, so the stderr (a spread of means) agrees to ~1e-4 relative.
  EXPECT_NEAR(r.nll_stderr, want_se, 1e-4 * want_se);
  EXPECT_NEAR(r.ppl_stderr, r.ppl * want_se, 1e-4 * r.ppl * want_se);
  if (ev.contains("ppl_stderr_delta")) {
    EXPECT_NEAR(r.ppl_stderr, ev["ppl_stderr_delta"].get<double>(), 1e-4 * ev["ppl_stderr_delta"].get<double>());
  }
  EXPECT_EQ(r.protocol["n_windows"], 13);
  EXPECT_EQ(r.protocol["seq_len"], 256);
  EXPECT_EQ(r.protocol["dataset"], "tinystories");
  EXPECT_EQ(r.protocol["tokenizer"], m.tokenizer->kind());
}

INSTANTIATE_TEST_SUITE_P(Forms, Stories260KPpl,
                         ::testing::Values(std::make_tuple("hf", false, 1), std::make_tuple("hf", true, 1),
                                           std::make_tuple("llama2c", false, 4), std::make_tuple("llama2c", true, 13)),
                         [](const auto& info) {
                           return std::get<0>(info.param) + (std::get<1>(info.param) ? "_bos" : "_nobos") + "_b" +
                                  std::to_string(std::get<2>(info.param));
                         });

using test::last_json_line;

TEST(EvalCli, JsonOnTinyStoriesFile) {
  // The fixture text written as a plain file: `--dataset text` scores it exactly as it is.
  test::TempDir dir;
  const std::string path = dir.file("stories.txt");
  test::write_file(path, fixture()["evaluation"]["text"].get<std::string>());
  const auto r = test::run_ptq("eval --model " + test::data_path("models/stories260K-hf") +
                               " --dataset text --data-path " + path + " --seq-len 256 --batch-size 3 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = last_json_line(r.out);
  const auto& ev = fixture()["evaluation"];
  EXPECT_NEAR(j["ppl"].get<double>(), ev["ppl"].get<double>(), 1e-5 * ev["ppl"].get<double>());
  EXPECT_NEAR(j["nll_mean"].get<double>(), ev["nll_mean"].get<double>(), 1e-5 * ev["nll_mean"].get<double>());
  EXPECT_EQ(j["tokens"], 3315);
  EXPECT_EQ(j["windows"], 13);
  EXPECT_EQ(j["protocol"]["dataset"], "text");
  EXPECT_EQ(j["protocol"]["seq_len"], 256);
  EXPECT_EQ(j["protocol"]["bos"], "none");
  EXPECT_EQ(j["protocol"]["data_sha256"], ev["text_sha256"]);
  EXPECT_TRUE(j["protocol"].contains("scoring"));
  EXPECT_NE(r.out.find("±"), std::string::npos);
}

TEST(EvalCli, BosAndMaxWindows) {
  const auto r = test::run_ptq("eval --model " + test::data_path("models/stories260K/stories260K.bin") +
                               " --tokenizer " + test::data_path("models/stories260K/tok512.bin") +
                               " --dataset tinystories --seq-len 256 --bos --max-windows 2 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = last_json_line(r.out);
  EXPECT_EQ(j["windows"], 2);
  EXPECT_EQ(j["tokens"], 510);
  EXPECT_EQ(j["protocol"]["bos"], "one BOS at the stream start");
  const auto ref = fixture()["evaluation_bos_variant"]["per_window_nll_sum"].get<std::vector<double>>();
  // All 1000 stories start with the same first 10, so the first windows equal the fixture's BOS variant.
  EXPECT_NEAR(j["window_nll_sums"][0].get<double>(), ref[0], 1e-5 * ref[0]);
  EXPECT_NEAR(j["window_nll_sums"][1].get<double>(), ref[1], 1e-5 * ref[1]);
}

TEST(EvalCli, BadDatasetNameIsExit2) {
  const auto r = test::run_ptq("eval --model " + test::data_path("models/stories260K-hf") + " --dataset wikitext3");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("wikitext3"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("wikitext2"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("tinystories"), std::string::npos) << r.err;
}

TEST(EvalCli, MissingDataFileIsExit2) {
  const auto r = test::run_ptq("eval --model " + test::data_path("models/stories260K-hf") +
                               " --dataset ptb --data-path /nonexistent/ptb.test.txt");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("/nonexistent/ptb.test.txt"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace ptq
