#include "support/gguf_writer.h"

#include <ATen/ATen.h>

#include <fstream>

#include "core/error.h"

namespace ptq::test {

namespace {

struct Out {
  std::string bytes;
  template <class T>
  void put(T v) {
    bytes.append(reinterpret_cast<const char*>(&v), sizeof(T));
  }
  void str(const std::string& s) {
    put<uint64_t>(s.size());
    bytes += s;
  }
};

// GGUF value type ids.
constexpr uint32_t kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7, kString = 8, kArray = 9;

uint32_t scalar_type(const nlohmann::json& v) {
  if (v.is_boolean()) return kBool;
  if (v.is_number_integer()) return v.get<int64_t>() < 0 ? kI32 : kU32;
  if (v.is_number()) return kF32;
  if (v.is_string()) return kString;
  PTQ_FAIL("write_gguf: unsupported value {}", v.dump());
}

void put_scalar(Out& o, uint32_t type, const nlohmann::json& v) {
  switch (type) {
    case kBool: o.put<uint8_t>(v.get<bool>() ? 1 : 0); break;
    case kU32: o.put<uint32_t>(v.get<uint32_t>()); break;
    case kI32: o.put<int32_t>(v.get<int32_t>()); break;
    case kF32: o.put<float>(v.get<float>()); break;
    case kString: o.str(v.get<std::string>()); break;
    default: PTQ_FAIL("write_gguf: bad type {}", type);
  }
}

}  // namespace

void write_gguf(const std::string& path, uint32_t version,
                const std::vector<std::pair<std::string, nlohmann::json>>& metadata,
                const std::vector<std::pair<std::string, at::Tensor>>& tensors) {
  std::vector<GgufRawTensor> raw;
  for (const auto& [name, t] : tensors) {
    at::Tensor c = t.contiguous();
    PTQ_CHECK(c.scalar_type() == at::kFloat || c.scalar_type() == at::kHalf, "write_gguf: {} must be F32 or F16", name);
    raw.push_back({name, c.scalar_type() == at::kFloat ? 0u : 1u, c.sizes().vec(),
                   std::string(static_cast<const char*>(c.data_ptr()), c.numel() * c.element_size())});
  }
  write_gguf_raw(path, version, metadata, raw);
}

void write_gguf_raw(const std::string& path, uint32_t version,
                    const std::vector<std::pair<std::string, nlohmann::json>>& metadata,
                    const std::vector<GgufRawTensor>& tensors) {
  Out o;
  o.bytes = "GGUF";
  o.put<uint32_t>(version);
  o.put<uint64_t>(tensors.size());
  o.put<uint64_t>(metadata.size());
  for (const auto& [key, v] : metadata) {
    o.str(key);
    if (v.is_array()) {
      PTQ_CHECK(!v.empty(), "write_gguf: empty array for {}", key);
      uint32_t et = scalar_type(v[0]);
      for (const auto& e : v)
        if (scalar_type(e) == kF32 || (et == kU32 && scalar_type(e) == kI32)) et = scalar_type(e) == kF32 ? kF32 : kI32;
      o.put<uint32_t>(kArray);
      o.put<uint32_t>(et);
      o.put<uint64_t>(v.size());
      for (const auto& e : v) put_scalar(o, et, e);
    } else {
      const uint32_t t = scalar_type(v);
      o.put<uint32_t>(t);
      put_scalar(o, t, v);
    }
  }
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    o.str(t.name);
    o.put<uint32_t>(static_cast<uint32_t>(t.shape.size()));
    for (auto d = t.shape.rbegin(); d != t.shape.rend(); ++d) o.put<uint64_t>(static_cast<uint64_t>(*d));  // innermost first
    o.put<uint32_t>(t.ggml_type);
    o.put<uint64_t>(offset);
    offset += (t.bytes.size() + 31) / 32 * 32;
  }
  o.bytes.append((32 - o.bytes.size() % 32) % 32, '\0');
  for (const auto& t : tensors) {
    o.bytes += t.bytes;
    o.bytes.append((32 - t.bytes.size() % 32) % 32, '\0');
  }
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(o.bytes.data(), static_cast<std::streamsize>(o.bytes.size()));
  PTQ_CHECK(f.good(), "write_gguf: cannot write {}", path);
}

}  // namespace ptq::test
