// The small helpers behind the reliability work: "did you mean" suggestions (core/did_you_mean.h), UTF-8 validation of
// data files (data/utf8_check.h), atomic files and folders with stale-temporary clean-up (core/atomic_file.h), and the
// PTQ_FAULT switch of the numerical-guard tests (core/fault_injection.h).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "core/atomic_file.h"
#include "core/did_you_mean.h"
#include "core/error.h"
#include "core/fault_injection.h"
#include "data/utf8_check.h"
#include "support/test_data.h"

namespace ptq {
namespace {

namespace fs = std::filesystem;

TEST(DidYouMean, SuggestsTheOneClosePlausibleName) {
  EXPECT_EQ(edit_distance("gptq", "gtpq"), 1u);  // a transposition costs 1
  EXPECT_EQ(edit_distance("GPTQ", "gptq"), 0u);  // case folded
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(edit_distance("percdampp", "percdamp"), 1u);
  const std::vector<std::string> methods = {"rtn", "gptq", "awq", "smoothquant", "omniquant"};
  EXPECT_EQ(closest_name("GTPQ", methods), "gptq");
  EXPECT_EQ(closest_name("Omniquant", methods), "omniquant");
  EXPECT_EQ(closest_name("awqq", methods), "awq");
  EXPECT_EQ(closest_name("smothquant", methods), "smoothquant");
  EXPECT_EQ(closest_name("llmint8", methods), "");  // nothing close: no guess
  EXPECT_EQ(closest_name("ab", {"ac", "ad"}), "");   // a tie: no guess either
  EXPECT_EQ(did_you_mean("bitz", {"bit", "symmetric", "granularity", "group_size"}), "; did you mean 'bit'?");
  EXPECT_EQ(did_you_mean("zzzz", {"bit"}), "");
}

TEST(Utf8Check, FindsTheFirstInvalidByte) {
  EXPECT_FALSE(first_invalid_utf8("plain ascii\n").has_value());
  EXPECT_FALSE(first_invalid_utf8("caf\xC3\xA9 \xE2\x96\x81 \xF0\x9F\x98\x80").has_value());
  EXPECT_EQ(first_invalid_utf8("caf\xE9 au lait"), 3u);           // Latin-1 é
  EXPECT_EQ(first_invalid_utf8("ab\xC0\xAF"), 2u);                // overlong '/'
  EXPECT_EQ(first_invalid_utf8("\xED\xA0\x80"), 0u);              // a UTF-16 surrogate
  EXPECT_EQ(first_invalid_utf8("\xF4\x90\x80\x80"), 0u);          // above U+10FFFF
  EXPECT_EQ(first_invalid_utf8("ok\xE2\x96"), 2u);                // truncated at the end
  try {
    check_utf8(std::string("\xFF\xFEh\0i\0", 6), "u16.txt");
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUser);
    EXPECT_NE(std::string(e.what()).find("'u16.txt': not valid UTF-8 at byte 0"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("UTF-16"), std::string::npos) << e.what();
  }
}

TEST(AtomicFile, WritesPublishesAndCleansUpAfterKilledWriters) {
  test::TempDir dir;
  const std::string f = dir.file("a.json");
  write_file_atomically(f, "{\"x\": 1}\n");
  EXPECT_EQ(test::read_file(f), "{\"x\": 1}\n");
  write_file_atomically(f, "{}\n");  // replaces, never leaves a temporary
  EXPECT_EQ(test::read_file(f), "{}\n");
  EXPECT_EQ(temp_path_for(f), dir.file(".a.json.tmp-" + std::to_string(::getpid())));
  EXPECT_EQ(temp_path_for(dir.file("out/")), dir.file(".out.tmp-" + std::to_string(::getpid())));
  // A folder: written under its temporary, published whole, never over an existing one.
  const std::string tmp = temp_path_for(dir.file("out"));
  fs::create_directories(tmp + "/sub");
  test::write_file(tmp + "/sub/w.bin", "abc");
  publish_dir(tmp, dir.file("out"));
  EXPECT_EQ(test::read_file(dir.file("out/sub/w.bin")), "abc");
  EXPECT_FALSE(fs::exists(tmp));
  fs::create_directories(tmp);
  EXPECT_THROW(publish_dir(tmp, dir.file("out")), Error);
  fs::remove_all(tmp);
  // What a killed writer left (its process is gone) is removed; a live process's temporary and other files stay.
  const pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  ::waitpid(dead, nullptr, 0);
  const std::string stale = dir.file(".b.safetensors.tmp-" + std::to_string(dead));
  const std::string live = dir.file(".c.safetensors.tmp-" + std::to_string(::getppid()));
  test::write_file(stale, "half");
  test::write_file(live, "in progress");
  fs::create_directories(dir.file(".cache.tmp-" + std::to_string(dead)));
  EXPECT_EQ(remove_stale_temps(dir.path()), 2);
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(live));
  EXPECT_TRUE(fs::exists(f));
  EXPECT_THROW(write_file_atomically(dir.file("no/such/folder/x"), "x"), Error);
}

TEST(FaultInjection, NamesPointsAndBlocks) {
  ::unsetenv("PTQ_FAULT");
  EXPECT_FALSE(fault_injected("awq_nan_input", 1));
  ::setenv("PTQ_FAULT", "awq_nan_input@1,gptq_nan_hessian@*", 1);
  EXPECT_TRUE(fault_injected("awq_nan_input", 1));
  EXPECT_FALSE(fault_injected("awq_nan_input", 0));
  EXPECT_FALSE(fault_injected("awq_nan_input", 11));
  EXPECT_TRUE(fault_injected("gptq_nan_hessian", 7));
  EXPECT_FALSE(fault_injected("gptq_indefinite_hessian", 1));
  ::unsetenv("PTQ_FAULT");
}

}  // namespace
}  // namespace ptq
