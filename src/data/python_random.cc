#include "data/python_random.h"

#include <algorithm>
#include <array>
#include <vector>

#include "core/error.h"

namespace ptq {

namespace {

constexpr int kN = 624;

// MT19937's reference initialisation from a key array (init_genrand(19650218), then two mixing passes), which CPython
// uses for every integer seed.
std::array<uint32_t, kN> init_by_array(const std::vector<uint32_t>& key) {
  std::array<uint32_t, kN> mt{};
  mt[0] = 19650218u;
  for (int i = 1; i < kN; ++i) mt[i] = 1812433253u * (mt[i - 1] ^ (mt[i - 1] >> 30)) + static_cast<uint32_t>(i);
  int i = 1;
  size_t j = 0;
  for (size_t k = std::max<size_t>(kN, key.size()); k > 0; --k) {
    mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1664525u)) + key[j] + static_cast<uint32_t>(j);
    ++i, ++j;
    if (i >= kN) mt[0] = mt[kN - 1], i = 1;
    if (j >= key.size()) j = 0;
  }
  for (int k = kN - 1; k > 0; --k) {
    mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1566083941u)) - static_cast<uint32_t>(i);
    ++i;
    if (i >= kN) mt[0] = mt[kN - 1], i = 1;
  }
  mt[0] = 0x80000000u;
  return mt;
}

int bit_length(uint64_t n) {
  int k = 0;
  for (; n != 0; n >>= 1) ++k;
  return k;
}

}  // namespace

PythonRandom::PythonRandom(uint64_t seed) {
  std::vector<uint32_t> key;
  for (uint64_t s = seed; s != 0; s >>= 32) key.push_back(static_cast<uint32_t>(s & 0xffffffffu));
  if (key.empty()) key.push_back(0);
  mt_ = init_by_array(key);
}

uint32_t PythonRandom::next32() {
  // MT19937: regenerate the 624-word block, then temper one word per output.
  constexpr uint32_t kMatrixA = 0x9908b0dfu, kUpper = 0x80000000u, kLower = 0x7fffffffu;
  if (index_ >= kN) {
    for (int i = 0; i < kN; ++i) {
      const uint32_t y = (mt_[i] & kUpper) | (mt_[(i + 1) % kN] & kLower);
      mt_[i] = mt_[(i + 397) % kN] ^ (y >> 1) ^ ((y & 1u) ? kMatrixA : 0u);
    }
    index_ = 0;
  }
  uint32_t y = mt_[index_++];
  y ^= y >> 11;
  y ^= (y << 7) & 0x9d2c5680u;
  y ^= (y << 15) & 0xefc60000u;
  y ^= y >> 18;
  return y;
}

uint64_t PythonRandom::getrandbits(int k) {
  PTQ_ASSERT(k >= 1 && k <= 64, "getrandbits({})", k);
  if (k <= 32) return static_cast<uint64_t>(next32()) >> (32 - k);
  const uint64_t low = next32();
  const uint64_t high = static_cast<uint64_t>(next32()) >> (64 - k);
  return low | (high << 32);
}

int64_t PythonRandom::randint(int64_t a, int64_t b) {
  PTQ_ASSERT(b >= a, "randint({}, {}): empty range", a, b);
  const uint64_t n = static_cast<uint64_t>(b - a) + 1;
  const int k = bit_length(n);
  uint64_t r = getrandbits(k);
  while (r >= n) r = getrandbits(k);
  return a + static_cast<int64_t>(r);
}

}  // namespace ptq
