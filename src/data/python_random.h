// CPython's random.Random for integer seeds, so that samples drawn by reference Python code (GPTQ's C4 evaluation
// windows: random.seed(0), random.randint) can be drawn identically in C++. Scope: seed(int), getrandbits(k) for
// k <= 64, randint(a, b); CPython 3.2 and later draw randint the same way (rejection sampling on getrandbits).
//   seed(n)        MT19937 init_by_array with the 32-bit words of |n|, least significant first (n = 0: one word 0)
//   getrandbits(k) k <= 32: next 32-bit output >> (32 - k); 32 < k <= 64: two outputs, the first the low word
//   randint(a, b)  a + r, r = getrandbits(bit_length(b - a + 1)) redrawn while r > b - a
#pragma once

#include <array>
#include <cstdint>

namespace ptq {

class PythonRandom {
 public:
  explicit PythonRandom(uint64_t seed);
  uint64_t getrandbits(int k);
  // The next 32-bit MT19937 output (CPython's genrand_uint32).
  uint32_t next32();
  // Inclusive bounds; b >= a (CPython raises on an empty range).
  int64_t randint(int64_t a, int64_t b);

 private:
  std::array<uint32_t, 624> mt_{};
  int index_ = 624;  // next word of mt_ to temper; 624 = regenerate the block first
};

}  // namespace ptq
