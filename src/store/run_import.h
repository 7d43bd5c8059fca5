// Importing `ptq run --config ... --json` records into a results store as one matrix, so that records written one per
// line into results/*.jsonl (`ptq run --json`, or `ptq dump` of a store) feed `ptq table`, `ptq plot`, `ptq report` and paper/ exactly as a
// matrix run does (`ptq import`).
//
// Each record becomes a finished run (run_record_from_json) whose config carries a "matrix_cell" with three axes:
//   method  the method id, followed by the `special` keys whose values differ among that method's records, as
//           "key:value" ("default" when a record leaves the key out): "awq clip_sym:true trans_version:v1"
//   bits    the scheme name: quant.scheme ("w4g32", "w8a8")
//   seed    "s<calib.seed>", or "none" for a data-free run
// and an "imported_from": {file (name only), line}. Run key: sha256 of the matrix name, a newline and the record's
// config JSON without "source" (as matrix_run_key), so importing the same file twice adds nothing, and a record whose
// configuration repeats an earlier one is skipped. The records carry no clock times: started_at and finished_at stay
// empty, so the store's contents depend only on the files.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "store/store.h"

namespace ptq {

struct ImportStats {
  int64_t added = 0;
  int64_t skipped = 0;  // already finished in the store, or a repeated configuration
};

// Throws a user error naming the file and line for a missing file, a line that is not a JSON object, or a record
// without method, config or quant.scheme.
ImportStats import_run_records(const std::vector<std::string>& jsonl_files, const std::string& matrix, Store& store);

}  // namespace ptq
