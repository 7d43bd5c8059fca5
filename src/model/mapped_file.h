// A read-only memory mapping of a whole file: checkpoints are read through it so that only the tensors a block needs
// are paged in, and a model larger than memory can be processed block by block.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace ptq {

class MappedFile {
 public:
  // Throws ptq::Error (user) naming `path` when it cannot be opened or mapped.
  static std::shared_ptr<const MappedFile> open(const std::string& path);
  // The same interface over bytes already in memory (a copy is kept); `label` stands in for the path in messages.
  // For parsers fed from memory (the fuzz harnesses in tests/fuzz).
  static std::shared_ptr<const MappedFile> from_bytes(const std::string& label, std::string bytes);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // Drops the pages wholly inside [offset, offset + length) from this process's resident set (madvise
  // MADV_DONTNEED; the bytes are read again from the file if touched later, so the data stays valid). A reader that
  // copied a tensor out calls it, so a loaded model is resident once (its tensors), not twice (plus the mapping).
  // No effect on from_bytes files.
  void release(size_t offset, size_t length) const;

 private:
  MappedFile() = default;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
  std::string owned_;  // from_bytes: the bytes (data_ points into them; nothing is mapped)
  bool mapped_ = false;
};

}  // namespace ptq
