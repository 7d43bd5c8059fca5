// ptq regress on a real (small) matrix run: identical stores pass, an injected perplexity regression fails with exit
// 3, an improvement passes, a missing cell fails unless allowed.
#include <gtest/gtest.h>

#include <filesystem>

#include "store/store.h"
#include "support/test_data.h"

namespace ptq {
namespace {

namespace fs = std::filesystem;

// Scales the fake_quant ppl of the first finished run in `db` by `factor`.
void scale_first_run_ppl(const std::string& db, double factor) {
  Database d(db, false);
  Statement s(d, "UPDATE metrics SET value = value * ?1 WHERE name = 'ppl' AND pos = 'fake_quant' AND run_id = "
                 "(SELECT min(id) FROM runs WHERE status = 'finished')");
  s.bind(1, factor);
  s.step();
}

TEST(Regress, InjectedRegressionFailsIdenticalPasses) {
  test::TempDir dir;
  const std::string matrix = dir.file("m.yaml");
  test::write_file(matrix, fmt::format(
      "name: regress_demo\nbase: {}/configs/quantization/methods/RTN/rtn_w_only.yml\n"
      "set: {{model.path: \"{}\", eval.max_windows: 4, eval.seq_len: 128}}\n"
      "axes:\n  bits:\n    - {{name: w3g32, set: {{quant.weight.bit: 3}}}}\n"
      "    - {{name: w4g32, set: {{quant.weight.bit: 4}}}}\n",
      PTQ_SOURCE_DIR, test::data_path("models/stories260K-hf")));
  const std::string a = dir.file("a.db");
  auto run = test::run_ptq("run " + matrix + " --db " + a + " --threads 1");
  ASSERT_EQ(run.exit_code, 0) << run.err << run.out;

  auto same = test::run_ptq("regress --db " + a + " --baseline " + a);
  EXPECT_EQ(same.exit_code, 0) << same.out << same.err;
  EXPECT_NE(same.out.find("PASS"), std::string::npos) << same.out;

  const std::string b = dir.file("b.db");
  fs::copy_file(a, b);
  scale_first_run_ppl(b, 1.10);
  auto worse = test::run_ptq("regress --db " + b + " --baseline " + a + " --matrix regress_demo");
  EXPECT_EQ(worse.exit_code, 3) << worse.out << worse.err;
  EXPECT_NE(worse.out.find("REGRESSION"), std::string::npos) << worse.out;
  EXPECT_NE(worse.out.find("bits=w3g32"), std::string::npos) << worse.out;
  EXPECT_EQ(test::run_ptq("regress --db " + b + " --baseline " + a + " --tolerance 0.2").exit_code, 0);
  // The other direction is an improvement, not a regression.
  EXPECT_EQ(test::run_ptq("regress --db " + a + " --baseline " + b).exit_code, 0);

  const std::string c = dir.file("c.db");
  fs::copy_file(a, c);
  {
    Database d(c, false);
    Statement s(d, "DELETE FROM runs WHERE id = (SELECT max(id) FROM runs)");
    s.step();
  }
  auto missing = test::run_ptq("regress --db " + c + " --baseline " + a);
  EXPECT_EQ(missing.exit_code, 3) << missing.out;
  EXPECT_NE(missing.out.find("MISSING"), std::string::npos) << missing.out;
  EXPECT_EQ(test::run_ptq("regress --db " + c + " --baseline " + a + " --allow-missing").exit_code, 0);

  auto bad = test::run_ptq("regress --db " + a + " --baseline " + dir.file("nope.db"));
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("nope.db: no such baseline store"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace ptq
