#include "model/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace ptq {

std::shared_ptr<const MappedFile> MappedFile::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  PTQ_CHECK(fd >= 0, "{}: cannot open: {}", path, std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    PTQ_FAIL("{}: not a regular file", path);
  }
  std::shared_ptr<MappedFile> f(new MappedFile());
  f->path_ = path;
  f->size_ = static_cast<size_t>(st.st_size);
  if (f->size_ > 0) {
    void* p = ::mmap(nullptr, f->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    const int err = errno;
    ::close(fd);
    PTQ_CHECK(p != MAP_FAILED, "{}: cannot map {} bytes: {}", path, f->size_, std::strerror(err));
    f->data_ = static_cast<const uint8_t*>(p);
    f->mapped_ = true;
  } else {
    ::close(fd);
  }
  return f;
}

std::shared_ptr<const MappedFile> MappedFile::from_bytes(const std::string& label, std::string bytes) {
  std::shared_ptr<MappedFile> f(new MappedFile());
  f->path_ = label;
  f->owned_ = std::move(bytes);
  f->size_ = f->owned_.size();
  f->data_ = f->size_ > 0 ? reinterpret_cast<const uint8_t*>(f->owned_.data()) : nullptr;
  return f;
}

void MappedFile::release(size_t offset, size_t length) const {
  if (!mapped_ || length == 0 || offset >= size_) return;
  static const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t base = reinterpret_cast<uintptr_t>(data_);
  const uintptr_t b = (base + offset + page - 1) / page * page;  // first whole page
  const uintptr_t e = (base + std::min(size_, offset + length)) / page * page;
  // Advisory: a failure only means the pages stay resident.
  if (e > b) ::madvise(reinterpret_cast<void*>(b), e - b, MADV_DONTNEED);
}

MappedFile::~MappedFile() {
  if (mapped_ && data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
}

}  // namespace ptq
