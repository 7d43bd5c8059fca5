// Randomly initialised Llama checkpoints of any shape, for benchmarks and memory measurements where no pretrained
// weights of that shape are available (a Llama-2-7B-shaped model offline, a 32-layer model of the default width).
// The numbers they produce measure speed and memory, never quality.
#pragma once

#include <c10/core/ScalarType.h>

#include <cstdint>
#include <string>
#include <vector>

#include "model/model_config.h"

namespace ptq {

// Named shapes: "llama2-7b" (4096/11008, 32 layers, 32 heads, vocab 32000), "llama2-13b" (5120/13824, 40 layers,
// 40 heads), "llama3-8b" (4096/14336, 32 layers, 8 KV heads, vocab 128256). Throws naming the known ones otherwise.
ModelConfig random_model_shape(const std::string& name);
std::vector<std::string> random_model_shape_names();

// GPT-2 style initial standard deviation of a weight (also ptq train's initialisation): 0.02, residual outputs
// (o_proj, down_proj) 0.02/sqrt(2·layers) so the residual stream does not grow with depth. Norm weights start at 1.
double gpt2_init_std(const std::string& hf_name, int64_t num_layers);

// Writes an HF checkpoint (config.json, model.safetensors or shards of at most max_shard_bytes) of `config` in `dtype`
// with GPT-2 style weights drawn from a CPU generator seeded with `seed`. Tensors are drawn directly in the target
// dtype (an fp16 7B model needs 13.5 GB, not the 27 GB of an fp32 CausalLM first). Returns the tensor bytes written.
uint64_t write_random_checkpoint(const std::string& dir, ModelConfig config, at::ScalarType dtype, uint64_t seed,
                                 uint64_t max_shard_bytes = 5'000'000'000ULL);

}  // namespace ptq
