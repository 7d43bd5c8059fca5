#include <gtest/gtest.h>

#include "core/error.h"
#include "core/quant_spec.h"

namespace ptq {
namespace {

// Expects `fn` to throw a user error whose message contains `needle`.
template <class Fn>
void expect_user_error(Fn&& fn, const std::string& needle) {
  try {
    fn();
    ADD_FAILURE() << "no error; expected one containing '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUser);
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << "message: " << e.what();
  }
}

TEST(QuantScheme, CanonicalNamesRoundTrip) {
  for (const char* name : {"w4a16g128", "w4g128", "w2g64", "w3g128", "w8a8", "w4a4", "w6a6", "w2g64-sym", "w8a8-asym",
                           "w4a8-aasym-atensor", "w8-wtensor", "w4a8g128-ag64", "w4", "w8a8g128"}) {
    EXPECT_EQ(QuantScheme::parse(name).name(), name);
  }
}

TEST(QuantScheme, DefaultsFollowLlmcConfigs) {
  QuantScheme w = QuantScheme::parse("w4a16g128");
  EXPECT_EQ(w.weight.bits, 4);
  EXPECT_FALSE(w.weight.symmetric);  // rtn_w_only.yml: asymmetric per_group 128
  EXPECT_EQ(w.weight.granularity, Granularity::kPerGroup);
  EXPECT_EQ(w.weight.group_size, 128);
  EXPECT_FALSE(w.act.has_value());
  EXPECT_EQ(w, QuantScheme::parse("w4g128"));  // a16 spelled or not: the same setting

  QuantScheme wa = QuantScheme::parse("w8a8");  // rtn_w_a.yml: W8 sym per_channel, A8 sym per_token
  EXPECT_TRUE(wa.weight.symmetric);
  EXPECT_EQ(wa.weight.granularity, Granularity::kPerChannel);
  ASSERT_TRUE(wa.act.has_value());
  EXPECT_EQ(wa.act->bits, 8);
  EXPECT_TRUE(wa.act->symmetric);
  EXPECT_EQ(wa.act->granularity, Granularity::kPerToken);

  EXPECT_EQ(QuantScheme::parse("w4g128-asym"), QuantScheme::parse("w4g128"));  // non-canonical spelling accepted
  EXPECT_EQ(QuantScheme::parse("w4g128-asym").name(), "w4g128");
}

TEST(QuantScheme, EverySpecSurvivesNameAndParse) {
  for (int wb = 2; wb <= 8; ++wb)
    for (bool wsym : {false, true})
      for (auto wg : {Granularity::kPerTensor, Granularity::kPerChannel, Granularity::kPerGroup})
        for (int ab : {0, 2, 4, 8})
          for (bool asym : {false, true})
            for (auto ag : {Granularity::kPerTensor, Granularity::kPerToken, Granularity::kPerGroup}) {
              QuantScheme s;
              s.weight = {wb, wsym, wg, wg == Granularity::kPerGroup ? 64 : 0};
              if (ab > 0) s.act = QuantSpec{ab, asym, ag, ag == Granularity::kPerGroup ? 32 : 0};
              const std::string n = s.name();
              EXPECT_EQ(QuantScheme::parse(n), s) << n;
              EXPECT_EQ(QuantScheme::parse(n).name(), n);
            }
}

TEST(QuantScheme, BadNamesAreClearErrors) {
  expect_user_error([] { QuantScheme::parse("w1g128"); }, "weight bits must be in 2..8, got 1");
  expect_user_error([] { QuantScheme::parse("w9"); }, "weight bits must be in 2..8, got 9");
  expect_user_error([] { QuantScheme::parse("w4g0"); }, "weight group size must be positive, got 0");
  expect_user_error([] { QuantScheme::parse("w4a1"); }, "activation bits must be in 2..8 or 16, got 1");
  expect_user_error([] { QuantScheme::parse("w4a9"); }, "activation bits must be in 2..8 or 16, got 9");
  expect_user_error([] { QuantScheme::parse("x4"); }, "must start with 'w<bits>'");
  expect_user_error([] { QuantScheme::parse(""); }, "must start with 'w<bits>'");
  expect_user_error([] { QuantScheme::parse("w4g"); }, "expected a number after 'g'");
  expect_user_error([] { QuantScheme::parse("wg128"); }, "expected a number after 'w'");
  expect_user_error([] { QuantScheme::parse("w4q8"); }, "unexpected 'q8'");
  expect_user_error([] { QuantScheme::parse("w4g-128"); }, "expected a number after 'g'");
  expect_user_error([] { QuantScheme::parse("w4g128-foo"); }, "unknown modifier 'foo'");
  expect_user_error([] { QuantScheme::parse("w4g128-aasym"); }, "'aasym' needs quantized activations");
  expect_user_error([] { QuantScheme::parse("w4g128-wtensor"); }, "'wtensor' contradicts 'g128'");
  expect_user_error([] { QuantScheme::parse("w4g99999999999"); }, "out of range");
}

TEST(QuantSpec, ValidateRejectsBadSpecs) {
  expect_user_error([] { QuantSpec{1, true, Granularity::kPerChannel, 0}.validate(TensorRole::kWeight); },
                    "weight bits must be in 2..8, got 1");
  expect_user_error([] { QuantSpec{9, true, Granularity::kPerChannel, 0}.validate(TensorRole::kWeight); },
                    "weight bits must be in 2..8, got 9");
  expect_user_error([] { QuantSpec{4, false, Granularity::kPerGroup, 0}.validate(TensorRole::kWeight); },
                    "weight group size must be positive, got 0");
  expect_user_error([] { QuantSpec{4, false, Granularity::kPerGroup, -64}.validate(TensorRole::kWeight); },
                    "weight group size must be positive, got -64");
  expect_user_error([] { QuantSpec{8, true, Granularity::kPerToken, 0}.validate(TensorRole::kWeight); },
                    "per_token granularity applies to activations only");
  expect_user_error([] { QuantSpec{8, true, Granularity::kPerChannel, 0}.validate(TensorRole::kActivation); },
                    "per_channel granularity applies to weights");
  EXPECT_NO_THROW((QuantSpec{8, true, Granularity::kPerToken, 0}.validate(TensorRole::kActivation)));
  EXPECT_NO_THROW((QuantSpec{2, false, Granularity::kPerGroup, 64}.validate(TensorRole::kWeight)));
}

TEST(QuantSpec, GridsMatchLlmc) {
  QuantSpec s4{4, true, Granularity::kPerChannel, 0};
  EXPECT_EQ(s4.qmin(), -8);
  EXPECT_EQ(s4.qmax(), 7);
  QuantSpec a4{4, false, Granularity::kPerChannel, 0};
  EXPECT_EQ(a4.qmin(), 0);
  EXPECT_EQ(a4.qmax(), 15);
  QuantSpec s8{8, true, Granularity::kPerToken, 0};
  EXPECT_EQ(s8.qmin(), -128);
  EXPECT_EQ(s8.qmax(), 127);
}

TEST(QuantSpec, GranularityNames) {
  for (auto g : {Granularity::kPerTensor, Granularity::kPerChannel, Granularity::kPerGroup, Granularity::kPerToken})
    EXPECT_EQ(parse_granularity(granularity_name(g)), g);
  expect_user_error([] { parse_granularity("per_row"); }, "unknown granularity 'per_row'");
  EXPECT_EQ(QuantSpec({3, false, Granularity::kPerGroup, 128}).describe(), "int3 asym per_group(128)");
}

}  // namespace
}  // namespace ptq
