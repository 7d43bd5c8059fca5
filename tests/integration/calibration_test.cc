// Calibration sets: reproducible for a seed, different across seeds, and a dumped set read back as `tokens` is the
// identical calibration set (issue acceptance), on the real TinyStories and C4 files with real tokenizers.
#include <gtest/gtest.h>
#include <ATen/ATen.h>

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
  expect_error(t, "not a token id of this tokenizer");
  t.path = dir.file("absent.json");
  expect_error(t, "absent.json' not found");
}

}  // namespace
}  // namespace ptq
