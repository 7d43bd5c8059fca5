// A method's options declared once: a struct whose member initialisers are the typed defaults, and a table of its
// fields (name as in LLMC's quant.special, member, help, check). From the table, generic code lists the parameters
// (`ptq methods`), parses a config's `special` mapping into the struct (unknown keys rejected with "did you mean",
// types checked, defaults filled, each field's check run) and writes the resolved values back (Method::params()).
//
//   struct GptqOptions { bool actorder = false; double percdamp = 0.01; };
//   const OptionTable<GptqOptions> kOptions("gptq", {
//       {"actorder", &GptqOptions::actorder, "process columns in descending Hessian-diagonal order"},
//       {"percdamp", &GptqOptions::percdamp, "damping", at_least(0.0)}});
//   GptqOptions o = kOptions.parse(special);   // throws "method 'gptq': parameter 'percdamp' must be >= 0, got -1"
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "core/did_you_mean.h"
#include "core/error.h"

namespace ptq {

// One method parameter as `ptq methods` lists it and configs set it (LLMC's quant.special keys).
struct ParamInfo {
  std::string name;
  std::string default_value;  // as JSON/YAML text: false, 128, 0.01, "v2", null
  std::string help;
};

// A field check: "" when the value is fine, else what is wrong ("must be >= 0, got -1").
template <class T>
using FieldCheck = std::function<std::string(const T&)>;

template <class T>
FieldCheck<T> at_least(T lo) {
  return [lo](const T& v) { return v >= lo ? std::string() : fmt::format("must be >= {}, got {}", lo, v); };
}
template <class T>
FieldCheck<T> above(T lo) {
  return [lo](const T& v) { return v > lo ? std::string() : fmt::format("must be > {}, got {}", lo, v); };
}
// lo <= v <= hi, or lo <= v < hi when hi_open.
template <class T>
FieldCheck<T> in_range(T lo, T hi, bool hi_open = false) {
  return [=](const T& v) {
    const bool ok = v >= lo && (hi_open ? v < hi : v <= hi);
    return ok ? std::string() : fmt::format("must be in [{}, {}{}, got {}", lo, hi, hi_open ? ")" : "]", v);
  };
}
inline FieldCheck<std::string> one_of(std::vector<std::string> allowed) {
  return [allowed](const std::string& v) {
    for (const auto& a : allowed)
      if (v == a) return std::string();
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "" : " or ") + a;
    return fmt::format("must be {}, got '{}'", list, v);
  };
}
// A setting the reference accepts but ptq does not implement: only its default is allowed.
inline FieldCheck<bool> unsupported(std::string why) {
  return [why](const bool& v) { return v ? "is not supported (" + why + ")" : std::string(); };
}

template <class Opt>
class OptionTable {
 public:
  template <class T>
  struct Typed {
    T Opt::*member;
    FieldCheck<T> check;
  };
  using Member = std::variant<Typed<bool>, Typed<int64_t>, Typed<double>, Typed<std::string>, Typed<std::optional<bool>>,
                              Typed<std::optional<int64_t>>>;

  struct Field {
    std::string name;
    Member member;
    std::string help;
    template <class T>
    Field(std::string n, T Opt::*m, std::string h, std::type_identity_t<FieldCheck<T>> c = {})
        : name(std::move(n)), member(Typed<T>{m, std::move(c)}), help(std::move(h)) {}
  };

  // `validate` checks what involves several fields (PTQ_CHECK with its own message) after every field was read.
  OptionTable(std::string method, std::vector<Field> fields, std::function<void(const Opt&)> validate = {})
      : method_(std::move(method)), fields_(std::move(fields)), validate_(std::move(validate)) {}

  const std::string& method() const { return method_; }

  // The parameters with the defaults of a default-constructed Opt.
  std::vector<ParamInfo> params() const {
    const Opt defaults{};
    const nlohmann::json d = to_json(defaults);
    std::vector<ParamInfo> out;
    for (const auto& f : fields_) out.push_back({f.name, d.at(f.name).dump(), f.help});
    return out;
  }

  // `special`: a JSON object (or null) of name -> value. Missing names keep the defaults.
  Opt parse(const nlohmann::json& special) const {
    PTQ_CHECK(special.is_object() || special.is_null(), "method '{}': parameters must be a mapping", method_);
    Opt o{};
    if (special.is_null()) return finish(o);
    for (auto it = special.begin(); it != special.end(); ++it) {
      const Field* f = find(it.key());
      if (f == nullptr) {
        std::string known;
        std::vector<std::string> names;
        for (const auto& g : fields_) known += (known.empty() ? "" : ", ") + g.name, names.push_back(g.name);
        PTQ_FAIL("method '{}': unknown parameter '{}' (known: {}){}", method_, it.key(), known.empty() ? "none" : known,
                 did_you_mean(it.key(), names));
      }
      std::visit([&](const auto& t) { read(*f, t, it.value(), o); }, f->member);
    }
    return finish(o);
  }

  // Every field's value (null for an unset optional).
  nlohmann::json to_json(const Opt& o) const {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& f : fields_)
      std::visit(
          [&](const auto& t) {
            const auto& v = o.*(t.member);
            using V = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<V, std::optional<bool>> || std::is_same_v<V, std::optional<int64_t>>) {
              j[f.name] = v ? nlohmann::json(*v) : nlohmann::json(nullptr);
            } else {
              j[f.name] = v;
            }
          },
          f.member);
    return j;
  }

 private:
  const Field* find(const std::string& name) const {
    for (const auto& f : fields_)
      if (f.name == name) return &f;
    return nullptr;
  }

  template <class T>
  static T typed(const nlohmann::json& v) {
    if constexpr (std::is_same_v<T, bool>) {
      PTQ_CHECK(v.is_boolean(), "expected true or false, got {}", v.dump());
    } else if constexpr (std::is_integral_v<T>) {
      PTQ_CHECK(v.is_number_integer(), "expected an integer, got {}", v.dump());
    } else if constexpr (std::is_floating_point_v<T>) {
      PTQ_CHECK(v.is_number(), "expected a number, got {}", v.dump());
    } else {
      PTQ_CHECK(v.is_string(), "expected a string, got {}", v.dump());
    }
    return v.get<T>();
  }

  template <class T>
  void read(const Field& f, const Typed<T>& t, const nlohmann::json& v, Opt& o) const {
    with_context(fmt::format("method '{}': parameter '{}'", method_, f.name), [&] {
      if constexpr (std::is_same_v<T, std::optional<bool>> || std::is_same_v<T, std::optional<int64_t>>) {
        o.*(t.member) = v.is_null() ? T() : T(typed<typename T::value_type>(v));
      } else {
        o.*(t.member) = typed<T>(v);
      }
    });
  }

  // Runs every field's check, then the cross-field validation.
  Opt finish(Opt o) const {
    for (const auto& f : fields_)
      std::visit(
          [&](const auto& t) {
            if (!t.check) return;
            const std::string problem = t.check(o.*(t.member));
            PTQ_CHECK(problem.empty(), "method '{}': parameter '{}' {}", method_, f.name, problem);
          },
          f.member);
    if (validate_) validate_(o);
    return o;
  }

  std::string method_;
  std::vector<Field> fields_;
  std::function<void(const Opt&)> validate_;
};

}  // namespace ptq
