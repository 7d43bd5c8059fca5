// What to quantize and how: one tensor's integer grid (QuantSpec) and a model's bit setting (QuantScheme).
//
// QuantScheme names, as used in experiment matrices and paper tables:
//   name := 'w' BITS ['a' BITS] ['g' GROUP] {'-' MOD}
//   w BITS   weight bits, 2..8
//   a BITS   activation bits, 2..8, or 16 = activations stay in floating point (the same as leaving 'a' out)
//   g GROUP  weights per group of GROUP input channels (GROUP > 0); without it weights are per output channel
//   MOD      sym | asym   weight grid; default asym for weight-only, sym with quantized activations
//                         (LLMC's rtn_w_only.yml and rtn_w_a.yml)
//            wtensor      one weight range per tensor
//            aasym        asymmetric activation grid (default symmetric)
//            atensor      one activation range per tensor (default per token)
//            ag GROUP     activations per group of GROUP channels
// Examples: w4a16g128 (= w4g128), w3g128, w2g64-sym, w8a8, w4a4, w6a6-aasym.
// parse(name) then name() gives the name back as written when it is canonical (no default MOD spelled out);
// parse(s.name()) == s always.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ptq {

enum class Granularity {
  kPerTensor,   // one range for the whole tensor
  kPerChannel,  // one range per row (per output channel of a weight [out, in])
  kPerGroup,    // one range per `group_size` consecutive elements of a row; the last group may be partial
  kPerToken,    // activations [..., C]: one range per token (same reduction as kPerChannel)
};

enum class TensorRole { kWeight, kActivation };

// LLMC key spellings: "per_tensor", "per_channel", "per_group", "per_token".
std::string_view granularity_name(Granularity g);
Granularity parse_granularity(std::string_view name);  // throws a user error listing the accepted names

struct QuantSpec {
  int bits = 4;
  bool symmetric = false;
  Granularity granularity = Granularity::kPerGroup;
  int64_t group_size = 128;  // meaningful only for kPerGroup

  // Throws a user error when the spec cannot describe a `role` tensor: bits outside 2..8, group size <= 0,
  // per_token for weights, per_channel for activations.
  void validate(TensorRole role) const;
  // Integer grid: symmetric [-2^(b-1), 2^(b-1)-1], asymmetric [0, 2^b-1] (LLMC quant.py).
  int64_t qmin() const;
  int64_t qmax() const;
  // Human-readable, e.g. "int4 asym per_group(128)".
  std::string describe() const;

  friend bool operator==(const QuantSpec& a, const QuantSpec& b) {
    return a.bits == b.bits && a.symmetric == b.symmetric && a.granularity == b.granularity &&
           (a.granularity != Granularity::kPerGroup || a.group_size == b.group_size);
  }
};

struct QuantScheme {
  QuantSpec weight;
  std::optional<QuantSpec> act;  // nullopt: activations are not quantized (a16)
  bool a16_spelled = false;      // "w4a16g128" rather than "w4g128"; only affects name()

  static QuantScheme parse(std::string_view name);  // throws a user error naming the offending part
  std::string name() const;
  void validate() const;

  friend bool operator==(const QuantScheme& a, const QuantScheme& b) {
    return a.weight == b.weight && a.act == b.act;
  }
};

}  // namespace ptq
