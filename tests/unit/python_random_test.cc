// PythonRandom against CPython 3.11: the expected values were printed by
//   import random; random.seed(0); [random.randint(0, 1999) for _ in range(8)]; random.randint(0, 10**12);
//   random.getrandbits(64); random.getrandbits(7); random.seed(12345); [random.randint(5, 9) for _ in range(6)]
#include <gtest/gtest.h>

#include <vector>

#include "data/python_random.h"

namespace ptq {
namespace {

TEST(PythonRandom, MatchesCPythonSeedZero) {
  PythonRandom r(0);
  std::vector<int64_t> got;
  for (int i = 0; i < 8; ++i) got.push_back(r.randint(0, 1999));
  EXPECT_EQ(got, (std::vector<int64_t>{1729, 788, 1552, 1823, 861, 82, 530, 1977}));
  EXPECT_EQ(r.randint(0, 1000000000000), 534771852898);  // 40 bits: two 32-bit draws
  EXPECT_EQ(r.getrandbits(64), 16938433693753131896ull);
  EXPECT_EQ(r.getrandbits(7), 100u);
}

TEST(PythonRandom, MatchesCPythonOtherSeedAndSmallRange) {
  PythonRandom r(12345);
  std::vector<int64_t> got;
  for (int i = 0; i < 6; ++i) got.push_back(r.randint(5, 9));  // width 5: 3 bits, redrawn on 5, 6, 7
  EXPECT_EQ(got, (std::vector<int64_t>{8, 5, 7, 7, 6, 7}));
}

}  // namespace
}  // namespace ptq
