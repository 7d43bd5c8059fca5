// A matrix's finished runs as text: one JSON object per line, every column of the store's run rows and of their
// metric, error, timing and event rows (`ptq dump`). `ptq import` of such a file restores the runs exactly — same run
// keys, so `ptq run MATRIX.yaml` resumes from it and `ptq table` prints the same table — which is how a long matrix
// (results/smollm2/) is committed: the text file goes in git, the SQLite file does not.
//
// Line format "ptq-run-1": {"format", "matrix", "run_key", "status", "error", "git_sha", "torch_version", "device",
// "started_at", "finished_at", "method", "scheme", "config", "quant", "calibration", "system", "notes", "saved_path",
// "metrics": [{name, dataset, pos, value, protocol}], "layer_errors": [{block, layer, metric, value}],
// "block_errors": [{block, metric, value}], "timings": [{stage, seconds, peak_bytes}],
// "events": [{block, layer, kind, fallback, detail}]}. Keys are sorted (nlohmann's object order) and rows keep the
// store's order, so dumping a restored store gives the same bytes. Numbers are written with 17 significant digits
// (exact round trip); JSON has no NaN or infinity, so a non-finite value is the string "nan", "inf" or "-inf".
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "store/store.h"

namespace ptq {

inline constexpr const char* kRunDumpFormat = "ptq-run-1";

nlohmann::json run_record_to_dump(const RunRecord& run);
// Throws a user error naming the missing or mistyped key.
RunRecord run_record_from_dump(const nlohmann::json& line);

// True when the first non-blank line of `file` is a "ptq-run-1" object (else it is `ptq run --json` records).
bool is_run_dump_file(const std::string& file);

struct DumpStats {
  int64_t runs = 0;      // finished runs written
  int64_t skipped = 0;   // runs of the matrix not finished (running, failed): not written
};

// Writes the finished runs of `matrix` ("" = every matrix) in store order to `path`, atomically (a reader never sees
// half a file). A matrix with no run in the store is an error.
DumpStats write_run_dump(Store& store, const std::string& matrix, const std::string& path);

struct RestoreStats {
  int64_t added = 0;    // runs new to the store, or unfinished there
  int64_t skipped = 0;  // already finished in the store
};

// Restores the runs of a dump file into `store` (one transaction per run, in file order). `matrix` non-empty keeps
// only that matrix's runs. Errors name the file and line.
RestoreStats restore_run_dump(const std::string& file, const std::string& matrix, Store& store);

}  // namespace ptq
