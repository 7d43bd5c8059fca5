// A BPE tokenizer described by HfBpeSpec written as a Hugging Face tokenizer.json document (the `tokenizers` schema),
// so a tokenizer that came from GGUF metadata can be saved beside converted weights. Reading the document back with
// HfBpeTokenizer::from_json_text gives the same ids as HfBpeTokenizer::from_spec on the same spec.
#pragma once

#include <nlohmann/json.hpp>

#include "model/tokenizer_hf.h"

namespace ptq {

// add_bos: a TemplateProcessing post-processor that puts spec.bos_id first (GGUF tokenizer.ggml.add_bos_token).
nlohmann::ordered_json hf_tokenizer_json(const HfBpeSpec& spec, bool add_bos);

}  // namespace ptq
