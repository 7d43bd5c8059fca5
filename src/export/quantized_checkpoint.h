// Reading a real-quant checkpoint directory (AutoAWQ GEMM/GEMV or GPTQ v1/v2, as ptq or other tools write them) as an
// ordinary Checkpoint: every quantized Linear's `weight` is unpacked and dequantized, w = (q - z) * s in float32
// (docs/formats.md), so `ptq eval --model EXPORTED_DIR` and the verifier run the exported model through
// the same CausalLM as any other checkpoint.
//
// Recognised by config.json `quantization_config.quant_method`: "awq" (`version` gemm or gemv, `bits` 4, `group_size`
// or legacy `q_group_size`, `zero_point`) or "gptq" (`bits`, `group_size` with -1 = one group per row,
// `checkpoint_format` gptq = v1 zeros minus one, gptq_v2 = zeros as they are; `g_idx` tensors when present). Other
// methods are refused naming the method.
// The model dtype is the dtype of the stored embeddings, not config.json's torch_dtype: ptq's exports store them in the
// declared dtype (export_checkpoint.h), but exports written before 2026-12 kept float32 under a float16 declaration.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "export/export_target.h"
#include "export/integer_linear.h"
#include "model/checkpoint.h"
#include "model/hf_checkpoint.h"

namespace ptq {

class QuantizedCheckpoint : public Checkpoint {
 public:
  // True when dir/config.json exists and has a quantization_config object.
  static bool is_quantized_dir(const std::string& dir);
  // Opens `dir`; checks every tensor the config implies, packed or plain, with the expected shape (errors name the
  // file, the tensor and both shapes). Unknown extra tensors are ignored with a warning on stderr.
  static std::unique_ptr<QuantizedCheckpoint> open(const std::string& dir);

  const ModelConfig& config() const override { return config_; }
  std::vector<std::string> names() const override;
  bool has(const std::string& name) const override;
  // Quantized linears' `weight`: float32 [N, K] dequantized; other tensors as stored.
  at::Tensor load(const std::string& name) const override;
  std::unique_ptr<Tokenizer> tokenizer() const override;
  std::string format() const override { return target_.name(); }
  std::string path() const override { return dir_; }

  const ExportTarget& target() const { return target_; }
  int bits() const { return bits_; }
  // HF module names of the quantized linears, in state-dict order.
  const std::vector<std::string>& quantized_modules() const { return quantized_; }
  bool is_quantized(const std::string& module) const;
  // The stored tensors of a quantized linear: qweight, qzeros, scales (and g_idx for GPTQ), by suffix.
  std::map<std::string, at::Tensor> packed(const std::string& module) const;
  // The unpacked integer form of a quantized linear (errors name the module).
  IntegerLinear unpack(const std::string& module) const;
  // The quantization_config object of config.json.
  const nlohmann::json& quantization_config() const { return qconfig_; }

 private:
  at::Tensor raw(const std::string& name) const;
  int64_t group_size_for(int64_t in_features) const;

  std::string dir_;
  ModelConfig config_;
  nlohmann::json qconfig_;
  ExportTarget target_;
  int bits_ = 4;
  int64_t group_size_ = 0;  // 0: one group per row (GPTQ group_size -1)
  SafetensorsSet set_;
  std::vector<std::string> quantized_;
  std::map<std::string, std::pair<int64_t, int64_t>> shapes_;  // quantized module -> [N, K]
};

// Registers QuantizedCheckpoint with model/'s open_checkpoint (a DirectoryReader), so every loader opens real-quant
// exports dequantized. Called once at start-up by the programs (cli/main.cc, the test main); idempotent.
void register_quantized_checkpoint_reader();

}  // namespace ptq
