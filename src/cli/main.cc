// `ptq` entry point. Exit codes (a contract scripts rely on, docs/usage.md): 0 success, 1 internal failure, 2 bad
// input; one clear line on standard error. ptq::Error is caught here and nowhere else.
#include <c10/util/Exception.h>
#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "core/did_you_mean.h"
#include "core/error.h"
#include "core/heap_policy.h"
#include "export/quantized_checkpoint.h"

namespace {

void print_usage(std::FILE* out) {
  fmt::print(out, "usage: ptq <command> [options]   (ptq <command> --help for its options)\n\ncommands:\n");
  for (const auto& c : ptq::cli::kCommands) fmt::print(out, "  {:<14} {}\n", c.name, c.summary);
  fmt::print(out, "\nexit codes: 0 success, 1 internal failure, 2 bad input, 3 check failed (ptq regress: a regression;\n"
             "ptq verify-export: a mismatch)\n");
}

}  // namespace

int main(int argc, char** argv) {
  ptq::configure_heap();  // before any large allocation (core/heap_policy.h)
  if (argc < 2) {
    print_usage(stderr);
    return 2;
  }
  const std::string name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    print_usage(stdout);
    return 0;
  }
  if (name == "--version") return ptq::cli::cmd_version({});
  const ptq::cli::Command* cmd = nullptr;
  for (const auto& c : ptq::cli::kCommands)
    if (c.name == name) cmd = &c;
  if (cmd == nullptr) {
    std::vector<std::string> names;
    for (const auto& c : ptq::cli::kCommands) names.emplace_back(c.name);
    fmt::print(stderr, "ptq: unknown command '{}'{}\n", name, ptq::did_you_mean(name, names));
    print_usage(stderr);
    return 2;
  }
  const bool verbose = std::getenv("PTQ_VERBOSE") != nullptr;
  ptq::register_quantized_checkpoint_reader();  // every command opens real-quant exports like any checkpoint
  try {
    return cmd->run(std::vector<std::string>(argv + 2, argv + argc));
  } catch (const ptq::Error& e) {
    fmt::print(stderr, "ptq {}: {}: {}\n", name, e.kind() == ptq::ErrorKind::kUser ? "error" : "internal error",
               e.what());
    if (verbose) fmt::print(stderr, "  (raised at {})\n", e.source_location());
    return e.kind() == ptq::ErrorKind::kUser ? 2 : 1;
  } catch (const c10::Error& e) {
    fmt::print(stderr, "ptq {}: internal error (LibTorch): {}\n", name,
               verbose ? e.what() : e.what_without_backtrace());
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "ptq {}: internal error: {}\n", name, e.what());
    return 1;
  }
}
