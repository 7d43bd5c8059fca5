// A checkpoint seen through Hugging Face tensor names, whatever its file format: HF safetensors directories (single
// or sharded), llama2.c .bin files and GGUF files all present `model.layers.{i}.self_attn.q_proj.weight` etc. in HF
// layout (rotate-half q/k rows), so the model and every method only know one naming. Tensors are read on demand
// (memory-mapped files), which lets the pipeline hold one decoder block at a time.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "model/model_config.h"

namespace ptq {

class Tokenizer;

class Checkpoint {
 public:
  virtual ~Checkpoint() = default;
  virtual const ModelConfig& config() const = 0;
  // HF names of every tensor the checkpoint holds (ignored extras excluded).
  virtual std::vector<std::string> names() const = 0;
  virtual bool has(const std::string& name) const = 0;
  // CPU tensor in the stored dtype, HF layout; an owning copy. Throws naming the file when absent.
  virtual at::Tensor load(const std::string& name) const = 0;
  // The tokenizer that belongs to the checkpoint (inside a GGUF, beside an HF checkpoint), or nullptr.
  virtual std::unique_ptr<Tokenizer> tokenizer() const = 0;
  // "hf-safetensors", "llama2c", "gguf"; path as given.
  virtual std::string format() const = 0;
  virtual std::string path() const = 0;
};

// Directory formats whose reader lives in a layer above model: a real-quant AutoAWQ/GPTQ export is dequantized by
// export/ (register_quantized_checkpoint_reader in export/quantized_checkpoint.h). Keeping the reader there and
// registering it at start-up keeps model below export. Registering a name again replaces the reader.
struct DirectoryReader {
  std::string name;                                                         // e.g. "real-quant export"
  std::function<bool(const std::string& dir)> recognises;                   // cheap: reads config.json at most
  std::function<std::unique_ptr<Checkpoint>(const std::string& dir)> open;  // throws naming the file on bad input
};
void register_directory_reader(DirectoryReader reader);

// Dispatches on the path: a directory (a registered DirectoryReader that recognises it, else HF: config.json +
// *.safetensors), *.gguf, or another file (llama2.c .bin).
// `tokenizer_path` (optional) names the tokenizer for formats that do not carry one (llama2.c).
std::unique_ptr<Checkpoint> open_checkpoint(const std::string& path, const std::string& tokenizer_path = "");

// HF tensor names of one decoder layer / of the whole model, in state-dict order.
std::vector<std::string> hf_layer_tensor_names(const ModelConfig& c, int64_t layer);
std::vector<std::string> hf_tensor_names(const ModelConfig& c);
// The expected shape of an HF tensor of the model `c` (throws on unknown names).
std::vector<int64_t> hf_tensor_shape(const ModelConfig& c, const std::string& name);

// Rows of a q or k projection ([n_heads * head_dim, in]) from Meta's interleaved-pair RoPE layout (llama2.c, GGUF)
// to HF's rotate-half layout: w.view(n, hd/2, 2, in).transpose(1, 2).reshape(n * hd, in).
at::Tensor meta_to_hf_rope_rows(const at::Tensor& w, int64_t n_heads);

}  // namespace ptq
