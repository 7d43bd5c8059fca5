// Verification of a real-quant export against the fake-quantized model it was written from; exports are where tools
// break silently (zero-point conventions, transposes, nibble order: docs/export.md), so every export ptq writes is
// verified (runner.h) and `ptq verify-export` checks any directory against a reference.
//   1. Every quantized layer is unpacked from the files (quantized_checkpoint.h) and
//      a. repacked: the stored qweight/qzeros/scales/g_idx must come back bit for bit (no stray bits in masked nibbles,
//         padding or signs);
//      b. dequantized, (q - z) * s in float32, cast to the reference's dtype: must equal the reference's fake-quantized
//         weight bit for bit;
//      c. when ptq's recorded integer form is given: codes, zero points, scales and g_idx must equal it bit for bit.
//   2. Every other tensor (embeddings, norms, lm_head, biases, unconverted linears) must equal the reference's bit for
//      bit once both are in the reference's dtype, the reference's rounded through the dtype the export stores them
//      in (float16 when config.json declares it); the architecture in config.json must be the reference's.
//   3. The export is reloaded through the dequantizing reader into a fresh model (reference dtype and device) and its
//      perplexity compared on the same windows with the reference's, evaluated with those tensors rounded the same
//      way (and restored afterwards): relative difference <= tolerance.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/eval_text.h"
#include "eval/perplexity.h"
#include "methods/method.h"
#include "model/causal_lm.h"
#include "model/tokenizer.h"

namespace ptq {

struct VerifyOptions {
  std::string dataset = "tinystories";  // data/eval_text.h names
  EvalTextOptions text;
  PerplexityOptions ppl = [] {
    PerplexityOptions p;
    p.seq_len = 256;
    p.max_windows = 8;
    return p;
  }();
  double tolerance = 1e-6;  // largest accepted |ppl_export - ppl_reference| / ppl_reference
};

struct VerifyReport {
  std::string dir;
  std::string format;                   // "autoawq-gemm", ...
  int64_t layers_checked = 0;           // quantized linears
  int64_t tensors_checked = 0;          // other tensors
  std::vector<std::string> mismatches;  // one line each, naming the tensor and what differs
  double ppl_export = 0, ppl_reference = 0, ppl_rel_diff = 0;
  int64_t ppl_tokens = 0;
  double seconds = 0;
  bool ok() const { return mismatches.empty(); }
  nlohmann::json to_json() const;
};

// reference: the fake-quantized model (any device/dtype); tok: its tokenizer; recorded: ptq's integer form of the
// quantized linears by HF module name (PipelineResult::codes, scales rounded by fp16_scales.h), or null. Throws a user
// error when `dir` cannot be read as an export; differences are reported, not thrown.
VerifyReport verify_export(const std::string& dir, CausalLM& reference, const Tokenizer& tok, const VerifyOptions& opt,
                           const std::map<std::string, QuantizedLinear>* recorded = nullptr);

}  // namespace ptq
