// Zstandard-compressed jsonl corpora (the Pile validation sample is val.jsonl.zst): a real jsonl from the shared data
// compressed here (one frame with the zstd library, several concatenated frames, and the zstd tool when installed)
// reads back line for line, calibration from it picks the same documents as from the plain file, pileval's default
// file is found under PTQ_DATA_DIR, and corrupt or truncated data is an error naming the file.
#include <gtest/gtest.h>
#include <zstd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>

#include "core/error.h"
#include "data/calibration.h"
#include "data/line_reader.h"
#include "model/tokenizer.h"
#include "support/errors.h"
#include "support/test_data.h"

namespace ptq {
namespace {

namespace fs = std::filesystem;

// One zstd frame with a content checksum, as the zstd tool writes by default (so corruption is detectable).
std::string compress(const std::string& bytes, int level) {
  std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> ctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
  ZSTD_CCtx_setParameter(ctx.get(), ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(ctx.get(), ZSTD_c_checksumFlag, 1);
  std::string out(ZSTD_compressBound(bytes.size()), '\0');
  const size_t n = ZSTD_compress2(ctx.get(), out.data(), out.size(), bytes.data(), bytes.size());
  EXPECT_FALSE(ZSTD_isError(n)) << ZSTD_getErrorName(n);
  out.resize(n);
  return out;
}

std::vector<std::string> lines_of(const std::string& path) {
  std::vector<std::string> lines;
  int64_t last = 0;
  for_each_line(path, [&](std::string_view l, int64_t n) {
    EXPECT_EQ(n, last + 1);
    last = n;
    lines.emplace_back(l);
  });
  return lines;
}

// An environment variable set for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old, had_ = true;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() { had_ ? ::setenv(name_, old_.c_str(), 1) : ::unsetenv(name_); }

 private:
  const char* name_;
  std::string old_;
  bool had_ = false;
};

class ZstdCorpus : public ::testing::Test {
 protected:
  void SetUp() override {
    plain_ = test::data_path("eval/c4/c4_validation_2k.jsonl");
    bytes_ = test::read_file(plain_);
    one_frame_ = dir_.file("one.jsonl.zst");
    test::write_file(one_frame_, compress(bytes_, 3));
    // Two frames back to back, split in the middle of a line: the reader must carry the partial line across.
    const size_t half = bytes_.size() / 2 + 7;
    frames_ = dir_.file("two_frames.jsonl.zst");
    test::write_file(frames_, compress(bytes_.substr(0, half), 1) + compress(bytes_.substr(half), 5));
  }
  test::TempDir dir_;
  std::string plain_, bytes_, one_frame_, frames_;
};

TEST_F(ZstdCorpus, CompressedFilesReadBackLineForLine) {
  const auto expected = lines_of(plain_);
  ASSERT_EQ(expected.size(), 2000u);
  EXPECT_FALSE(is_zstd_file(plain_));
  EXPECT_TRUE(is_zstd_file(one_frame_));
  EXPECT_EQ(lines_of(one_frame_), expected);
  EXPECT_EQ(lines_of(frames_), expected);
  if (std::system("command -v zstd > /dev/null 2>&1") == 0) {
    const std::string cli = dir_.file("cli.jsonl.zst");
    ASSERT_EQ(std::system(("zstd -q -3 " + plain_ + " -o " + cli).c_str()), 0);
    EXPECT_EQ(lines_of(cli), expected);
  }
}

TEST_F(ZstdCorpus, CalibrationFromTheCompressedFileMatchesThePlainOne) {
  const auto tok = load_tokenizer(test::data_path("models/stories260K-hf/tokenizer.model"));
  CalibOptions o;
  o.dataset = "jsonl";
  o.preproc = "pileval_awq";
  o.n_samples = 16;
  o.seq_len = 256;
  o.seed = 42;
  o.path = plain_;
  const CalibrationSet a = build_calibration(o, *tok);
  o.path = frames_;
  const CalibrationSet b = build_calibration(o, *tok);
  ASSERT_FALSE(a.samples.empty());
  EXPECT_EQ(a.samples, b.samples);
  EXPECT_EQ(a.provenance["documents"], b.provenance["documents"]);
  EXPECT_EQ(b.provenance["path"], frames_);

  // pileval without calib.path: calib/pileval/val.jsonl.zst under the data folder.
  const std::string data = dir_.file("data");
  fs::create_directories(data + "/calib/pileval");
  fs::copy_file(one_frame_, data + "/calib/pileval/val.jsonl.zst");
  ScopedEnv env("PTQ_DATA_DIR", data);
  o.dataset = "pileval";
  o.path.clear();
  const CalibrationSet c = build_calibration(o, *tok);
  EXPECT_EQ(c.samples, a.samples);
  EXPECT_EQ(c.provenance["path"], data + "/calib/pileval/val.jsonl.zst");
  fs::remove(data + "/calib/pileval/val.jsonl.zst");
  const std::string msg = test::error_of([&] { build_calibration(o, *tok); });
  EXPECT_NE(msg.find("calib/pileval/val.jsonl.zst not found"), std::string::npos) << msg;
  EXPECT_NE(msg.find("scripts/fetch_data.sh"), std::string::npos) << msg;
}

TEST_F(ZstdCorpus, CorruptAndTruncatedDataAreErrorsNamingTheFile) {
  std::string z = test::read_file(one_frame_);
  const std::string truncated = dir_.file("truncated.zst");
  test::write_file(truncated, z.substr(0, z.size() / 2));
  std::string msg = test::error_of([&] { lines_of(truncated); });
  EXPECT_NE(msg.find(truncated), std::string::npos) << msg;
  EXPECT_NE(msg.find("zstd"), std::string::npos) << msg;

  z[z.size() / 3] ^= 0x5a;
  z[z.size() / 3 + 1] ^= 0x33;
  const std::string corrupt = dir_.file("corrupt.zst");
  test::write_file(corrupt, z);
  msg = test::error_of([&] { lines_of(corrupt); });
  EXPECT_NE(msg.find(corrupt), std::string::npos) << msg;
  EXPECT_NE(msg.find("zstd"), std::string::npos) << msg;
}

}  // namespace
}  // namespace ptq
