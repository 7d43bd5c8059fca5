// Calibration sets: reproducible for a seed, different across seeds, and a dumped set read back as `tokens` is the
// identical calibration set (issue acceptance), on the real TinyStories and C4 files with real tokenizers.
#include <gtest/gtest.h>
#include <ATen/ATen.h>

#include <filesystem>

#include "core/error.h"
#include "data/calibration.h"
#include "model/tokenizer_score_bpe.h"
#include "model/tokenizer_spm.h"
#include "support/test_data.h"

namespace ptq {
namespace {

const Tokenizer& stories_tok() {
  static auto t = SentencePieceTokenizer::open(test::data_path("models/stories260K-hf/tokenizer.model"));
  return *t;
}

CalibOptions base(const std::string& preproc) {
  CalibOptions o;
  o.dataset = "tinystories";
  o.preproc = preproc;
  o.n_samples = 16;
  // AWQ's style keeps only documents no longer than seq_len: TinyStories stories need 256.
  o.seq_len = preproc == "pileval_awq" ? 256 : 64;
  o.first_doc = 500;
  o.seed = 7;
  return o;
}

TEST(Calibration, SameSeedSameSamplesOtherSeedOthers) {
  for (const char* preproc : {"random_windows", "txt_general_preproc", "pileval_awq"}) {
    CalibrationSet a = build_calibration(base(preproc), stories_tok());
    CalibrationSet b = build_calibration(base(preproc), stories_tok());
    CalibOptions other = base(preproc);
    other.seed = 8;
    CalibrationSet c = build_calibration(other, stories_tok());
    EXPECT_EQ(a.samples, b.samples) << preproc;
    EXPECT_EQ(a.provenance, b.provenance) << preproc;
    EXPECT_NE(a.samples, c.samples) << preproc;
    for (const auto& s : a.samples) EXPECT_EQ(static_cast<int64_t>(s.size()), base(preproc).seq_len) << preproc;
    if (std::string(preproc) != "pileval_awq") EXPECT_EQ(a.samples.size(), 16u) << preproc;
    else EXPECT_LE(a.samples.size(), 16u);  // AWQ's style yields fewer blocks than documents
  }
}

TEST(Calibration, RandomWindowsAreWindowsOfTheTokenStream) {
  CalibrationSet a = build_calibration(base("random_windows"), stories_tok());
  const auto offsets = a.provenance["offsets"].get<std::vector<int64_t>>();
  ASSERT_EQ(offsets.size(), 16u);
  EXPECT_EQ(a.provenance["sha256"].get<std::string>().size(), 64u);
  // Windows never start inside the first story range's excluded part: documents 500.. only.
  EXPECT_NE(a.provenance["text_rule"].get<std::string>().find("500"), std::string::npos) << a.provenance.dump();
}

TEST(Calibration, DumpedSamplesReadBackAsTokensIdentically) {
  test::TempDir dir;
  CalibOptions o = base("txt_general_preproc");
  o.dump_path = dir.file("calib.json");
  o.bs = 4;
  CalibrationSet a = build_calibration(o, stories_tok());
  CalibOptions t;
  t.dataset = "tokens";
  t.path = o.dump_path;
  t.bs = 4;
  CalibrationSet b = build_calibration(t, stories_tok());
  EXPECT_EQ(a.samples, b.samples);
  ASSERT_EQ(a.batches.size(), 4u);
  ASSERT_EQ(b.batches.size(), 4u);
  for (size_t i = 0; i < a.batches.size(); ++i) {
    EXPECT_EQ(a.batches[i].sizes(), at::IntArrayRef({4, 64}));
    EXPECT_TRUE(at::equal(a.batches[i], b.batches[i]));
  }
}

TEST(Calibration, C4DocumentsWork) {
  CalibOptions o;
  o.dataset = "c4";
  o.preproc = "txt_general_preproc";
  o.n_samples = 8;
  o.seq_len = 128;
  o.bs = -1;
  CalibrationSet s = build_calibration(o, stories_tok());
  ASSERT_EQ(s.batches.size(), 1u);
  EXPECT_EQ(s.batches[0].sizes(), at::IntArrayRef({8, 128}));
}

TEST(Calibration, PilevalStyleJsonlDocuments) {
  // A Pile-validation-shaped file: one {"text": ...} object per line (here the first C4 documents).
  test::TempDir dir;
  const std::string c4 = test::read_file(test::data_path("eval/c4/c4_validation_2k.jsonl"));
  std::string head;
  size_t pos = 0;
  for (int i = 0; i < 300 && pos != std::string::npos; ++i) pos = c4.find('\n', pos + 1);
  test::write_file(dir.file("val.jsonl"), c4.substr(0, pos + 1));
  CalibOptions o;
  o.dataset = "pileval";
  o.path = dir.file("val.jsonl");
  o.preproc = "pileval_awq";
  o.n_samples = 64;
  o.seq_len = 512;
  CalibrationSet s = build_calibration(o, stories_tok());
  EXPECT_GT(s.samples.size(), 0u);
  EXPECT_LT(s.samples.size(), 64u);  // AWQ's style: fewer blocks than documents
  o.path.clear();
  try {
    build_calibration(o, stories_tok());
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("give calib.path"), std::string::npos) << e.what();
  }
}

TEST(Calibration, BadInputsAreClearErrors) {
  auto expect_error = [](const CalibOptions& o, const std::string& needle) {
    try {
      build_calibration(o, stories_tok());
      ADD_FAILURE() << "no error; expected '" << needle << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  CalibOptions o = base("shuffle_everything");
  expect_error(o, "unknown calib.preproc 'shuffle_everything'");
  o = base("random_windows");
  o.n_samples = 0;
  expect_error(o, "calib.n_samples must be positive");
  o = base("txt_general_preproc");
  o.seq_len = 100000;
  expect_error(o, "reach seq_len 100000 tokens");
  test::TempDir dir;
  test::write_file(dir.file("bad.json"), R"({"samples": [[1, 2, 99999]]})");
  CalibOptions t;
  t.dataset = "tokens";
  t.path = dir.file("bad.json");
  expect_error(t, "not a token id of this model");
  t.path = dir.file("absent.json");
  expect_error(t, "absent.json' not found");
}

// Token-id calibration is checked against the model's vocabulary (embedding rows), not the tokenizer's, and needs no
// tokenizer at all: a vocab-4096 model with a 512-piece tokenizer takes id 3155, and a model without a tokenizer
// calibrates from ids (the run then evaluates nothing; asking for an evaluation names the missing tokenizer).
TEST(Calibration, TokenIdsAreCheckedAgainstTheModelVocabularyAndNeedNoTokenizer) {
  test::TempDir dir;
  const std::string ids = dir.file("ids.json");
  test::write_file(ids, R"({"samples": [[3155, 17, 4095, 0, 9, 511, 512, 2048], [1, 2, 3, 4, 5, 6, 7, 8]]})");
  CalibOptions o;
  o.dataset = "tokens";
  o.preproc = "tokens";
  o.path = ids;
  o.n_samples = 2;
  o.seq_len = 8;
  const CalibrationSet with_tok = build_calibration(o, &stories_tok(), 4096);
  EXPECT_EQ(with_tok.samples[0][0], 3155);
  const CalibrationSet without = build_calibration(o, nullptr, 4096);
  EXPECT_EQ(without.samples, with_tok.samples);
  EXPECT_EQ(without.provenance.at("tokenizer"), "none");
  // The tokenizer-sized check (512 pieces) is what rejected id 3155 before.
  EXPECT_THROW(build_calibration(o, stories_tok()), Error);
  try {
    build_calibration(o, nullptr, 3000);
    ADD_FAILURE() << "id 3155 accepted by a 3000-row model";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("samples[0] holds 3155"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("0..2999"), std::string::npos) << e.what();
  }
  CalibOptions text = base("random_windows");
  try {
    build_calibration(text, nullptr, 4096);
    ADD_FAILURE() << "text calibration without a tokenizer";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("needs a tokenizer"), std::string::npos) << e.what();
  }

  // Through the CLI: a random vocab-4096 model written without a tokenizer, GPTQ calibrated from the ids.
  const std::string model = dir.file("model");
  auto r = test::run_ptq(fmt::format("random-model --out {} --hidden 64 --intermediate 128 --layers 2 --heads 4 "
                                     "--vocab 4096 --dtype float32", model));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_FALSE(std::filesystem::exists(model + "/tokenizer.json") || std::filesystem::exists(model + "/tokenizer.model"));
  const std::string cfg = dir.file("run.yml");
  test::write_file(cfg, fmt::format(R"(base: {{seed: 0}}
model: {{type: Llama, path: {}, torch_dtype: auto}}
calib: {{name: tokens, path: {}, n_samples: 2, bs: 1, seq_len: 8, preproc: tokens, seed: 0}}
quant:
    method: GPTQ
    weight: {{bit: 4, symmetric: False, granularity: per_group, group_size: 32}}
    special: {{actorder: False, percdamp: 0.01}}
    quant_out: True
save: {{save_trans: False, save_fake: False}}
)", model, ids));
  r = test::run_ptq(fmt::format("run {} --db {} --json", cfg, dir.file("runs.db")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = test::last_json_line(r.out);
  EXPECT_EQ(j.at("calibration").at("tokenizer"), "none");
  EXPECT_EQ(j.at("layer_errors").size(), 14u);  // 2 blocks x 7 linears, all quantized from the ids
  r = test::run_ptq(fmt::format("run {} --db {} --set eval.name=tinystories --set eval.seq_len=8", cfg, dir.file("runs.db")));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no tokenizer found"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace ptq
