#include "cli/args.h"

#include <fmt/format.h>

#include <charconv>
#include <cstdio>

#include "core/did_you_mean.h"
#include "core/error.h"
#include "core/threads.h"

namespace ptq::cli {

namespace {

std::string long_name(const OptionDecl& o) {
  size_t comma = o.name.find(',');
  return comma == std::string::npos ? o.name : o.name.substr(comma + 1);
}

bool matches(const OptionDecl& o, const std::string& word) {
  size_t comma = o.name.find(',');
  if (comma == std::string::npos) return o.name == word;
  return o.name.substr(0, comma) == word || o.name.substr(comma + 1) == word;
}

}  // namespace

Args::Args(std::string command, std::string summary, std::vector<OptionDecl> options,
           std::vector<PositionalDecl> positionals)
    : command_(std::move(command)),
      summary_(std::move(summary)),
      options_(std::move(options)),
      positionals_(std::move(positionals)) {
  for (auto& o : common_options()) options_.push_back(o);
}

const OptionDecl* Args::find(const std::string& word) const {
  for (const auto& o : options_)
    if (matches(o, word)) return &o;
  return nullptr;
}

bool Args::parse(const std::vector<std::string>& words) {
  for (size_t i = 0; i < words.size(); ++i) {
    std::string w = words[i];
    if (w == "--help" || w == "-h") {
      std::fputs(help().c_str(), stdout);
      return false;
    }
    if (w.size() > 1 && w[0] == '-' && !(w.size() > 1 && std::isdigit(static_cast<unsigned char>(w[1])))) {
      std::string value;
      bool inline_value = false;
      if (size_t eq = w.find('='); w.rfind("--", 0) == 0 && eq != std::string::npos) {
        value = w.substr(eq + 1);
        w = w.substr(0, eq);
        inline_value = true;
      }
      const OptionDecl* o = find(w);
      if (o == nullptr) {
        std::vector<std::string> names;
        for (const auto& d : options_) names.push_back(long_name(d));
        PTQ_FAIL("ptq {}: unknown option '{}' (see ptq {} --help){}", command_, w, command_, did_you_mean(w, names));
      }
      if (o->value_name.empty()) {
        PTQ_CHECK(!inline_value, "ptq {}: option {} takes no value", command_, w);
        values_.insert_or_assign(long_name(*o), std::string(1, '1'));
      } else {
        if (!inline_value) {
          PTQ_CHECK(i + 1 < words.size(), "ptq {}: option {} needs a value ({})", command_, w, o->value_name);
          value = words[++i];
        }
        values_[long_name(*o)] = value;
        all_values_[long_name(*o)].push_back(value);
      }
      continue;
    }
    positional_values_.push_back(w);
  }
  for (const auto& o : options_)
    PTQ_CHECK(!o.required || values_.count(long_name(o)), "ptq {}: {} {} is required (see ptq {} --help)", command_,
              long_name(o), o.value_name, command_);
  size_t required = 0;
  for (const auto& p : positionals_) required += p.required ? 1 : 0;
  PTQ_CHECK(positional_values_.size() >= required, "ptq {}: missing argument {} (see ptq {} --help)", command_,
            positionals_[positional_values_.size()].name, command_);
  const bool repeat = !positionals_.empty() && positionals_.back().repeat;
  PTQ_CHECK(repeat || positional_values_.size() <= positionals_.size(), "ptq {}: unexpected argument '{}'", command_,
            positional_values_[positionals_.size()]);
  return true;
}

std::vector<std::string> Args::get_all(const std::string& name) const {
  auto it = all_values_.find(name);
  return it == all_values_.end() ? std::vector<std::string>{} : it->second;
}

bool Args::flag(const std::string& name) const { return values_.count(name) > 0; }

std::optional<std::string> Args::get(const std::string& name) const {
  if (auto it = values_.find(name); it != values_.end()) return it->second;
  for (const auto& o : options_)
    if (long_name(o) == name && !o.default_value.empty()) return o.default_value;
  return std::nullopt;
}

std::string Args::get_or(const std::string& name, const std::string& fallback) const {
  auto v = get(name);
  return v ? *v : fallback;
}

std::string Args::value(const std::string& name) const {
  auto v = get(name);
  PTQ_ASSERT(v.has_value(), "ptq {}: option {} read as required but not declared so", command_, name);
  return *v;
}

int Args::get_int_or(const std::string& name, int fallback) const { return get(name) ? get_int(name) : fallback; }

// The option's value parsed whole as T (from_chars: no sign prefix '+', no trailing text).
template <class T>
T Args::number(const std::string& name, const char* what) const {
  auto v = get(name);
  PTQ_CHECK(v.has_value(), "ptq {}: option {} is required", command_, name);
  T out{};
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
  PTQ_CHECK(ec == std::errc() && end == v->data() + v->size(), "ptq {}: option {} expects {}, got '{}'", command_,
            name, what, *v);
  return out;
}

int Args::get_int(const std::string& name) const { return number<int>(name, "an integer"); }

double Args::get_double(const std::string& name) const { return number<double>(name, "a number"); }

std::string Args::help() const {
  std::string usage = fmt::format("usage: ptq {}", command_);
  for (const auto& p : positionals_) {
    const std::string name = p.repeat ? p.name + "..." : p.name;
    usage += p.required ? " " + name : " [" + name + "]";
  }
  usage += " [options]";
  std::string out = fmt::format("{}\n\n{}\n", usage, summary_);
  if (!positionals_.empty()) {
    out += "\narguments:\n";
    for (const auto& p : positionals_) out += fmt::format("  {:<24} {}\n", p.name, p.help);
  }
  out += "\noptions:\n";
  for (const auto& o : options_) {
    std::string lhs = o.value_name.empty() ? o.name : o.name + " " + o.value_name;
    std::string rhs = o.help;
    if (o.required) rhs += " (required)";
    if (!o.default_value.empty()) rhs += fmt::format(" (default: {})", o.default_value);
    out += fmt::format("  {:<24} {}\n", lhs, rhs);
  }
  out += fmt::format("  {:<24} {}\n", "-h,--help", "show this help");
  return out;
}

OptionDecl store_option(const std::string& help) { return {"--db", "FILE", help, kDefaultStore}; }

OptionDecl matrix_option(bool required, const std::string& help) { return {"--matrix", "NAME", help, "", required}; }

OptionDecl json_option(const std::string& what) {
  return {"--json", "", what.empty() ? "print one JSON object as the last line"
                                     : fmt::format("print one JSON object {} as the last line", what),
          ""};
}

OptionDecl device_option() { return {"--device", "DEV", "cpu, cuda, cuda:N or auto", "cpu"}; }

std::vector<OptionDecl> model_options() {
  return {{"--model", "PATH", "checkpoint: HF directory, llama2.c .bin or .gguf", "", true},
          {"--tokenizer", "PATH", "tokenizer file (required for llama2.c; overrides the checkpoint's own)", ""},
          device_option()};
}

std::vector<OptionDecl> options(std::vector<OptionDecl> a, const std::vector<OptionDecl>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::vector<OptionDecl> common_options() {
  return {{"--threads", "N", "intra-op CPU threads (0 = all hardware threads)", "0"}};
}

void apply_common_options(const Args& args) { set_threads(args.get_int("--threads")); }

c10::ScalarType parse_dtype_option(const std::string& command, const std::string& value) {
  if (value == "float32") return c10::kFloat;
  if (value == "float16") return c10::kHalf;
  if (value == "bfloat16") return c10::kBFloat16;
  PTQ_FAIL("ptq {}: --dtype: '{}' is not one of float32, float16, bfloat16", command, value);
}

}  // namespace ptq::cli
