#include "store/shards.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "core/error.h"

namespace ptq {

namespace fs = std::filesystem;

std::string default_shard_dir(const std::string& main_db, const std::string& matrix) {
  return (fs::path(main_db).parent_path() / "shards" / matrix).string();
}

std::string shard_path(const std::string& shard_dir, size_t task) {
  return (fs::path(shard_dir) / fmt::format("task_{}.db", task)).string();
}

std::vector<std::string> list_shards(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".db") out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> expand_shard_args(const std::vector<std::string>& paths, const std::string& where) {
  std::vector<std::string> out;
  for (const auto& p : paths) {
    if (fs::is_directory(p)) {
      const auto found = list_shards(p);
      PTQ_CHECK(!found.empty(), "{}: {}: no shard stores (*.db) in this folder", where, p);
      out.insert(out.end(), found.begin(), found.end());
    } else {
      PTQ_CHECK(fs::is_regular_file(p), "{}: {}: no such shard store or folder", where, p);
      out.push_back(p);
    }
  }
  return out;
}

}  // namespace ptq
