// libFuzzer harness: safetensors files (src/model/safetensors.h) from arbitrary bytes. Accepted files must load every
// tensor with its declared shape and exactly its byte span; everything else must be a user error (fuzz_support.h).
#include <ATen/ATen.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "fuzz_support.h"
#include "model/mapped_file.h"
#include "model/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ptq::fuzz::expect_accept_or_user_error([&] {
    const auto file =
        ptq::MappedFile::from_bytes("fuzz.safetensors", std::string(reinterpret_cast<const char*>(data), size));
    const ptq::SafetensorsFile f = ptq::SafetensorsFile::open(file);
    for (const auto& e : f.entries()) {
      const at::Tensor t = f.load(e.name);
      if (t.sizes().vec() != e.shape || static_cast<uint64_t>(t.numel()) * t.element_size() != e.end - e.begin)
        std::abort();  // an accepted entry must describe exactly the bytes it loads
    }
  });
  return 0;
}
