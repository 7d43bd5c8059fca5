// libFuzzer harness: GGUF files (src/model/gguf_file.h) from arbitrary bytes, then the layers built on them: the model
// configuration and HF tensor mapping (gguf_checkpoint.h) and the tokenizer in the metadata, which encodes and decodes
// a fixed text. Everything must either work or be a user error (fuzz_support.h).
#include <ATen/ATen.h>

#include <cstdint>
#include <string>

#include "fuzz_support.h"
#include "model/gguf_checkpoint.h"
#include "model/gguf_file.h"
#include "model/mapped_file.h"
#include "model/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  // The container: metadata and every loadable tensor.
  ptq::fuzz::expect_accept_or_user_error([&] {
    const ptq::GgufFile f = ptq::GgufFile::open(ptq::MappedFile::from_bytes("fuzz.gguf", bytes));
    for (const auto& t : f.tensors())
      if (t.bytes > 0) (void)f.load(t.name);
  });
  // The model view: config from the metadata, every HF tensor, the tokenizer.
  ptq::fuzz::expect_accept_or_user_error([&] {
    auto ck = ptq::GgufCheckpoint::open(ptq::GgufFile::open(ptq::MappedFile::from_bytes("fuzz.gguf", bytes)));
    for (const auto& name : ck->names())
      if (ck->has(name)) (void)ck->load(name);
    auto tok = ck->tokenizer();
    const auto ids = tok->encode("Once upon a time, <s> there was 42 \xC3\xA9t\xC3\xA9.", true);
    (void)tok->decode(ids);
  });
  ptq::fuzz::expect_accept_or_user_error([&] {
    const ptq::GgufFile f = ptq::GgufFile::open(ptq::MappedFile::from_bytes("fuzz.gguf", bytes));
    auto tok = ptq::gguf_tokenizer(f);
    (void)tok->decode(tok->encode("Hello  world\n\tfuzz", false));
  });
  return 0;
}
