// The ptq binary as scripts and CI call it: exit codes, --json last line, one-line errors.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <optional>
#include <vector>
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

// The OpenMP waiting policy (src/cli/wait_policy_preinit.cc) and the default thread count, as `ptq version` states
// them and as libgomp itself read them (OMP_DISPLAY_ENV prints its settings when the runtime starts): libgomp's
// default on an idle machine, PASSIVE and only the free CPUs when every CPU already runs a busy process, the user's
// own variables always.
TEST(Cli, VersionStatesTheWaitingPolicyAndTheDefaultThreadCount) {
  struct Env {  // sets / unsets variables for the ptq processes of this test, restores them afterwards
    std::map<std::string, std::optional<std::string>> saved;
    void set(const std::string& k, const char* v) {
      if (!saved.count(k)) saved[k] = std::getenv(k.c_str()) ? std::optional<std::string>(std::getenv(k.c_str())) : std::nullopt;
      if (v) ::setenv(k.c_str(), v, 1);
      else ::unsetenv(k.c_str());
    }
    ~Env() {
      for (auto& [k, v] : saved) v ? ::setenv(k.c_str(), v->c_str(), 1) : ::unsetenv(k.c_str());
    }
  } env;
  for (const char* k : {"OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "PTQ_WAIT_POLICY_SET_BY", "OMP_NUM_THREADS", "PTQ_MALLOC",
                        "GLIBC_TUNABLES"})
    env.set(k, nullptr);
  env.set("OMP_DISPLAY_ENV", "VERBOSE");  // libgomp prints OMP_WAIT_POLICY and the spin count it derived

  // Whatever else runs now: the statement must match what libgomp read.
  ProcessResult r = run_ptq("version --json --gemm-size 0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = last_json_line(r.out);
  if (j["omp_wait_policy"] == "PASSIVE") {
    EXPECT_EQ(j["wait_policy_source"], "ptq default");
    EXPECT_NE(r.err.find("GOMP_SPINCOUNT = '0'"), std::string::npos) << r.err;
  } else {
    EXPECT_EQ(j["omp_wait_policy"], "");
    EXPECT_EQ(j["wait_policy_source"], "libgomp default");
    EXPECT_NE(r.err.find("GOMP_SPINCOUNT = '300000'"), std::string::npos) << r.err;
  }
  EXPECT_GE(j["threads"].get<int>(), 1);
  EXPECT_LE(j["threads"].get<int>(), j["hardware_threads"].get<int>());
  EXPECT_EQ(j["malloc"], "heap (no mmap, trim above 2 GiB)");  // core/heap_policy.h
  env.set("PTQ_MALLOC", "glibc");
  EXPECT_EQ(last_json_line(run_ptq("version --json --gemm-size 0").out)["malloc"], "glibc default (PTQ_MALLOC=glibc)");
  env.set("PTQ_MALLOC", nullptr);

  // Every CPU busy: one spinning child process per hardware thread.
  std::vector<pid_t> busy;
  for (int i = 0; i < j["hardware_threads"].get<int>(); ++i) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      volatile uint64_t x = 0;
      for (;;) x = x + 1;
    }
    busy.push_back(pid);
  }
  ::usleep(200000);
  r = run_ptq("version --json --gemm-size 0");
  for (pid_t pid : busy) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  j = last_json_line(r.out);
  EXPECT_EQ(j["omp_wait_policy"], "PASSIVE") << j.dump();
  EXPECT_EQ(j["wait_policy_source"], "ptq default");
  EXPECT_NE(r.err.find("GOMP_SPINCOUNT = '0'"), std::string::npos) << r.err;  // PASSIVE: no spinning at all
  EXPECT_EQ(j["threads"], 1) << j.dump();
  EXPECT_EQ(j["threads_source"].get<std::string>().rfind("free cpus (", 0), 0u) << j.dump();

  env.set("OMP_NUM_THREADS", "1");
  j = last_json_line(run_ptq("version --json --gemm-size 0").out);
  EXPECT_EQ(j["threads"], 1);
  EXPECT_EQ(j["threads_source"], "OMP_NUM_THREADS");
  j = last_json_line(run_ptq("version --json --gemm-size 0 --threads 2").out);
  EXPECT_EQ(j["threads"], 2);
  EXPECT_EQ(j["threads_source"], "explicit");

  env.set("OMP_WAIT_POLICY", "ACTIVE");  // the user's choice wins, and libgomp gets it
  r = run_ptq("version --json --gemm-size 0");
  j = last_json_line(r.out);
  EXPECT_EQ(j["omp_wait_policy"], "ACTIVE");
  EXPECT_EQ(j["wait_policy_source"], "environment");
  EXPECT_NE(r.err.find("OMP_WAIT_POLICY = 'ACTIVE'"), std::string::npos) << r.err;

  env.set("OMP_WAIT_POLICY", nullptr);
  env.set("GOMP_SPINCOUNT", "300000");
  j = last_json_line(run_ptq("version --json --gemm-size 0").out);
  EXPECT_EQ(j["omp_wait_policy"], "");
  EXPECT_EQ(j["gomp_spincount"], "300000");
  EXPECT_EQ(j["wait_policy_source"], "environment");
}

// ptq.measure_errors: false skips the error bookkeeping (no layer or block errors, the setting stored with the run)
// and leaves the quantized model exactly as it was: the same fake-quant perplexity, for GPTQ and AWQ (fp outputs from
// their capture forward) and RTN with calibration data (an fp forward of the pipeline's own when measuring).
TEST(Cli, RunWithoutErrorMeasurementQuantizesTheSameModel) {
  const std::string rtn_calib =
      " --set calib.name=tinystories --set calib.seq_len=128 --set calib.bs=1 --set calib.preproc=txt_general_preproc"
      " --set calib.seed=0 --set calib.first_doc=500 --set calib.last_doc=999";
  for (const auto& [cfg, sets] : std::vector<std::pair<std::string, std::string>>{
           {"quantization/methods/GPTQ/gptq_w_only.yml", ""},
           {"quantization/methods/Awq/awq_w_only.yml", ""},  // propagates fp outputs (quant_out false)
           {"quantization/methods/RTN/rtn_w_only.yml", rtn_calib}}) {
    auto run = [&](const std::string& extra) {
      auto r = run_ptq("run --config " + config_path(cfg) + sets + " --set model.path=" +
                       test::data_path("models/stories260K-hf") + " --set calib.n_samples=8 --set eval.max_windows=8 --set 'eval.eval_pos=[fake_quant]' --json" +
                       extra);
      EXPECT_EQ(r.exit_code, 0) << r.err;
      return r.exit_code == 0 ? last_json_line(r.out) : nlohmann::json::object();
    };
    const nlohmann::json on = run(""), off = run(" --set ptq.measure_errors=false");
    ASSERT_FALSE(on.empty() || off.empty()) << cfg;
    EXPECT_EQ(on["layer_errors"].size(), 35u) << cfg;
    EXPECT_EQ(on["block_errors"].size(), 5u) << cfg;
    EXPECT_TRUE(off["layer_errors"].empty()) << cfg;
    EXPECT_TRUE(off["block_errors"].empty()) << cfg;
    EXPECT_FALSE(on["config"].contains("measure_errors")) << cfg;  // the default keeps earlier run keys
    EXPECT_EQ(off["config"]["measure_errors"], false) << cfg;
    ASSERT_EQ(on["evals"].size(), 1u);
    EXPECT_EQ(on["evals"][0]["ppl"].get<double>(), off["evals"][0]["ppl"].get<double>()) << cfg;
  }
}

// Long loops report on standard error (core/progress.h): every step with PTQ_PROGRESS_INTERVAL=0, none by default on
// a run this short, none with "off"; standard output keeps the JSON line last.
TEST(Cli, ProgressLinesForBlocksAndWindowsOnStandardError) {
  const std::string args = "run --config " + config_path("quantization/methods/GPTQ/gptq_w_only.yml") +
                           " --set model.path=" + test::data_path("models/stories260K-hf") +
                           " --set calib.n_samples=4 --set eval.max_windows=3 --set 'eval.eval_pos=[fake_quant]' --json";
  const char* old = std::getenv("PTQ_PROGRESS_INTERVAL");
  const std::string saved = old ? old : "";
  auto run_with = [&](const char* value) {
    if (value) ::setenv("PTQ_PROGRESS_INTERVAL", value, 1);
    else ::unsetenv("PTQ_PROGRESS_INTERVAL");
    auto r = run_ptq(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NO_THROW(last_json_line(r.out));
    return r.err;
  };
  const std::string every = run_with("0"), quiet = run_with(nullptr), off = run_with("off");
  if (old) ::setenv("PTQ_PROGRESS_INTERVAL", saved.c_str(), 1);
  else ::unsetenv("PTQ_PROGRESS_INTERVAL");
  for (int b = 1; b <= 5; ++b)
    EXPECT_NE(every.find(fmt::format("ptq: quantize block {}/5: ", b)), std::string::npos) << every;
  EXPECT_NE(every.find("ETA"), std::string::npos) << every;
  EXPECT_NE(every.find("ptq: eval tinystories window 3/3: "), std::string::npos) << every;
  EXPECT_EQ(quiet.find("ptq: quantize block"), std::string::npos) << quiet;
  EXPECT_EQ(off.find("ptq: "), std::string::npos) << off;
}

// ptq.search_cache: AWQ's scale search stored per block, content-addressed. AWQ-academic and AWQ-LLMC (other clip)
// share it; a hit gives exactly the numbers of a run without the cache; other calibration data misses; the setting is
// not part of the stored configuration (run keys stay).
TEST(Cli, AwqScaleSearchIsSharedThroughTheSearchCache) {
  test::TempDir dir;
  const std::string cache = dir.file("cache");
  auto run = [&](const std::string& extra) {
    auto r = run_ptq("run --config " + config_path("quantization/methods/Awq/awq_w_only.yml") + " --set model.path=" +
                     test::data_path("models/stories260K-hf") +
                     " --set calib.n_samples=16 --set eval.max_windows=8 --set 'eval.eval_pos=[fake_quant]' --json" +
                     extra);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.exit_code == 0 ? last_json_line(r.out) : nlohmann::json::object();
  };
  auto states = [](const nlohmann::json& j) {
    std::set<std::string> s;
    for (int b = 0; b < 5; ++b) s.insert(j["notes"][std::to_string(b)].value("awq_search_cache", "none"));
    return s;
  };
  auto entries = [&] {
    size_t n = 0;
    if (std::filesystem::exists(cache + "/awq_scale_search"))
      for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(cache + "/awq_scale_search")) ++n;
    return n;
  };
  const std::string with = " --set ptq.search_cache=" + cache;
  const nlohmann::json academic = run(with + " --set quant.special.clip_sym=true");
  EXPECT_EQ(states(academic), std::set<std::string>{"miss"});
  EXPECT_EQ(entries(), 5u);
  const nlohmann::json llmc = run(with + " --set quant.special.clip_sym=false");
  EXPECT_EQ(states(llmc), std::set<std::string>{"hit"});
  const nlohmann::json llmc_plain = run(" --set quant.special.clip_sym=false");
  EXPECT_EQ(states(llmc_plain), std::set<std::string>{"none"});
  ASSERT_FALSE(llmc.empty() || llmc_plain.empty() || academic.empty());
  EXPECT_EQ(llmc["evals"][0]["ppl"].get<double>(), llmc_plain["evals"][0]["ppl"].get<double>());
  EXPECT_EQ(llmc["layer_errors"], llmc_plain["layer_errors"]);
  EXPECT_EQ(llmc["notes"]["3"]["awq_search_losses"], llmc_plain["notes"]["3"]["awq_search_losses"]);
  EXPECT_NE(academic["evals"][0]["ppl"].get<double>(), llmc["evals"][0]["ppl"].get<double>());  // the clip differs
  EXPECT_EQ(llmc["config"], llmc_plain["config"]);  // the cache is not part of the run's configuration
  const nlohmann::json other_data = run(with + " --set calib.seed=5");
  EXPECT_EQ(states(other_data), std::set<std::string>{"miss"});
  EXPECT_EQ(entries(), 10u);
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
  // Required options are declared once (cli/args.h) and checked by the parser, with the same message everywhere.
  for (const auto& [cmd, want] : std::vector<std::pair<std::string, std::string>>{
           {"table --db x.db", "ptq table: --matrix NAME is required"},
           {"plot --matrix m", "ptq plot: --out FILE.svg is required"},
           {"eval --dataset wikitext2", "ptq eval: --model PATH is required"},
           {"eval --model m", "ptq eval: --dataset NAME is required"},
           {"regress", "ptq regress: --baseline FILE is required"},
           {"dump", "ptq dump: --out FILE is required"},
           {"regress --baseline b.db --tolerance lots", "ptq regress: option --tolerance expects a number, got 'lots'"}}) {
    ProcessResult e = run_ptq(cmd);
    EXPECT_EQ(e.exit_code, 2) << cmd;
    EXPECT_NE(e.err.find(want), std::string::npos) << cmd << ": " << e.err;
  }
  EXPECT_NE(run_ptq("table --help").out.find("--matrix NAME            the matrix name (its `name:`) (required)"),
            std::string::npos);
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
  EXPECT_EQ(by_id["awq"]["llmc_names"], nlohmann::json::array({"Awq", "AWQ"}));
  ASSERT_TRUE(by_id.count("hqq")) << j.dump();
  EXPECT_FALSE(by_id["hqq"]["needs_calibration"].get<bool>());
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

// The CLI on the GPU (the CUDA issue: the other issues' tests on the GPU): `ptq eval --device cuda` gives the CPU's
// perplexity within 1e-5 and says where it ran; `ptq run` with ptq.device: cuda, with and without offloading the
// blocks, records the device, the GPU's name and a non-zero peak GPU memory, and the offloaded run quantizes to the
// same perplexity as the run with the whole model on the GPU (within 1e-6) and within 1e-3 of the CPU run.
TEST(Cli, EvalAndRunOnTheGpu_CUDA) {
  const std::string model = data_path("models/stories260K-hf");
  auto eval = [&](const std::string& dev) {
    auto r = run_ptq("eval --model " + model + " --dataset tinystories --seq-len 256 --max-windows 8 --batch-size 4 "
                     "--device " + dev + " --json");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.exit_code == 0 ? last_json_line(r.out) : nlohmann::json::object();
  };
  const nlohmann::json ec = eval("cpu"), eg = eval("cuda");
  ASSERT_FALSE(ec.empty() || eg.empty());
  EXPECT_NEAR(eg["ppl"].get<double>() / ec["ppl"].get<double>(), 1.0, 1e-5);
  EXPECT_EQ(eg["protocol"]["device"].get<std::string>().rfind("cuda", 0), 0u) << eg["protocol"].dump();

  auto run = [&](const std::string& dev, const std::string& offload) {
    auto r = run_ptq("run --config " + config_path("quantization/methods/GPTQ/gptq_w_only.yml") +
                     " --set calib.n_samples=16 --set eval.max_windows=8 --set 'eval.eval_pos=[fake_quant]'"
                     " --set ptq.device=" + dev + " --set ptq.offload=" + offload + " --json");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.exit_code == 0 ? last_json_line(r.out) : nlohmann::json::object();
  };
  const nlohmann::json rc = run("cpu", "none"), rg = run("cuda", "none"), ro = run("cuda", "blocks");
  ASSERT_FALSE(rc.empty() || rg.empty() || ro.empty());
  for (const auto* j : {&rg, &ro}) {
    EXPECT_EQ((*j)["memory"]["device"].get<std::string>().rfind("cuda", 0), 0u) << (*j)["memory"].dump();
    EXPECT_GT((*j)["memory"]["peak_device_bytes"].get<double>(), 0);
    EXPECT_FALSE((*j)["system"]["cuda_device"].get<std::string>().empty());
  }
  EXPECT_FALSE(rg["memory"]["offload"].get<bool>());
  EXPECT_TRUE(ro["memory"]["offload"].get<bool>());
  const double pc = rc["evals"][0]["ppl"], pg = rg["evals"][0]["ppl"], po = ro["evals"][0]["ppl"];
  EXPECT_NEAR(po / pg, 1.0, 1e-6) << po << " vs " << pg;
  EXPECT_NEAR(pg / pc, 1.0, 1e-3) << pg << " vs " << pc;
}

}  // namespace
}  // namespace ptq::test
