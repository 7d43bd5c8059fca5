// ptq import FILE.jsonl --db FILE --matrix NAME: `ptq run --json` records (results/*.jsonl) into the results store
// as one matrix (src/store/run_import.h), for ptq table / plot / report and paper/; or a `ptq dump` file, whose runs
// are restored exactly (src/store/run_dump.h).
#include <fmt/format.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/error.h"
#include "store/store.h"
#include "store/run_dump.h"
#include "store/run_import.h"

namespace ptq::cli {

int cmd_import(const std::vector<std::string>& words) {
  Args args("import",
            "Import `ptq run --config ... --json` records (one JSON object per line, e.g. results/*.jsonl) into the\n"
            "results store as one matrix with axes method (the method id and the special keys that differ among its\n"
            "records), bits (the scheme) and seed (the calibration seed). Importing again adds nothing.\n"
            "A `ptq dump` file (first line format \"ptq-run-1\") is restored as it is: same matrix names and run\n"
            "keys; --matrix then keeps that matrix's runs only.",
            {store_option("the results store (created when missing)"),
             matrix_option(false, "the matrix name to give the records (required), or of a dump the matrix to restore"),
             json_option("with the counts")},
            {{"FILE.jsonl", "run records, one JSON object per line", true}});
  if (!args.parse(words)) return 0;
  const auto matrix = args.get("--matrix");
  const std::string db = args.store();
  const std::string file = args.positionals().front();
  // Checked before the store is opened, so a typo does not leave an empty store behind.
  PTQ_CHECK(std::filesystem::is_regular_file(file), "ptq import: {}: no such run record file", file);
  const bool dump = is_run_dump_file(file);
  PTQ_CHECK(dump || matrix.has_value(), "ptq import: --matrix NAME is required");
  const std::filesystem::path parent = std::filesystem::path(db).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  Store store(db);
  if (dump) {
    const RestoreStats s = restore_run_dump(file, matrix.value_or(""), store);
    fmt::print("{}: {} runs restored from {}, {} already finished\n", db, s.added, file, s.skipped);
    if (args.json())
      fmt::print("{}\n", nlohmann::json{{"db", db}, {"matrix", matrix.value_or("")}, {"added", s.added},
                                        {"skipped", s.skipped}}
                             .dump());
    return 0;
  }
  const ImportStats s = import_run_records({file}, *matrix, store);
  fmt::print("{}: matrix {}: {} runs added, {} skipped\n", db, *matrix, s.added, s.skipped);
  if (args.json())
    fmt::print("{}\n", nlohmann::json{{"db", db}, {"matrix", *matrix}, {"added", s.added}, {"skipped", s.skipped}}.dump());
  return 0;
}

}  // namespace ptq::cli
