// Numerical guards, end to end through the ptq binary on stories260K: a NaN/inf in AWQ's search inputs, a GPTQ Hessian
// that cannot be factored (NaN entries; negated so that no damping helps; singular at percdamp 0, where raising the
// damping is enough) and an OmniQuant block whose training diverges (a learning rate far too large). Each is
// detected, recorded in the results store (table events: block, layer, kind, fallback), the documented fallback is
// applied, and the run finishes with a finite perplexity close to the unperturbed one. Faults are injected with
// PTQ_FAULT (src/core/fault_injection.h); divergence and the singular Hessian need no injection.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <map>
#include <set>

#include "store/store.h"
#include "support/test_data.h"

namespace ptq {
namespace {

std::string base_config() { return std::string(PTQ_SOURCE_DIR) + "/configs/quantization/methods/GPTQ/gptq_w_only.yml"; }

struct Outcome {
  test::ProcessResult process;
  RunRecord run;
  double ppl_fp = NAN, ppl_q = NAN;
};

// One cell (base + `set`, with small calibration and evaluation) run as a matrix into a fresh store, with `fault` in
// PTQ_FAULT (empty: none). The run must finish; its stored record is returned.
Outcome run_cell(const test::TempDir& dir, const std::string& name, const std::string& set, const std::string& fault) {
  const std::string file = dir.file(name + ".yaml"), db = dir.file(name + ".db");
  test::write_file(file, fmt::format("name: {}\nbase: {}\nset: {{model.path: \"{}\", calib.n_samples: 8, "
                                     "calib.seq_len: 64, eval.max_windows: 8, eval.seq_len: 128}}\n"
                                     "axes:\n  cell:\n    - {{name: only, set: {}}}\n",
                                     name, base_config(), test::data_path("models/stories260K-hf"), set));
  if (fault.empty())
    ::unsetenv("PTQ_FAULT");
  else
    ::setenv("PTQ_FAULT", fault.c_str(), 1);
  Outcome o;
  o.process = test::run_ptq(fmt::format("run {} --db {} --threads 1", file, db));
  ::unsetenv("PTQ_FAULT");
  EXPECT_EQ(o.process.exit_code, 0) << o.process.out << o.process.err;
  Store store(db);
  const auto runs = store.runs(name);
  EXPECT_EQ(runs.size(), 1u);
  if (runs.empty()) return o;
  o.run = runs.front();
  EXPECT_EQ(o.run.status, RunStatus::kFinished) << o.run.error;
  for (const auto& m : o.run.metrics)
    if (m.name == "ppl") (m.pos == "pretrain" ? o.ppl_fp : o.ppl_q) = m.value;
  return o;
}

// The events of a run as (block, kind) -> layers.
std::map<std::pair<int64_t, std::string>, std::set<std::string>> by_kind(const RunRecord& r) {
  std::map<std::pair<int64_t, std::string>, std::set<std::string>> out;
  for (const auto& e : r.events) out[{e.block, e.kind}].insert(e.layer);
  return out;
}

// A fault in one block costs little accuracy: the perturbed run stays finite and within `rel` of the clean one.
void expect_close_ppl(const Outcome& faulty, const Outcome& clean, double rel) {
  ASSERT_TRUE(std::isfinite(faulty.ppl_q)) << faulty.process.err;
  ASSERT_TRUE(std::isfinite(clean.ppl_q));
  EXPECT_NEAR(faulty.ppl_q, clean.ppl_q, rel * clean.ppl_q);
  EXPECT_EQ(faulty.ppl_fp, clean.ppl_fp);  // the fp baseline is not touched by a fault in the method
}

TEST(NumericalGuards, AwqNonFiniteSearchFallsBackToNoScaling) {
  test::TempDir dir;
  const std::string awq = "{quant.method: Awq, quant.special: {trans: true, weight_clip: true}, calib.bs: -1}";
  const Outcome clean = run_cell(dir, "awq_clean", awq, "");
  const Outcome faulty = run_cell(dir, "awq_nan", awq, "awq_nan_input@1");
  EXPECT_TRUE(clean.run.events.empty()) << clean.process.err;
  const auto ev = by_kind(faulty.run);
  // Block 1: the three scale searches (q/k/v, gate/up, down; v->o is skipped under GQA) saw a NaN and an inf.
  const std::set<std::string> subsets = {"model.layers.1.self_attn.q_proj", "model.layers.1.mlp.gate_proj",
                                         "model.layers.1.mlp.down_proj"};
  ASSERT_TRUE(ev.count({1, "awq_scale_search_nonfinite"})) << faulty.process.err;
  EXPECT_EQ(ev.at({1, "awq_scale_search_nonfinite"}), subsets);
  // The clip search of every clipped linear (v, o, gate, up, down) had ranges without a finite error.
  ASSERT_TRUE(ev.count({1, "awq_clip_search_nonfinite"}));
  EXPECT_EQ(ev.at({1, "awq_clip_search_nonfinite"}).size(), 5u);
  for (const auto& e : faulty.run.events) {
    EXPECT_EQ(e.block, 1) << e.layer;  // nothing in the other blocks
    EXPECT_FALSE(e.fallback.empty());
    if (e.kind == "awq_scale_search_nonfinite") {
      EXPECT_EQ(e.fallback.rfind("scale 1 (no scaling)", 0), 0u) << e.fallback;
      EXPECT_GE(e.detail["nonfinite_inputs"].get<int64_t>(), 2) << e.detail.dump();
    }
  }
  EXPECT_NE(faulty.process.err.find("ptq: warning: model.layers.1.self_attn.q_proj: awq_scale_search_nonfinite"),
            std::string::npos)
      << faulty.process.err;
  // One of four blocks unscaled: a little worse than full AWQ, nowhere near broken.
  expect_close_ppl(faulty, clean, 0.10);
}

TEST(NumericalGuards, GptqUnusableHessianFallsBackToRtn) {
  test::TempDir dir;
  const std::string gptq = "{quant.method: GPTQ}";
  const Outcome clean = run_cell(dir, "gptq_clean", gptq, "");
  const Outcome faulty = run_cell(dir, "gptq_bad", gptq, "gptq_nan_hessian@2,gptq_indefinite_hessian@0");
  EXPECT_TRUE(clean.run.events.empty()) << clean.process.err;
  const auto ev = by_kind(faulty.run);
  std::set<std::string> all0, all2;
  for (const char* l : {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj",
                        "mlp.up_proj", "mlp.down_proj"}) {
    all0.insert(std::string("model.layers.0.") + l);
    all2.insert(std::string("model.layers.2.") + l);
  }
  ASSERT_TRUE(ev.count({0, "gptq_hessian_unusable"})) << faulty.process.err;
  ASSERT_TRUE(ev.count({2, "gptq_hessian_unusable"})) << faulty.process.err;
  EXPECT_EQ(ev.at({0, "gptq_hessian_unusable"}), all0);
  EXPECT_EQ(ev.at({2, "gptq_hessian_unusable"}), all2);
  EXPECT_EQ(faulty.run.events.size(), 14u);
  for (const auto& e : faulty.run.events) {
    EXPECT_EQ(e.fallback.rfind("rtn", 0), 0u) << e.fallback;
    const std::string why = e.detail["reason"].get<std::string>();
    if (e.block == 0) EXPECT_NE(why.find("mean diagonal"), std::string::npos) << why;  // negated: no damping helps
    if (e.block == 2) EXPECT_NE(why.find("non-finite"), std::string::npos) << why;
  }
  // The fallback is recorded in the notes as well, and the layers hold RTN weights: finite, a little worse.
  EXPECT_EQ(faulty.run.notes["0"]["self_attn.q_proj"]["fallback"], "rtn") << faulty.run.notes.dump();
  expect_close_ppl(faulty, clean, 0.10);
}

// No injection: 1 calibration sequence of 16 tokens gives Hessians of rank <= 16 < 64 inputs, singular without
// damping (percdamp 0): the Cholesky fails, the damping is raised (0.01 x mean diag) and the solve goes on.
TEST(NumericalGuards, GptqSingularHessianRetriesWithMoreDamping) {
  test::TempDir dir;
  const Outcome o =
      run_cell(dir, "gptq_singular",
               "{quant.method: GPTQ, quant.special.percdamp: 0, quant.special.actorder: false, calib.n_samples: 1, "
               "calib.seq_len: 16}",
               "");
  int retried = 0;
  for (const auto& e : o.run.events) {
    ASSERT_EQ(e.kind, "gptq_cholesky_retry") << e.layer;
    EXPECT_GE(e.detail["retries"].get<int>(), 1);
    EXPECT_GT(e.detail["damp"].get<double>(), 0);
    EXPECT_NE(e.fallback.find("damping raised"), std::string::npos) << e.fallback;
    ++retried;
  }
  EXPECT_GE(retried, 4) << o.process.err;  // q/k/v and gate/up/down of several blocks: rank 16 < 64 inputs
  EXPECT_TRUE(std::isfinite(o.ppl_q));
}

// A learning rate 10^4 times too large: training makes the block worse than its initial clipping, the guard keeps
// the initial (or best-epoch) parameters and records it; the result is as good as OmniQuant with 0 epochs or better.
TEST(NumericalGuards, OmniQuantDivergingBlockFallsBack) {
  test::TempDir dir;
  const std::string omni = "{quant.method: OmniQuant, quant.special: {lwc: true, epochs: 2, lwc_lr: %s}}";
  auto with_lr = [&](const char* lr) {
    std::string s = omni;
    s.replace(s.find("%s"), 2, lr);
    return s;
  };
  const Outcome none =
      run_cell(dir, "omni_init", "{quant.method: OmniQuant, quant.special: {lwc: true, epochs: 0}}", "");
  const Outcome diverged = run_cell(dir, "omni_diverge", with_lr("100.0"), "");
  int blocks = 0;
  for (const auto& e : diverged.run.events) {
    ASSERT_EQ(e.kind, "omniquant_diverged") << e.layer;
    EXPECT_EQ(e.layer, fmt::format("model.layers.{}", e.block));
    EXPECT_GT(e.detail["loss_init"].get<double>(), 0);
    EXPECT_LE(e.detail["loss_kept"].get<double>(), e.detail["loss_init"].get<double>());
    EXPECT_TRUE(e.fallback == "initial parameters" || e.fallback == "end of the epoch with the lowest mean loss")
        << e.fallback;
    ++blocks;
  }
  EXPECT_GE(blocks, 1) << diverged.process.err;
  ASSERT_TRUE(std::isfinite(diverged.ppl_q));
  // Every diverged block is back at (or below) its initial loss: the model is no worse than untrained OmniQuant
  // (the σ(4) clip of every range) by more than the other blocks' training noise.
  EXPECT_LT(diverged.ppl_q, none.ppl_q * 1.05);
}

}  // namespace
}  // namespace ptq
