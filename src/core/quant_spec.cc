#include "core/quant_spec.h"

#include <charconv>
#include <vector>

#include "core/error.h"

namespace ptq {

namespace {

constexpr struct {
  Granularity g;
  std::string_view name;
} kGranularityNames[] = {
    {Granularity::kPerTensor, "per_tensor"},
    {Granularity::kPerChannel, "per_channel"},
    {Granularity::kPerGroup, "per_group"},
    {Granularity::kPerToken, "per_token"},
};

// Reads the decimal number at s[pos...]; advances pos. Throws naming `what` in `name` when there is none.
int64_t read_number(std::string_view name, std::string_view s, size_t& pos, std::string_view what) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data() + pos, s.data() + s.size(), v);
  PTQ_CHECK(ec == std::errc() && end != s.data() + pos, "quantization scheme '{}': expected a number after '{}'",
            name, what);
  PTQ_CHECK(v <= 1 << 20, "quantization scheme '{}': '{}{}' is out of range", name, what, v);
  pos = static_cast<size_t>(end - s.data());
  return v;
}

}  // namespace

std::string_view granularity_name(Granularity g) {
  for (const auto& row : kGranularityNames)
    if (row.g == g) return row.name;
  PTQ_ASSERT(false, "granularity {}", static_cast<int>(g));
}

Granularity parse_granularity(std::string_view name) {
  for (const auto& row : kGranularityNames)
    if (row.name == name) return row.g;
  PTQ_FAIL("unknown granularity '{}' (expected per_tensor, per_channel, per_group or per_token)", name);
}

void QuantSpec::validate(TensorRole role) const {
  const char* what = role == TensorRole::kWeight ? "weight" : "activation";
  PTQ_CHECK(bits >= 2 && bits <= 8, "{} bits must be in 2..8, got {}", what, bits);
  if (granularity == Granularity::kPerGroup)
    PTQ_CHECK(group_size > 0, "{} group size must be positive, got {}", what, group_size);
  PTQ_CHECK(!(role == TensorRole::kWeight && granularity == Granularity::kPerToken),
            "per_token granularity applies to activations only; weights take per_tensor, per_channel or per_group");
  PTQ_CHECK(!(role == TensorRole::kActivation && granularity == Granularity::kPerChannel),
            "per_channel granularity applies to weights; activations take per_tensor, per_token or per_group");
}

int64_t QuantSpec::qmin() const { return symmetric ? -(int64_t{1} << (bits - 1)) : 0; }
int64_t QuantSpec::qmax() const { return symmetric ? (int64_t{1} << (bits - 1)) - 1 : (int64_t{1} << bits) - 1; }

std::string QuantSpec::describe() const {
  std::string s = fmt::format("int{} {} {}", bits, symmetric ? "sym" : "asym", granularity_name(granularity));
  if (granularity == Granularity::kPerGroup) s += fmt::format("({})", group_size);
  return s;
}

QuantScheme QuantScheme::parse(std::string_view name) {
  PTQ_CHECK(!name.empty() && name[0] == 'w', "quantization scheme '{}' must start with 'w<bits>' (e.g. w4a16g128)",
            name);
  std::vector<std::string_view> parts;
  for (size_t start = 0;;) {
    size_t dash = name.find('-', start);
    parts.push_back(name.substr(start, dash == std::string_view::npos ? std::string_view::npos : dash - start));
    if (dash == std::string_view::npos) break;
    start = dash + 1;
  }

  QuantScheme s;
  std::string_view head = parts[0];
  size_t pos = 1;
  s.weight.bits = static_cast<int>(read_number(name, head, pos, "w"));
  int act_bits = 16;
  if (pos < head.size() && head[pos] == 'a') {
    ++pos;
    act_bits = static_cast<int>(read_number(name, head, pos, "a"));
    s.a16_spelled = act_bits == 16;
  }
  bool grouped = false;
  if (pos < head.size() && head[pos] == 'g') {
    ++pos;
    s.weight.group_size = read_number(name, head, pos, "g");
    grouped = true;
  }
  PTQ_CHECK(pos == head.size(), "quantization scheme '{}': unexpected '{}' (grammar: w<b>[a<b>][g<group>][-mod...])",
            name, head.substr(pos));

  if (act_bits != 16) {
    PTQ_CHECK(act_bits >= 2 && act_bits <= 8, "quantization scheme '{}': activation bits must be in 2..8 or 16, got {}",
              name, act_bits);
    s.act = QuantSpec{act_bits, /*symmetric=*/true, Granularity::kPerToken, 0};
  }
  s.weight.symmetric = s.act.has_value();
  s.weight.granularity = grouped ? Granularity::kPerGroup : Granularity::kPerChannel;
  if (!grouped) s.weight.group_size = 0;

  for (size_t i = 1; i < parts.size(); ++i) {
    std::string_view mod = parts[i];
    if (mod == "sym" || mod == "asym") {
      s.weight.symmetric = mod == "sym";
    } else if (mod == "wtensor") {
      PTQ_CHECK(!grouped, "quantization scheme '{}': 'wtensor' contradicts 'g{}'", name, s.weight.group_size);
      s.weight.granularity = Granularity::kPerTensor;
    } else if (mod == "aasym" || mod == "atensor") {
      PTQ_CHECK(s.act.has_value(), "quantization scheme '{}': '{}' needs quantized activations (a2..a8)", name, mod);
      if (mod == "aasym") s.act->symmetric = false;
      else s.act->granularity = Granularity::kPerTensor;
    } else if (mod.size() > 2 && mod.substr(0, 2) == "ag") {
      PTQ_CHECK(s.act.has_value(), "quantization scheme '{}': '{}' needs quantized activations (a2..a8)", name, mod);
      size_t p = 2;
      s.act->group_size = read_number(name, mod, p, "ag");
      PTQ_CHECK(p == mod.size(), "quantization scheme '{}': unexpected '{}' after 'ag'", name, mod.substr(p));
      s.act->granularity = Granularity::kPerGroup;
    } else {
      PTQ_FAIL("quantization scheme '{}': unknown modifier '{}' (known: sym, asym, wtensor, aasym, atensor, ag<group>)",
               name, mod);
    }
  }
  with_context(fmt::format("quantization scheme '{}'", name), [&] { s.validate(); });
  return s;
}

std::string QuantScheme::name() const {
  std::string s = fmt::format("w{}", weight.bits);
  if (act) s += fmt::format("a{}", act->bits);
  else if (a16_spelled) s += "a16";
  if (weight.granularity == Granularity::kPerGroup) s += fmt::format("g{}", weight.group_size);
  const bool default_sym = act.has_value();
  if (weight.symmetric != default_sym) s += weight.symmetric ? "-sym" : "-asym";
  if (weight.granularity == Granularity::kPerTensor) s += "-wtensor";
  if (act && !act->symmetric) s += "-aasym";
  if (act && act->granularity == Granularity::kPerTensor) s += "-atensor";
  if (act && act->granularity == Granularity::kPerGroup) s += fmt::format("-ag{}", act->group_size);
  return s;
}

void QuantScheme::validate() const {
  weight.validate(TensorRole::kWeight);
  if (act) act->validate(TensorRole::kActivation);
}

}  // namespace ptq
