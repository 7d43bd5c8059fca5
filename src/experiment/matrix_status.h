// The state of each cell of a matrix across its main results store and its shards (`ptq status`, and the cells a
// `ptq run X.yaml --backend slurm` submission leaves out because they are finished somewhere).
//
// A cell's state, over every store that has its run_key:
//   finished  some store holds it finished (the main store is named when it is one of them: merged = true);
//   running / failed: otherwise, the unfinished row with the latest started_at ('running' on a tie). A 'running' row
//             is also what a killed process leaves behind: ptq cannot tell it from a live one without the scheduler;
//   pending   no store has it.
// Stores are only read: a main store or shard that does not exist counts as empty and is not created.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "experiment/matrix.h"

namespace ptq {

struct CellState {
  size_t index = 0;  // canonical index (cell_slices.h)
  std::string label;
  std::string run_key;
  std::string status;  // pending, running, failed, finished
  std::string store;   // the store the state comes from ("" when pending)
  bool merged = false; // finished in the main store
  double ppl = 0;      // finished: stored_ppl (NaN when none); else NaN
  std::string started_at, finished_at, error;
};

std::vector<CellState> matrix_status(const Matrix& m, const std::string& main_db,
                                     const std::vector<std::string>& shards);

// {matrix, db, shards: [...], counts: {pending, running, failed, finished, merged}, cells: [{index, label, run_key,
// status, store, merged, ppl, started_at, finished_at, error}]}.
nlohmann::json matrix_status_json(const Matrix& m, const std::string& main_db, const std::vector<std::string>& shards,
                                  const std::vector<CellState>& cells);

}  // namespace ptq
