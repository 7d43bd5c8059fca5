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
  bool required = false;      // parse() fails "ptq <command>: --model PATH is required" when it is absent
};

// The store every store command defaults to.
inline constexpr const char* kDefaultStore = "results/ptq.db";

// Option groups several commands share, declared once (help text, default, required).
// --db FILE (default results/ptq.db); `help` says which store it is for this command.
OptionDecl store_option(const std::string& help = "the results store");
// --matrix NAME.
OptionDecl matrix_option(bool required, const std::string& help = "the matrix name in the store");
// --json: "print one JSON object <what> as the last line".
OptionDecl json_option(const std::string& what = "");
// --device DEV (default cpu).
OptionDecl device_option();
// --model PATH (required), --tokenizer PATH, --device DEV: the commands that load a checkpoint to run it.
std::vector<OptionDecl> model_options();
// Concatenates option lists: options({store_option(), json_option()}, model_options()).
std::vector<OptionDecl> options(std::vector<OptionDecl> a, const std::vector<OptionDecl>& b);

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
  int get_int_or(const std::string& name, int fallback) const;  // fallback when absent
  double get_double(const std::string& name) const;             // throws when absent or not a number
  // A required option's value (parse() has checked it is there).
  std::string value(const std::string& name) const;
  // The shared groups' values: --db (default kDefaultStore), --json, --threads (0 = all hardware threads).
  std::string store() const { return get_or("--db", kDefaultStore); }
  bool json() const { return flag("--json"); }
  int threads() const { return get_int("--threads"); }
  // Every value given for a repeatable option, in order (e.g. --set a=1 --set b=2).
  std::vector<std::string> get_all(const std::string& name) const;
  const std::vector<std::string>& positionals() const { return positional_values_; }

  std::string help() const;

 private:
  const OptionDecl* find(const std::string& word) const;
  template <class T>
  T number(const std::string& name, const char* what) const;

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
