#include "model/gguf_file.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cstring>

#include "core/error.h"
#include "model/ggml_blocks.h"
#include "model/mapped_file.h"

namespace ptq {

namespace {

// Bounds-checked little-endian cursor over the mapping.
class Reader {
 public:
  Reader(const uint8_t* p, uint64_t size, const std::string& path) : p_(p), size_(size), path_(path) {}
  uint64_t pos() const { return pos_; }
  void need(uint64_t n, const char* what) const {
    PTQ_CHECK(n <= size_ && pos_ <= size_ - n, "{}: truncated GGUF file: {} at byte {} needs {} bytes, file has {}",
              path_, what, pos_, n, size_);
  }
  template <class T>
  T get(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, p_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string str(bool u64_len, const char* what) {
    const uint64_t n = u64_len ? get<uint64_t>(what) : get<uint32_t>(what);
    need(n, what);
    std::string s(reinterpret_cast<const char*>(p_ + pos_), n);
    pos_ += n;
    return s;
  }

 private:
  const uint8_t* p_;
  uint64_t size_;
  const std::string& path_;
  uint64_t pos_ = 0;
};

nlohmann::json read_value(Reader& r, uint32_t type, bool v1, const std::string& key, const std::string& path,
                          int depth = 0) {
  switch (type) {
    case 0: return r.get<uint8_t>("u8 value");
    case 1: return r.get<int8_t>("i8 value");
    case 2: return r.get<uint16_t>("u16 value");
    case 3: return r.get<int16_t>("i16 value");
    case 4: return r.get<uint32_t>("u32 value");
    case 5: return r.get<int32_t>("i32 value");
    case 6: return r.get<float>("f32 value");
    case 7: return r.get<uint8_t>("bool value") != 0;
    case 8: return r.str(!v1, "string value");
    case 9: {
      PTQ_CHECK(depth < 4, "{}: key '{}': arrays nested too deeply", path, key);
      const uint32_t et = r.get<uint32_t>("array type");
      const uint64_t n = v1 ? r.get<uint32_t>("array length") : r.get<uint64_t>("array length");
      // Each element takes at least one byte: a count beyond the file is a corrupt header, not a huge allocation.
      r.need(n, "array elements");
      nlohmann::json a = nlohmann::json::array();
      for (uint64_t i = 0; i < n; ++i) a.push_back(read_value(r, et, v1, key, path, depth + 1));
      return a;
    }
    case 10: return r.get<uint64_t>("u64 value");
    case 11: return r.get<int64_t>("i64 value");
    case 12: return r.get<double>("f64 value");
    default: PTQ_FAIL("{}: key '{}' has unknown value type {}", path, key, type);
  }
}

}  // namespace

const std::string& GgufFile::path() const { return file_->path(); }

GgufFile GgufFile::open(const std::string& path) { return open(MappedFile::open(path)); }

GgufFile GgufFile::open(std::shared_ptr<const MappedFile> file) {
  GgufFile g;
  g.file_ = std::move(file);
  const std::string& path = g.file_->path();
  Reader r(g.file_->data(), g.file_->size(), path);
  PTQ_CHECK(g.file_->size() >= 4 && std::memcmp(g.file_->data(), "GGUF", 4) == 0, "{}: not a GGUF file (bad magic)",
            path);
  r.get<uint32_t>("magic");
  g.version_ = r.get<uint32_t>("version");
  PTQ_CHECK(g.version_ >= 1 && g.version_ <= 3, "{}: GGUF version {} is not supported (1-3)", path, g.version_);
  const bool v1 = g.version_ == 1;
  const uint64_t n_tensors = v1 ? r.get<uint32_t>("tensor count") : r.get<uint64_t>("tensor count");
  const uint64_t n_kv = v1 ? r.get<uint32_t>("metadata count") : r.get<uint64_t>("metadata count");
  r.need(n_kv, "metadata");
  r.need(n_tensors, "tensor infos");
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = r.str(!v1, "metadata key");
    const uint32_t type = r.get<uint32_t>("metadata type");
    g.metadata_[key] = read_value(r, type, v1, key, path);
  }
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensorInfo t;
    t.name = r.str(!v1, "tensor name");
    const uint32_t n_dims = r.get<uint32_t>("tensor dims");
    PTQ_CHECK(n_dims >= 1 && n_dims <= 4, "{}: tensor '{}' has {} dimensions (1-4 allowed)", path, t.name, n_dims);
    std::vector<int64_t> dims;
    uint64_t numel = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t v = v1 ? r.get<uint32_t>("tensor dim") : r.get<uint64_t>("tensor dim");
      PTQ_CHECK(v < (uint64_t{1} << 40), "{}: tensor '{}' has an implausible dimension {}", path, t.name, v);
      dims.push_back(static_cast<int64_t>(v));
      // The element count of a tensor stored in the file is below the file size: cap the product there, so a corrupt
      // header can neither overflow it nor pass the bounds check below by wrapping around.
      numel = v == 0 || numel == 0 ? 0 : (numel > (uint64_t{1} << 60) / v ? (uint64_t{1} << 60) : numel * v);
    }
    t.shape.assign(dims.rbegin(), dims.rend());
    t.ggml_type = r.get<uint32_t>("tensor type");
    t.offset = r.get<uint64_t>("tensor offset");
    const GgmlType* gt = ggml_type(t.ggml_type);
    PTQ_CHECK(gt != nullptr, "{}: tensor '{}' has unknown ggml type {}", path, t.name, t.ggml_type);
    // Blocks never straddle rows: the innermost dimension is a whole number of blocks.
    PTQ_CHECK(dims[0] % gt->block_elems == 0, "{}: tensor '{}' of type {} has rows of {} values, not a multiple of "
              "its block size {}", path, t.name, gt->name, dims[0], gt->block_elems);
    t.bytes = numel / static_cast<uint64_t>(gt->block_elems) * static_cast<uint64_t>(gt->block_bytes);
    PTQ_CHECK(g.index_.emplace(t.name, g.tensors_.size()).second, "{}: tensor '{}' appears twice", path, t.name);
    g.tensors_.push_back(std::move(t));
  }
  uint64_t alignment = 32;
  if (g.metadata_.contains("general.alignment")) {
    const int64_t a = g.get_int("general.alignment");
    PTQ_CHECK(a > 0 && a <= (int64_t{1} << 30) && (a & (a - 1)) == 0,
              "{}: general.alignment {} is not a power of two up to 2^30", path, a);
    alignment = static_cast<uint64_t>(a);
  }
  g.data_start_ = (r.pos() + alignment - 1) / alignment * alignment;
  const uint64_t size = g.file_->size();
  // A vocabulary-only file (no tensors) may end right after its metadata, before the alignment padding.
  PTQ_CHECK(g.tensors_.empty() || g.data_start_ <= size, "{}: truncated GGUF file: no data section", path);
  for (const auto& t : g.tensors_) {
    PTQ_CHECK(t.offset % alignment == 0, "{}: tensor '{}' offset {} is not aligned to {}", path, t.name, t.offset,
              alignment);
    PTQ_CHECK(t.offset <= size - g.data_start_ && t.bytes <= size - g.data_start_ - t.offset,
              "{}: tensor '{}' (bytes {}..{} of the data section) reaches beyond the end of the file: truncated file",
              path, t.name, t.offset, t.offset + t.bytes);
  }
  return g;
}

int64_t GgufFile::get_int(const std::string& key) const {
  PTQ_CHECK(metadata_.contains(key) && metadata_[key].is_number_integer(),
            "{}: metadata key '{}' is missing or not an integer", path(), key);
  return metadata_[key].get<int64_t>();
}

double GgufFile::get_float(const std::string& key) const {
  PTQ_CHECK(metadata_.contains(key) && metadata_[key].is_number(), "{}: metadata key '{}' is missing or not a number",
            path(), key);
  return metadata_[key].get<double>();
}

std::string GgufFile::get_string(const std::string& key) const {
  PTQ_CHECK(metadata_.contains(key) && metadata_[key].is_string(), "{}: metadata key '{}' is missing or not a string",
            path(), key);
  return metadata_[key].get<std::string>();
}

const GgufTensorInfo* GgufFile::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

at::Tensor GgufFile::load(const std::string& name) const {
  const GgufTensorInfo* t = find(name);
  PTQ_CHECK(t != nullptr, "{}: no tensor named '{}'", path(), name);
  const GgmlType* gt = ggml_type(t->ggml_type);
  const uint8_t* src = file_->data() + data_start_ + t->offset;
  if (!gt->quantized) {
    const at::ScalarType st = t->ggml_type == 0 ? at::kFloat : t->ggml_type == 1 ? at::kHalf : at::kBFloat16;
    at::Tensor out = at::empty(t->shape, st);
    std::memcpy(out.data_ptr(), src, t->bytes);
    return out;
  }
  at::Tensor out = at::empty(t->shape, at::kFloat);
  float* dst = out.data_ptr<float>();
  const int64_t n_blocks = out.numel() / gt->block_elems;
  at::parallel_for(0, n_blocks, 4096, [&](int64_t b, int64_t e) {
    ggml_dequantize(*gt, src + b * gt->block_bytes, e - b, dst + b * gt->block_elems);
  });
  return out;
}

}  // namespace ptq
