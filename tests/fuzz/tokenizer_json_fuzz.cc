// libFuzzer harness: Hugging Face tokenizer.json (src/model/tokenizer_hf.h) from arbitrary bytes. An accepted file
// must encode and decode texts (ASCII, UTF-8, invalid UTF-8, control and special-looking text) without crashing, with
// every id inside the tokenizer's range; anything else must be a user error (fuzz_support.h).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "fuzz_support.h"
#include "model/tokenizer_hf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ptq::fuzz::expect_accept_or_user_error([&] {
    const auto tok = ptq::HfBpeTokenizer::from_json_text(std::string(reinterpret_cast<const char*>(data), size),
                                                         "fuzz/tokenizer.json", /*read_config=*/false);
    for (const char* text : {"Once upon a time there was a little girl.", "  leading\tand\ntrailing  ",
                             "caf\xC3\xA9 \xE2\x96\x81 \xF0\x9F\x98\x80 <s></s><|endoftext|>", "\xFF\xFE invalid \xC3",
                             "12345 67.8e9 don't WE'LL", ""}) {
      const auto ids = tok->encode(text, true);
      for (const int32_t id : ids)
        if (id < 0 || id >= tok->vocab_size()) std::abort();  // an id the embedding could not hold
      (void)tok->decode(ids);
    }
  });
  return 0;
}
