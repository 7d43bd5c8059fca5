// ptq dump --db FILE [--matrix NAME] --out FILE.jsonl: the store's finished runs as JSON lines (src/store/run_dump.h),
// the text form of a results store that goes into git; `ptq import` restores it exactly.
#include <fmt/format.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/error.h"
#include "store/store.h"
#include "store/run_dump.h"

namespace ptq::cli {

int cmd_dump(const std::vector<std::string>& words) {
  Args args("dump",
            "Write the finished runs of a matrix (or of every matrix) as JSON lines: every column of the store's\n"
            "run, metric, error, timing and event rows, in store order. `ptq import FILE --db OTHER` restores them\n"
            "with the same run keys, so `ptq run MATRIX.yaml --db OTHER` resumes where the dump stopped and `ptq\n"
            "table` prints the same table. Runs still running or failed are left out (counted).",
            {store_option("the results store"),
             matrix_option(false, "dump this matrix only (default: every matrix)"),
             {"--out", "FILE", "the dump file, written atomically", "", true},
             json_option("with the counts")});
  if (!args.parse(words)) return 0;
  const std::string out = args.value("--out");
  const std::string db = args.store();
  const std::string matrix = args.get_or("--matrix", "");
  PTQ_CHECK(std::filesystem::is_regular_file(db), "ptq dump: {}: no such results store", db);
  Store store(db);
  const DumpStats s = write_run_dump(store, matrix, out);
  fmt::print("{}: {} finished run{} of {} written to {}{}\n", db, s.runs, s.runs == 1 ? "" : "s",
             matrix.empty() ? std::string("every matrix") : "matrix " + matrix, out,
             s.skipped ? fmt::format(" ({} unfinished left out)", s.skipped) : std::string());
  if (args.json())
    fmt::print("{}\n", nlohmann::json{{"db", db}, {"matrix", matrix}, {"out", out}, {"runs", s.runs},
                                      {"unfinished", s.skipped}}
                           .dump());
  return 0;
}

}  // namespace ptq::cli
