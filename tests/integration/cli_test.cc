// The ptq binary as scripts and CI call it: exit codes, --json last line, one-line errors.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <map>
#include <sstream>

#include "support/test_data.h"

namespace ptq::test {
namespace {


TEST(Cli, VersionJsonReportsBuildAndGemmRate) {
  ProcessResult r = run_ptq("version --json --gemm-size 256 --threads 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = last_json_line(r.out);
  EXPECT_FALSE(j["git_commit"].get<std::string>().empty());
  EXPECT_TRUE(j["torch_version"].get<std::string>().rfind("2.", 0) == 0) << j.dump();
  EXPECT_FALSE(j["blas"].get<std::string>().empty());
  EXPECT_EQ(j["threads"].get<int>(), 1);
  EXPECT_GT(j["gemm_fp32_gflops"].get<double>(), 0.1);
}

TEST(Cli, VersionHumanReadable) {
  ProcessResult r = run_ptq("version --gemm-size 128");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("LibTorch 2."), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("GFLOP/s"), std::string::npos) << r.out;
}

TEST(Cli, SpecJson) {
  ProcessResult r = run_ptq("spec w4a16g128 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = last_json_line(r.out);
  EXPECT_EQ(j["name"], "w4a16g128");
  EXPECT_EQ(j["weight"]["bit"], 4);
  EXPECT_EQ(j["weight"]["granularity"], "per_group");
  EXPECT_EQ(j["weight"]["group_size"], 128);
  EXPECT_EQ(j["weight"]["symmetric"], false);
  EXPECT_TRUE(j["act"].is_null());
}

TEST(Cli, BadSpecExitsTwoWithOneLine) {
  ProcessResult r = run_ptq("spec w9g128");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "ptq spec: error: quantization scheme 'w9g128': weight bits must be in 2..8, got 9\n");
}

TEST(Cli, UnknownCommandAndOptionExitTwo) {
  EXPECT_EQ(run_ptq("frobnicate").exit_code, 2);
  ProcessResult r = run_ptq("version --bogus");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown option '--bogus'"), std::string::npos) << r.err;
  ProcessResult missing = run_ptq("spec");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("missing argument NAME"), std::string::npos) << missing.err;
  ProcessResult threads = run_ptq("version --threads many");
  EXPECT_EQ(threads.exit_code, 2);
  EXPECT_NE(threads.err.find("--threads expects an integer, got 'many'"), std::string::npos) << threads.err;
}

TEST(Cli, MethodsListsTheRegistryWithDefaults) {
  ProcessResult r = run_ptq("methods --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = last_json_line(r.out);
  std::map<std::string, nlohmann::json> by_id;
  for (const auto& m : j["methods"]) by_id[m["id"].get<std::string>()] = m;
  ASSERT_TRUE(by_id.count("rtn") && by_id.count("gptq")) << j.dump();
  EXPECT_FALSE(by_id["rtn"]["needs_calibration"].get<bool>());
  EXPECT_TRUE(by_id["gptq"]["needs_calibration"].get<bool>());
  bool percdamp = false;
  for (const auto& p : by_id["gptq"]["params"])
    if (p["name"] == "percdamp") percdamp = p["default"].get<double>() == 0.01;
  EXPECT_TRUE(percdamp) << by_id["gptq"].dump();
  ProcessResult text = run_ptq("methods");
  EXPECT_NE(text.out.find("blocksize"), std::string::npos) << text.out;
}

TEST(Cli, HelpForEveryCommand) {
  ProcessResult top = run_ptq("--help");
  ASSERT_EQ(top.exit_code, 0);
  // Every command listed by `ptq --help` (two-space indented lines after "commands:") has its own --help.
  std::vector<std::string> commands;
  std::istringstream lines(top.out.substr(top.out.find("commands:")));
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("  ", 0) == 0 && line.size() > 2 && line[2] != ' ') commands.push_back(line.substr(2, line.find(' ', 2) - 2));
  ASSERT_GE(commands.size(), 2u) << top.out;
  for (const std::string& cmd : commands) {
    ProcessResult r = run_ptq(cmd + " --help");
    EXPECT_EQ(r.exit_code, 0) << cmd;
    EXPECT_NE(r.out.find("usage: ptq " + cmd), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("--threads"), std::string::npos) << r.out;
  }
}

}  // namespace
}  // namespace ptq::test
