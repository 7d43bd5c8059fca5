// Selecting and slicing a matrix's cells: `ptq run X.yaml --cells 0-3,7` and the slices of a SLURM job array.
//
// Cell indices are 0-based positions in the matrix's canonical order (Matrix::cells: the product, last axis fastest,
// after exclusions), the order `ptq run X.yaml --dry-run --json` and `ptq status` list them in.
//
// Sharing order: cells that use the same model share its fp baseline evaluation, and cells that also use the same
// calibration section share its captured calibration set (run_matrix's caches, src/experiment/runner.h). The sharing
// order sorts cells by (model, tokenizer, dtype), then by calibration section, then by canonical index (a stable
// sort), so cells that share work are adjacent; job-array slices are contiguous runs of it, which keeps the sharing
// inside a task and loses it only where a slice boundary falls inside a group.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "experiment/matrix.h"

namespace ptq {

// 16 hex digits of sha256 over the cells' run keys (each followed by a newline), in the given order: what a job-array
// task checks (`ptq run --cells S --cells-digest D`) so that a matrix file edited after submission is refused rather
// than run with shifted indices.
std::string cells_digest(const Matrix& m, const std::vector<size_t>& indices);

// Parses "0-3,7,9-10" into sorted, distinct indices, each < n_cells. Whitespace is not allowed; a range's end must not
// be below its start. Throws a user error naming `where` (e.g. "ptq run: --cells") and the offending item.
std::vector<size_t> parse_cell_spec(const std::string& spec, size_t n_cells, const std::string& where);
// The shortest spec for sorted distinct indices: {0,1,2,3,7} -> "0-3,7". Empty for no indices.
std::string format_cell_spec(const std::vector<size_t>& sorted_indices);

// The key cells share work by: JSON text of [model path, tokenizer path, dtype, calib section or null].
std::string sharing_key(const MatrixCell& cell);
// The canonical indices of `subset` (default: every cell) in sharing order.
std::vector<size_t> sharing_order(const Matrix& m, const std::vector<size_t>& subset);

// Splits `ordered` (indices in sharing order) into contiguous slices:
//   tasks > 0:          exactly min(tasks, size) slices whose sizes differ by at most one;
//   cells_per_task > 0: slices of cells_per_task cells (the last may be smaller);
//   neither:            one slice per sharing group (cells with one sharing_key).
// Each slice is returned sorted (canonical order, the order a task runs its cells in). Giving both is a user error.
std::vector<std::vector<size_t>> slice_cells(const Matrix& m, const std::vector<size_t>& ordered, int tasks,
                                             int cells_per_task);

}  // namespace ptq
