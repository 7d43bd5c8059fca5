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

// Runs a shell command line, capturing both streams.
test::ProcessResult run_shell(const std::string& command) {
  test::TempDir dir;
  const std::string cmd = fmt::format("{} > {} 2> {}", command, dir.file("out"), dir.file("err"));
  const int status = std::system(cmd.c_str());
  test::ProcessResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = test::read_file(dir.file("out"));
  r.err = test::read_file(dir.file("err"));
  return r;
}

test::ProcessResult run_script(const std::string& args) {
  return run_shell(fmt::format("{}/scripts/fetch_data.sh {}", PTQ_SOURCE_DIR, args));
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

namespace ptq {
namespace {

// scripts/fetch_model.sh against a local hub: python3's http.server serving <root>/<owner>/<name>/resolve/main/ with
// stories260K's HF files (HF_ENDPOINT points the script at it), so the download path runs for real without internet.
TEST(FetchModel, DownloadsFromAHubResumesAndRefusesBadInput) {
  test::TempDir dir;
  const fs::path repo = fs::path(dir.path()) / "hub/karpathy/stories260K/resolve/main";
  fs::create_directories(repo);
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.model"})
    fs::copy_file(test::data_path(std::string("models/stories260K-hf/") + f), repo / f);
  // A free port from the kernel, then the server on it (python3 is the system's, not ptq's).
  const std::string port_file = dir.file("port");
  const std::string server = fmt::format(
      "python3 -c 'import http.server,functools,socketserver,sys\n"
      "h=functools.partial(http.server.SimpleHTTPRequestHandler,directory=sys.argv[1])\n"
      "s=socketserver.TCPServer((\"127.0.0.1\",0),h)\n"
      "open(sys.argv[2],\"w\").write(str(s.server_address[1]))\n"
      "s.serve_forever()' {} {} > /dev/null 2>&1 & echo $! > {}",
      dir.file("hub"), port_file, dir.file("pid"));
  ASSERT_EQ(std::system(server.c_str()), 0);
  for (int i = 0; i < 100 && !fs::exists(port_file); ++i) std::system("sleep 0.1");
  ASSERT_TRUE(fs::exists(port_file));
  const std::string env = "HF_ENDPOINT=http://127.0.0.1:" + test::read_file(port_file) + " ";
  const std::string out = dir.file("models/stories260K");

  auto run = [&](const std::string& args) {
    return run_shell(env + PTQ_SOURCE_DIR + "/scripts/fetch_model.sh " + args);
  };
  const auto listed = run("--dry-run karpathy/stories260K " + out);
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_NE(listed.out.find("model.safetensors  http://127.0.0.1:"), std::string::npos) << listed.out;
  EXPECT_EQ(listed.out.find("generation_config.json"), std::string::npos);  // absent on the hub: not listed
  EXPECT_FALSE(fs::exists(out));

  const auto got = run("karpathy/stories260K " + out);
  ASSERT_EQ(got.exit_code, 0) << got.err << got.out;
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.model"})
    EXPECT_EQ(test::read_file(out + "/" + f), test::read_file((repo / f).string())) << f;
  EXPECT_FALSE(fs::exists(out + "/model.safetensors.part"));
  const auto again = run("karpathy/stories260K " + out);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("present: model.safetensors"), std::string::npos) << again.out;
  // The download is a model ptq loads.
  const auto eval = test::run_ptq("eval --model " + out + " --dataset tinystories --seq-len 256 --max-windows 2 --threads 1");
  EXPECT_EQ(eval.exit_code, 0) << eval.err;

  const auto missing = run("karpathy/nothing-here " + dir.file("m2"));
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("not reachable"), std::string::npos) << missing.err;
  std::system(("kill $(cat " + dir.file("pid") + ")").c_str());

  EXPECT_EQ(run("").exit_code, 2);
  EXPECT_EQ(run("not-a-repo").exit_code, 2);
  EXPECT_EQ(run("--bogus a/b").exit_code, 2);
}

}  // namespace
}  // namespace ptq
