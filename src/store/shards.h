// Store shards: the results stores that the tasks of a distributed matrix run write, one per task, merged into the
// main store afterwards (`ptq merge`, Store::merge_from). A shard is an ordinary store; only the layout is fixed:
//   <shard dir>/task_<i>.db   the store of job-array task i
// and the default shard dir of a matrix is <folder of the main store>/shards/<matrix name>, so the default main store
// results/ptq.db has its shards in results/shards/<matrix>/.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace ptq {

std::string default_shard_dir(const std::string& main_db, const std::string& matrix);
std::string shard_path(const std::string& shard_dir, size_t task);
// The *.db files directly in `dir`, sorted by name; none when the folder does not exist.
std::vector<std::string> list_shards(const std::string& dir);
// Each argument a store file or a folder of shards (list_shards), in argument order; a missing path is a user error
// naming it, and so is a folder without stores.
std::vector<std::string> expand_shard_args(const std::vector<std::string>& paths, const std::string& where);

}  // namespace ptq
