// scripts/fetch_data.sh without the network: --dry-run lists every dataset with its URL and target files and writes
// nothing; --verify passes on the shared data folder (the pinned checksums are those of the files we ship) and fails
// on a corrupted copy, naming it; an unknown dataset name is exit 2.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>

#include "support/test_data.h"

namespace ptq {
namespace {

namespace fs = std::filesystem;

test::ProcessResult run_script(const std::string& args) {
  test::TempDir dir;
  const std::string cmd = fmt::format("{}/scripts/fetch_data.sh {} > {} 2> {}", PTQ_SOURCE_DIR, args,
                                      dir.file("out"), dir.file("err"));
  const int status = std::system(cmd.c_str());
  test::ProcessResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = test::read_file(dir.file("out"));
  r.err = test::read_file(dir.file("err"));
  return r;
}

TEST(FetchData, DryRunListsEveryDatasetAndWritesNothing) {
  test::TempDir dir;
  const std::string target = dir.file("data");
  const auto r = run_script("--dry-run " + target);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* line : {"wikitext2: https://wikitext.smerity.com/wikitext-2-raw-v1.zip",
                           "wikitext2_tokens: https://", "ptb: https://", "tinystories: https://",
                           "c4: https://huggingface.co/datasets/allenai/c4/resolve/main/en/"
                           "c4-validation.00000-of-00008.json.gz",
                           "pileval: https://huggingface.co/datasets/mit-han-lab/pile-val-backup/resolve/main/"
                           "val.jsonl.zst"})
    EXPECT_NE(r.out.find(line), std::string::npos) << line << "\n" << r.out;
  for (const char* file : {"/eval/wikitext-2-raw/wiki.test.raw (sha256 173c87a5", "/eval/ptb/ptb.test.txt (sha256 ",
                           "/eval/c4/c4-validation.00000-of-00008.json (sha256 recorded on first download)",
                           "/calib/pileval/val.jsonl.zst", "/eval/tinystories/TinyStories-valid.txt"})
    EXPECT_NE(r.out.find(target + file), std::string::npos) << file << "\n" << r.out;
  EXPECT_FALSE(fs::exists(target));
  const auto only = run_script("--dry-run --only ptb,c4 " + target);
  ASSERT_EQ(only.exit_code, 0) << only.err;
  EXPECT_EQ(only.out.find("wikitext2"), std::string::npos) << only.out;
  EXPECT_NE(only.out.find("c4: "), std::string::npos) << only.out;
  const auto bad = run_script("--dry-run --only nope " + target);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("'nope'"), std::string::npos) << bad.err;
}

TEST(FetchData, VerifyPassesOnTheSharedDataAndCatchesACorruptCopy) {
  const auto r = run_script("--verify " + test::data_dir());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  // Every pinned file we ship is checked, not skipped.
  for (const char* f : {"ok        eval/wikitext-2-raw/wiki.test.raw", "ok        eval/wikitext-2/test.txt",
                        "ok        eval/wikitext-2/valid.txt", "ok        eval/ptb/ptb.test.txt",
                        "ok        eval/ptb/ptb.valid.txt"})
    EXPECT_NE(r.out.find(f), std::string::npos) << f << "\n" << r.out;

  test::TempDir dir;
  fs::create_directories(dir.file("eval/ptb"));
  std::string bytes = test::read_file(test::data_path("eval/ptb/ptb.test.txt"));
  bytes[100] ^= 1;
  test::write_file(dir.file("eval/ptb/ptb.test.txt"), bytes);
  // A recorded checksum is enforced the same way.
  test::write_file(dir.file("eval/ptb/ptb.train.txt"), "train text\n");
  test::write_file(dir.file("FETCHED_SHA256SUMS"),
                   "0000000000000000000000000000000000000000000000000000000000000000  eval/ptb/ptb.train.txt\n");
  const auto bad = run_script("--verify --only ptb " + dir.path());
  EXPECT_EQ(bad.exit_code, 1) << bad.out;
  EXPECT_NE(bad.out.find("MISMATCH  eval/ptb/ptb.test.txt"), std::string::npos) << bad.out;
  EXPECT_NE(bad.out.find("MISMATCH  eval/ptb/ptb.train.txt"), std::string::npos) << bad.out;
  EXPECT_NE(bad.out.find("absent    eval/ptb/ptb.valid.txt"), std::string::npos) << bad.out;
}

}  // namespace
}  // namespace ptq
