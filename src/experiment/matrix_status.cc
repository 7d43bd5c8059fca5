#include "experiment/matrix_status.h"

#include <filesystem>
#include <limits>
#include <map>

#include "store/store.h"

namespace ptq {

std::vector<CellState> matrix_status(const Matrix& m, const std::string& main_db,
                                     const std::vector<std::string>& shards) {
  std::vector<CellState> out(m.cells.size());
  for (size_t i = 0; i < m.cells.size(); ++i) {
    out[i].index = i;
    out[i].label = m.cells[i].label;
    out[i].run_key = m.cells[i].run_key;
    out[i].status = "pending";
    out[i].ppl = std::numeric_limits<double>::quiet_NaN();
  }
  std::map<std::string, size_t> by_key;
  for (size_t i = 0; i < m.cells.size(); ++i) by_key[m.cells[i].run_key] = i;

  std::vector<std::string> stores{main_db};
  stores.insert(stores.end(), shards.begin(), shards.end());
  for (size_t s = 0; s < stores.size(); ++s) {
    const std::string& path = stores[s];
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) continue;
    if (s > 0 && std::filesystem::equivalent(path, main_db, ec)) continue;  // the main store given as a shard too
    Store store(path);
    for (const RunRecord& r : store.runs(m.name)) {
      const auto it = by_key.find(r.run_key);
      if (it == by_key.end()) continue;  // a cell no longer in the matrix
      CellState& c = out[it->second];
      const bool finished = r.status == RunStatus::kFinished;
      bool take = false;
      if (c.status == "finished") {
        take = false;  // the first finished row wins: the main store's when it has one
      } else if (finished) {
        take = true;
      } else if (c.status == "pending") {
        take = true;
      } else {  // both unfinished: the later start; 'running' on a tie
        take = r.started_at > c.started_at || (r.started_at == c.started_at && r.status == RunStatus::kRunning);
      }
      if (!take) continue;
      c.status = to_string(r.status);
      c.store = path;
      c.merged = finished && s == 0;
      c.started_at = r.started_at;
      c.finished_at = r.finished_at;
      c.error = r.error;
      c.ppl = finished ? stored_ppl(r) : std::numeric_limits<double>::quiet_NaN();
    }
  }
  return out;
}

nlohmann::json matrix_status_json(const Matrix& m, const std::string& main_db, const std::vector<std::string>& shards,
                                  const std::vector<CellState>& cells) {
  std::map<std::string, int> counts = {{"pending", 0}, {"running", 0}, {"failed", 0}, {"finished", 0}, {"merged", 0}};
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& c : cells) {
    ++counts[c.status];
    counts["merged"] += c.merged ? 1 : 0;
    rows.push_back({{"index", c.index},
                    {"label", c.label},
                    {"run_key", c.run_key},
                    {"status", c.status},
                    {"store", c.store},
                    {"merged", c.merged},
                    {"ppl", c.ppl},  // NaN is written as null
                    {"started_at", c.started_at},
                    {"finished_at", c.finished_at},
                    {"error", c.error}});
  }
  return {{"matrix", m.name}, {"db", main_db}, {"shards", shards}, {"counts", counts}, {"cells", rows}};
}

}  // namespace ptq
