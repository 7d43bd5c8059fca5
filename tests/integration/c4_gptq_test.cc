// Dataset c4_gptq (GPTQ's original C4 evaluation, OmniQuant's `c4`): the windows ptq draws are the ones GPTQ's Python
// loop draws (checked against CPython's random with the same document lengths), the stream is those windows, the
// rule reads compressed files the same way, and --bos or a missing default file are errors naming what to do.
#include <gtest/gtest.h>
#include <zstd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/sha256.h"
#include "data/calibration.h"
#include "data/eval_text.h"
#include "eval/sampled_windows.h"
#include "model/tokenizer.h"
#include "support/test_data.h"

namespace ptq {
namespace {

// GPTQ's get_c4 validation loop (datautils.py) over precomputed token lengths.
constexpr const char* kReference = R"py(
import random, sys
lens = [int(l) for l in open(sys.argv[1])]
seqlen = int(sys.argv[2])
random.seed(0)
out = []
for _ in range(256):
    while True:
        i = random.randint(0, len(lens) - 1)
        if lens[i] >= seqlen:
            break
    j = random.randint(0, lens[i] - seqlen - 1)
    out.append("%d:%d " % (i, j))
sys.stdout.write("".join(out))
)py";

nlohmann::json last_json(const std::string& out) {
  const size_t end = out.find_last_not_of('\n');
  const size_t start = out.rfind('\n', end);
  return nlohmann::json::parse(out.substr(start == std::string::npos ? 0 : start + 1));
}

TEST(C4Gptq, WindowsMatchGptqsPythonLoopAndTheBinaryScoresThem) {
  const std::string sample = test::data_path("eval/c4/c4_validation_2k.jsonl");
  const auto tok = load_tokenizer(test::data_path("models/stories260K-hf/tokenizer.model"));
  EvalTextOptions eo;
  eo.data_path = sample;
  const EvalText text = load_eval_text("c4_gptq", eo);
  ASSERT_EQ(text.documents.size(), 2000u);
  EXPECT_EQ(text.sampled_windows, 256);
  EXPECT_TRUE(text.text.empty());
  constexpr int64_t kSeq = 128;

  const SampledWindows sw = gptq_c4_windows(*tok, text.documents, kSeq, 256, 0);
  ASSERT_EQ(sw.ids.size(), 256u * kSeq);
  ASSERT_EQ(sw.picks.size(), 256u);
  std::string picks;
  for (size_t w = 0; w < sw.picks.size(); ++w) {
    const auto [doc, start] = sw.picks[w];
    picks += fmt::format("{}:{} ", doc, start);
    const auto ids = tok->encode(text.documents[static_cast<size_t>(doc)], true);
    ASSERT_GT(static_cast<int64_t>(ids.size()), kSeq + start - 1);
    EXPECT_TRUE(std::equal(ids.begin() + start, ids.begin() + start + kSeq, sw.ids.begin() + w * kSeq)) << w;
    if (start == 0) {
      EXPECT_EQ(sw.ids[w * kSeq], *tok->bos_id());  // documents are encoded with BOS
    }
  }

  test::TempDir dir;
  if (std::system("command -v python3 > /dev/null 2>&1") == 0) {
    std::string lens;
    for (const auto& d : text.documents) lens += std::to_string(tok->encode(d, true).size()) + "\n";
    test::write_file(dir.file("lens.txt"), lens);
    test::write_file(dir.file("ref.py"), kReference);
    const std::string cmd = fmt::format("python3 {} {} {} > {}", dir.file("ref.py"), dir.file("lens.txt"), kSeq,
                                        dir.file("ref.out"));
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    EXPECT_EQ(test::read_file(dir.file("ref.out")), picks);
  } else {
    std::printf("python3 not found: the CPython cross-check of the window picks was skipped\n");
  }

  // Through the binary, plain and zstd-compressed: the same windows and perplexity.
  const std::string model = test::data_path("models/stories260K-hf");
  auto r = test::run_ptq(fmt::format("eval --model {} --dataset c4_gptq --data-path {} --seq-len {} --json --threads 1",
                                     model, sample, kSeq));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto j = last_json(r.out);
  EXPECT_EQ(j["windows"], 256);
  EXPECT_EQ(j["tokens"], 256 * (kSeq - 1));
  EXPECT_EQ(j["protocol"]["window_picks_sha256"], sha256_hex(picks));
  EXPECT_NE(j["protocol"]["text_rule"].get<std::string>().find("random.seed(0)"), std::string::npos);
  EXPECT_EQ(j["protocol"]["dataset"], "c4_gptq");
  EXPECT_GT(j["ppl"].get<double>(), 1.0);

  const std::string bytes = test::read_file(sample);
  std::string z(ZSTD_compressBound(bytes.size()), '\0');
  z.resize(ZSTD_compress(z.data(), z.size(), bytes.data(), bytes.size(), 3));
  test::write_file(dir.file("c4.jsonl.zst"), z);
  r = test::run_ptq(fmt::format("eval --model {} --dataset c4_gptq --data-path {} --seq-len {} --json --threads 1",
                                model, dir.file("c4.jsonl.zst"), kSeq));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto jz = last_json(r.out);
  EXPECT_EQ(jz["protocol"]["window_picks_sha256"], j["protocol"]["window_picks_sha256"]);
  EXPECT_EQ(jz["ppl"], j["ppl"]);
}

TEST(C4Gptq, BosAndMissingShardAreErrors) {
  const std::string model = test::data_path("models/stories260K-hf");
  auto r = test::run_ptq(fmt::format("eval --model {} --dataset c4_gptq --data-path {} --seq-len 128 --bos", model,
                                     test::data_path("eval/c4/c4_validation_2k.jsonl")));
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.err.find("c4_gptq"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--bos"), std::string::npos) << r.err;
  r = test::run_ptq(fmt::format("eval --model {} --dataset c4_gptq --seq-len 128", model));
  if (!std::filesystem::exists(test::data_dir() + "/eval/c4/c4-validation.00000-of-00008.json")) {
    EXPECT_EQ(r.exit_code, 2) << r.out;
    EXPECT_NE(r.err.find("c4-validation.00000-of-00008.json not found"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("scripts/fetch_data.sh --only c4"), std::string::npos) << r.err;
  }
  // Calibration refuses the evaluation-only rule.
  const auto tok = load_tokenizer(test::data_path("models/stories260K-hf/tokenizer.model"));
  CalibOptions o;
  o.dataset = "c4_gptq";
  o.path = test::data_path("eval/c4/c4_validation_2k.jsonl");
  o.preproc = "random_windows";
  try {
    build_calibration(o, *tok);
    ADD_FAILURE() << "calibration from c4_gptq was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("evaluation rule"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ptq
