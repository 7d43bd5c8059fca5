#include "model/safetensors.h"

#include <ATen/ATen.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "model/mapped_file.h"

namespace ptq {

namespace {

constexpr uint64_t kMaxHeader = 100'000'000;  // the reference reader's limit

constexpr struct {
  std::string_view name;
  at::ScalarType type;
} kDtypes[] = {
    {"BOOL", at::kBool},     {"U8", at::kByte},          {"I8", at::kChar},         {"I16", at::kShort},
    {"U16", at::kUInt16},    {"I32", at::kInt},          {"U32", at::kUInt32},      {"I64", at::kLong},
    {"U64", at::kUInt64},    {"F16", at::kHalf},         {"BF16", at::kBFloat16},   {"F32", at::kFloat},
    {"F64", at::kDouble},    {"F8_E4M3", at::kFloat8_e4m3fn}, {"F8_E5M2", at::kFloat8_e5m2},
};

uint64_t read_u64_le(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

at::ScalarType scalar_type_from_safetensors(std::string_view dtype) {
  for (const auto& d : kDtypes)
    if (d.name == dtype) return d.type;
  PTQ_FAIL("unknown or unsupported dtype '{}'", dtype);
}

std::string safetensors_dtype_name(at::ScalarType t) {
  for (const auto& d : kDtypes)
    if (d.type == t) return std::string(d.name);
  PTQ_FAIL("dtype {} has no safetensors name", c10::toString(t));
}

const std::string& SafetensorsFile::path() const { return file_->path(); }

SafetensorsFile SafetensorsFile::open(const std::string& path) { return open(MappedFile::open(path)); }

SafetensorsFile SafetensorsFile::open(std::shared_ptr<const MappedFile> file) {
  SafetensorsFile f;
  f.file_ = std::move(file);
  const std::string& path = f.file_->path();
  const uint64_t size = f.file_->size();
  PTQ_CHECK(size >= 8, "{}: not a safetensors file: {} bytes, shorter than the 8-byte header length", path, size);
  const uint64_t n = read_u64_le(f.file_->data());
  PTQ_CHECK(n <= kMaxHeader, "{}: header length {} exceeds the limit of {} bytes (not a safetensors file?)", path, n,
            kMaxHeader);
  PTQ_CHECK(8 + n <= size, "{}: header length {} reaches beyond the end of the file ({} bytes): truncated file", path,
            n, size);
  f.data_start_ = 8 + n;
  const uint64_t data_size = size - f.data_start_;

  nlohmann::json header;
  try {
    header = nlohmann::json::parse(f.file_->data() + 8, f.file_->data() + 8 + n);
  } catch (const nlohmann::json::exception& e) {
    PTQ_FAIL("{}: header is not valid JSON: {}", path, e.what());
  }
  PTQ_CHECK(header.is_object(), "{}: header is not a JSON object", path);

  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const nlohmann::json& v = it.value();
    if (name == "__metadata__") {
      PTQ_CHECK(v.is_object(), "{}: __metadata__ is not an object", path);
      for (auto m = v.begin(); m != v.end(); ++m) {
        PTQ_CHECK(m.value().is_string(), "{}: __metadata__ key '{}' is not a string", path, m.key());
        f.metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    with_context(fmt::format("{}: tensor '{}'", path, name), [&] {
      PTQ_CHECK(v.is_object() && v.contains("dtype") && v.contains("shape") && v.contains("data_offsets"),
                "entry needs dtype, shape and data_offsets");
      PTQ_CHECK(v["dtype"].is_string(), "dtype is not a string");
      SafetensorsEntry e;
      e.name = name;
      e.dtype = v["dtype"].get<std::string>();
      e.scalar_type = scalar_type_from_safetensors(e.dtype);
      PTQ_CHECK(v["shape"].is_array(), "shape is not an array");
      // numel * itemsize must not overflow: every tensor fits in the file, so anything above its size is wrong.
      uint64_t numel = 1;
      bool overflow = false;
      for (const auto& d : v["shape"]) {
        PTQ_CHECK(d.is_number_unsigned(), "shape {} has a negative or non-integer dimension", v["shape"].dump());
        const uint64_t dim = d.get<uint64_t>();
        PTQ_CHECK(dim <= static_cast<uint64_t>(INT64_MAX), "shape {} has a dimension beyond int64",
                  v["shape"].dump());
        e.shape.push_back(static_cast<int64_t>(dim));
        if (dim != 0 && numel > UINT64_MAX / 16 / dim) overflow = true;
        else numel *= dim;
      }
      for (const int64_t dim : e.shape)
        if (dim == 0) overflow = false, numel = 0;  // an empty tensor, whatever the other dimensions
      PTQ_CHECK(!overflow, "shape {} has more elements than any file can hold", v["shape"].dump());
      const auto& off = v["data_offsets"];
      PTQ_CHECK(off.is_array() && off.size() == 2 && off[0].is_number_unsigned() && off[1].is_number_unsigned(),
                "data_offsets must be two non-negative integers, got {}", off.dump());
      e.begin = off[0].get<uint64_t>();
      e.end = off[1].get<uint64_t>();
      PTQ_CHECK(e.begin <= e.end, "data_offsets [{}, {}] end before they begin", e.begin, e.end);
      PTQ_CHECK(e.end <= data_size, "data_offsets [{}, {}] reach beyond the end of the data ({} bytes): truncated file",
                e.begin, e.end, data_size);
      const uint64_t need = numel * c10::elementSize(e.scalar_type);
      PTQ_CHECK(e.end - e.begin == need, "data_offsets [{}, {}] span {} bytes, but dtype {} and shape {} need {}",
                e.begin, e.end, e.end - e.begin, e.dtype, v["shape"].dump(), need);
      f.entries_.push_back(std::move(e));
    });
  }

  std::sort(f.entries_.begin(), f.entries_.end(), [](const auto& a, const auto& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t expected = 0;
  for (size_t i = 0; i < f.entries_.size(); ++i) {
    const auto& e = f.entries_[i];
    PTQ_CHECK(e.begin >= expected, "{}: tensor '{}' (bytes {}..{}) overlaps tensor '{}' (ends at {})", path, e.name,
              e.begin, e.end, f.entries_[i - 1].name, expected);
    PTQ_CHECK(e.begin == expected, "{}: {} unused bytes before tensor '{}' at offset {}", path, e.begin - expected,
              e.name, e.begin);
    expected = e.end;
    f.index_[e.name] = i;
  }
  PTQ_CHECK(expected == data_size, "{}: {} trailing bytes after the last tensor (data {} bytes, tensors end at {})",
            path, data_size - expected, data_size, expected);
  return f;
}

const SafetensorsEntry* SafetensorsFile::find(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &entries_[it->second];
}

at::Tensor SafetensorsFile::load(std::string_view name) const {
  const SafetensorsEntry* e = find(name);
  PTQ_CHECK(e != nullptr, "{}: no tensor named '{}'", path(), name);
  at::Tensor t = at::empty(e->shape, at::TensorOptions().dtype(e->scalar_type));
  if (e->end > e->begin) {
    std::memcpy(t.data_ptr(), file_->data() + data_start_ + e->begin, e->end - e->begin);
    file_->release(data_start_ + e->begin, e->end - e->begin);
  }
  return t;
}

void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                       std::map<std::string, std::string> metadata) {
  metadata["format"] = "pt";
  nlohmann::ordered_json header;
  header["__metadata__"] = metadata;
  std::vector<at::Tensor> data;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    PTQ_CHECK(name != "__metadata__" && !header.contains(name), "{}: duplicate or reserved tensor name '{}'", path,
              name);
    at::Tensor c = t.detach().to(at::kCPU).contiguous();
    const uint64_t bytes = c.numel() * c.element_size();
    header[name] = {{"dtype", safetensors_dtype_name(c.scalar_type())},
                    {"shape", c.sizes().vec()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    data.push_back(std::move(c));
  }
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');

  // Temporary, fsync, rename, fsync of the folder (core/atomic_file.h): complete or absent after any crash.
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path tmp = temp_path_for(path);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    PTQ_CHECK(out.good(), "{}: cannot open for writing", tmp.string());
    uint8_t len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>((h.size() >> (8 * i)) & 0xff);
    out.write(reinterpret_cast<const char*>(len), 8);
    out.write(h.data(), static_cast<std::streamsize>(h.size()));
    for (const auto& c : data)
      out.write(static_cast<const char*>(c.data_ptr()), static_cast<std::streamsize>(c.numel() * c.element_size()));
    out.close();
    if (!out.good()) {
      std::error_code rm;
      fs::remove(tmp, rm);
      PTQ_FAIL("{}: write failed (disk full?)", tmp.string());
    }
  }
  fsync_file(tmp.string());
  std::error_code ec;
  fs::rename(tmp, target, ec);
  if (ec) fs::remove(tmp);
  PTQ_CHECK(!ec, "{}: cannot move {} into place: {}", path, tmp.string(), ec.message());
  fsync_dir(target.parent_path().string());
}

}  // namespace ptq
