#include "core/atomic_file.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/error.h"

namespace ptq {

namespace fs = std::filesystem;

std::string temp_path_for(const std::string& path) {
  const fs::path p(path);
  const fs::path name = p.filename().empty() ? p.parent_path().filename() : p.filename();
  const fs::path folder = p.filename().empty() ? p.parent_path().parent_path() : p.parent_path();
  std::string tmp_name(1, '.');  // appended piecewise: GCC 12 warns (wrongly) on "." + std::string at -O3
  tmp_name += name.string();
  tmp_name += ".tmp-";
  tmp_name += std::to_string(::getpid());
  return (folder / tmp_name).string();
}

namespace {

void fsync_path(const std::string& path, int flags, const char* what) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  PTQ_CHECK(fd >= 0, "{}: cannot open to flush the {} to disk: {}", path, what, std::strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  // Some file systems (e.g. certain network or virtual ones) do not support fsync on folders: EINVAL means there is
  // nothing to flush, not a failed write.
  PTQ_CHECK(rc == 0 || err == EINVAL, "{}: fsync of the {} failed: {}", path, what, std::strerror(err));
}

}  // namespace

void fsync_file(const std::string& path) { fsync_path(path, O_RDONLY, "file"); }

void fsync_dir(const std::string& dir) { fsync_path(dir.empty() ? "." : dir, O_RDONLY | O_DIRECTORY, "folder"); }

void write_file_atomically(const std::string& path, std::string_view bytes) {
  const std::string tmp = temp_path_for(path);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  PTQ_CHECK(fd >= 0, "{}: cannot create {}: {}", path, tmp, std::strerror(errno));
  size_t done = 0;
  int err = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
    done += static_cast<size_t>(n);
  }
  if (err == 0 && ::fsync(fd) != 0) err = errno;
  if (::close(fd) != 0 && err == 0) err = errno;
  if (err != 0) {
    ::unlink(tmp.c_str());
    PTQ_FAIL("{}: write failed: {}", path, std::strerror(err));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    err = errno;
    ::unlink(tmp.c_str());
    PTQ_FAIL("{}: cannot move the written file into place: {}", path, std::strerror(err));
  }
  fsync_dir(fs::path(path).parent_path().string());
}

void publish_dir(const std::string& tmp, const std::string& dir) {
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(tmp, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->is_regular_file()) fsync_file(it->path().string());
    else if (it->is_directory()) fsync_dir(it->path().string());
  }
  PTQ_CHECK(!ec, "{}: cannot list the written folder: {}", tmp, ec.message());
  fsync_dir(tmp);
  PTQ_CHECK(!fs::exists(dir), "{}: already exists (ptq never overwrites results)", dir);
  fs::rename(tmp, dir, ec);
  PTQ_CHECK(!ec, "{}: cannot move the written folder {} into place: {}", dir, tmp, ec.message());
  fsync_dir(fs::path(dir).parent_path().string());
}

int remove_stale_temps(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return 0;
  int removed = 0;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    const size_t at = name.rfind(".tmp-");
    if (name.empty() || name[0] != '.' || at == std::string::npos || at + 5 >= name.size()) continue;
    const std::string digits = name.substr(at + 5);
    if (digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 9) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(digits));
    if (pid <= 0 || pid == ::getpid()) continue;
    if (::kill(pid, 0) == 0 || errno != ESRCH) continue;  // alive (or not ours to signal): someone is writing
    std::error_code rm;
    fs::remove_all(e.path(), rm);
    if (!rm) ++removed;
  }
  return removed;
}

}  // namespace ptq
