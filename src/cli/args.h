// Command-line options for one subcommand, declared once: the declaration gives the parser, the default and the
// --help text. Unknown options and missing values are user errors (exit 2).
#pragma once

#include <c10/core/ScalarType.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ptq::cli {

struct OptionDecl {
  std::string name;        // "--model"; a short alias may follow after a comma: "-n,--tokens"
  std::string value_name;  // "PATH"; empty for a flag
  std::string help;
  std::string default_value;  // shown in --help; returned by get() when the option is absent (empty: no default)
};

struct PositionalDecl {
  std::string name;  // "NAME"
  std::string help;
  bool required = true;
  bool repeat = false;  // the last positional only: takes every remaining argument ("NAME...")
};

class Args {
 public:
  Args(std::string command, std::string summary, std::vector<OptionDecl> options,
       std::vector<PositionalDecl> positionals = {});

  // argv-style words after the subcommand name. Throws ptq::Error (user) on bad input. Returns false when --help was
  // given (help() has been printed to stdout and the command should return 0).
  bool parse(const std::vector<std::string>& words);

  bool flag(const std::string& name) const;
  // Value given on the command line, else the declared default, else nullopt.
  std::optional<std::string> get(const std::string& name) const;
  std::string get_or(const std::string& name, const std::string& fallback) const;
  int get_int(const std::string& name) const;  // throws when absent or not an integer
  // Every value given for a repeatable option, in order (e.g. --set a=1 --set b=2).
  std::vector<std::string> get_all(const std::string& name) const;
  const std::vector<std::string>& positionals() const { return positional_values_; }

  std::string help() const;

 private:
  const OptionDecl* find(const std::string& word) const;

  std::string command_, summary_;
  std::vector<OptionDecl> options_;
  std::vector<PositionalDecl> positionals_;
  std::map<std::string, std::string> values_;  // keyed by the long name; the last value given
  std::map<std::string, std::vector<std::string>> all_values_;
  std::vector<std::string> positional_values_;
};

// Options every subcommand accepts.
std::vector<OptionDecl> common_options();
// Applies the common options (thread count); call after parse().
void apply_common_options(const Args& args);

// A --dtype value of the commands that write checkpoints: float32, float16 or bfloat16; otherwise a user error
// "ptq <command>: --dtype: ...".
c10::ScalarType parse_dtype_option(const std::string& command, const std::string& value);

}  // namespace ptq::cli
