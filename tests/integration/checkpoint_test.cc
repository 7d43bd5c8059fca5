// Checkpoint writers and readers on the real stories260K files: round trips, shards, and one test per malformed
// input (each must be a user error naming the file and what is wrong).
#include <gtest/gtest.h>
#include <ATen/ATen.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "model/hf_checkpoint.h"
#include "model/loaded_model.h"
#include "model/tokenizer_score_bpe.h"
#include "model/gguf_file.h"
#include "support/gguf_writer.h"
#include "support/test_data.h"

namespace ptq {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

std::string hf_dir() { return test::data_path("models/stories260K-hf"); }
std::string bin_path() { return test::data_path("models/stories260K/stories260K.bin"); }
std::string gguf_path() { return test::data_path("models/stories260K/stories260K-f32.v3.gguf"); }

template <class Fn>
void expect_user_error(Fn&& fn, const std::vector<std::string>& needles) {
  try {
    fn();
    ADD_FAILURE() << "no error; expected '" << needles.front() << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUser) << e.what();
    for (const auto& n : needles) EXPECT_NE(std::string(e.what()).find(n), std::string::npos) << e.what();
  }
}

std::vector<std::pair<std::string, at::Tensor>> all_tensors(const Checkpoint& ck) {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& n : ck.names()) out.emplace_back(n, ck.load(n));
  return out;
}

at::Tensor prompt_logits(const Checkpoint& ck) {
  CausalLM m = load_causal_lm(ck);
  at::NoGradGuard g;
  return m->forward(at::tensor({1, 403, 407, 261, 378, 432}, at::kLong).unsqueeze(0));
}

TEST(HfCheckpoint, WriteThenReadIsBitExact) {
  auto src = open_checkpoint(hf_dir());
  TempDir dir;
  write_hf_checkpoint(dir.path(), src->config(), all_tensors(*src));
  EXPECT_TRUE(fs::exists(dir.file("model.safetensors")));
  EXPECT_FALSE(fs::exists(dir.file("model.safetensors.index.json")));
  auto back = HfCheckpoint::open(dir.path());
  for (const auto& n : src->names()) EXPECT_TRUE(at::equal(src->load(n), back->load(n))) << n;
  EXPECT_EQ(back->config().to_hf_json(), src->config().to_hf_json());
}

TEST(HfCheckpoint, ShardedCheckpointLoads) {
  auto src = open_checkpoint(hf_dir());
  TempDir dir;
  // stories260K holds ~1.04 MB of float32 tensors: 400 kB shards give 3 files.
  write_hf_checkpoint(dir.path(), src->config(), all_tensors(*src), 400'000);
  ASSERT_TRUE(fs::exists(dir.file("model.safetensors.index.json")));
  EXPECT_FALSE(fs::exists(dir.file("model.safetensors")));
  auto back = HfCheckpoint::open(dir.path());
  EXPECT_EQ(back->files().size(), 3u);
  EXPECT_TRUE(fs::exists(dir.file("model-00001-of-00003.safetensors")));
  nlohmann::json index = nlohmann::json::parse(std::ifstream(dir.file("model.safetensors.index.json")));
  EXPECT_EQ(index["weight_map"].size(), src->names().size());
  EXPECT_TRUE(at::equal(prompt_logits(*back), prompt_logits(*src)));
}

TEST(HfCheckpoint, MissingTensorIsNamed) {
  auto src = open_checkpoint(hf_dir());
  auto tensors = all_tensors(*src);
  std::erase_if(tensors, [](const auto& kv) { return kv.first == "model.layers.2.mlp.up_proj.weight"; });
  TempDir dir;
  write_hf_checkpoint(dir.path(), src->config(), tensors);
  expect_user_error([&] { HfCheckpoint::open(dir.path()); },
                    {dir.path(), "tensor 'model.layers.2.mlp.up_proj.weight' is missing"});
}

TEST(HfCheckpoint, ShapeDisagreeingWithConfigIsNamed) {
  auto src = open_checkpoint(hf_dir());
  TempDir dir;
  ModelConfig c = src->config();
  c.intermediate_size = 176;  // the stored MLP weights are 172 wide
  write_hf_checkpoint(dir.path(), c, all_tensors(*src));
  expect_user_error([&] { HfCheckpoint::open(dir.path()); },
                    {"model.safetensors", "tensor 'model.layers.0.mlp.gate_proj.weight' has shape [172, 64]",
                     "config.json implies [176, 64]"});
}

TEST(HfCheckpoint, MissingShardIsNamed) {
  auto src = open_checkpoint(hf_dir());
  TempDir dir;
  write_hf_checkpoint(dir.path(), src->config(), all_tensors(*src), 400'000);
  fs::remove(dir.file("model-00002-of-00003.safetensors"));
  expect_user_error([&] { HfCheckpoint::open(dir.path()); },
                    {"shard 'model-00002-of-00003.safetensors' listed in the index is missing"});
}

TEST(HfCheckpoint, BadConfigIsNamed) {
  auto src = open_checkpoint(hf_dir());
  TempDir dir;
  write_hf_checkpoint(dir.path(), src->config(), all_tensors(*src));
  nlohmann::json cfg = src->config().to_hf_json();
  cfg["model_type"] = "gpt_neox";
  test::write_file(dir.file("config.json"), cfg.dump());
  expect_user_error([&] { HfCheckpoint::open(dir.path()); },
                    {"config.json", "key 'model_type': 'gpt_neox' is not supported"});
  cfg = src->config().to_hf_json();
  cfg["num_key_value_heads"] = 3;
  test::write_file(dir.file("config.json"), cfg.dump());
  expect_user_error([&] { HfCheckpoint::open(dir.path()); }, {"must be a multiple of num_key_value_heads (3)"});
  cfg = src->config().to_hf_json();
  cfg.erase("hidden_size");
  test::write_file(dir.file("config.json"), cfg.dump());
  expect_user_error([&] { HfCheckpoint::open(dir.path()); }, {"key 'hidden_size' is missing"});
  // A real-quant export is not read as a plain HF folder (export's reader, registered at start-up, takes it).
  cfg = src->config().to_hf_json();
  cfg["quantization_config"] = {{"quant_method", "awq"}, {"bits", 4}};
  EXPECT_TRUE(has_quantization_config(cfg));
  test::write_file(dir.file("config.json"), cfg.dump());
  expect_user_error([&] { HfCheckpoint::open(dir.path()); },
                    {"config.json has a quantization_config", "register_quantized_checkpoint_reader()"});
  cfg["quantization_config"] = nullptr;
  EXPECT_FALSE(has_quantization_config(cfg));
  EXPECT_FALSE(has_quantization_config(nlohmann::json::array()));
  test::write_file(dir.file("config.json"), "{\"model_type\": ");
  expect_user_error([&] { HfCheckpoint::open(dir.path()); }, {"config.json", "not valid JSON"});
  fs::remove(dir.file("config.json"));
  expect_user_error([&] { HfCheckpoint::open(dir.path()); }, {"no config.json"});
}

TEST(HfCheckpoint, ExtraTensorsAreIgnored) {
  auto src = open_checkpoint(hf_dir());
  auto tensors = all_tensors(*src);
  tensors.emplace_back("model.layers.0.self_attn.rotary_emb.inv_freq", at::ones({4}));
  TempDir dir;
  write_hf_checkpoint(dir.path(), src->config(), tensors);
  auto back = HfCheckpoint::open(dir.path());
  EXPECT_FALSE(back->has("model.layers.0.self_attn.rotary_emb.inv_freq"));
  EXPECT_EQ(back->names(), src->names());
}

TEST(ModelConfig, ReadsNewAndLegacyKeys) {
  nlohmann::json base = open_checkpoint(hf_dir())->config().to_hf_json();
  nlohmann::json legacy = base;
  legacy["rope_theta"] = 500000.0;
  legacy["rope_scaling"] = {{"type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                            {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 8192}};
  legacy["torch_dtype"] = "bfloat16";
  nlohmann::json modern = base;
  modern.erase("rope_theta");
  modern.erase("torch_dtype");
  modern["rope_parameters"] = {{"rope_type", "llama3"}, {"rope_theta", 500000.0}, {"factor", 8.0},
                               {"low_freq_factor", 1.0}, {"high_freq_factor", 4.0},
                               {"original_max_position_embeddings", 8192}};
  modern["dtype"] = "bfloat16";
  for (const auto& j : {legacy, modern}) {
    ModelConfig c = ModelConfig::from_hf_json(j, "config.json");
    EXPECT_EQ(c.rope_theta, 500000.0);
    EXPECT_EQ(c.rope_scaling.type, "llama3");
    EXPECT_EQ(c.rope_scaling.factor, 8.0);
    EXPECT_EQ(c.dtype, at::kBFloat16);
  }
  nlohmann::json yarn = base;
  yarn["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
  expect_user_error([&] { ModelConfig::from_hf_json(yarn, "config.json"); },
                    {"config.json: key 'rope_scaling'", "rope type 'yarn' is not supported"});
}

TEST(LoadModel, TokenizerLargerThanEmbeddingIsRejected) {
  // The Llama 2 tokenizer (32000 pieces) does not belong to stories260K (512 embedding rows).
  expect_user_error([&] { load_model(hf_dir(), test::data_path("models/llama2-tokenizer/tokenizer.model")); },
                    {hf_dir(), "32000 tokens", "larger than the model's embedding (512 rows)"});
}

TEST(Llama2c, MismatchedTokenizerBinIsRejected) {
  // llama2.c's tokenizer.bin has no size field: read with the model's 512, the Llama 2 file has bytes left over.
  expect_user_error(
      [&] { load_model(bin_path(), test::data_path("models/llama2-tokenizer/tokenizer.bin")); },
      {"tokenizer.bin", "left after 512 tokens"});
  expect_user_error([&] { load_model(bin_path()); }, {"needs --tokenizer"});
}

TEST(Llama2c, TruncatedCheckpointIsRejected) {
  const std::string bytes = test::read_file(bin_path());
  TempDir dir;
  test::write_file(dir.file("cut.bin"), bytes.substr(0, bytes.size() - 1000));
  expect_user_error([&] { open_checkpoint(dir.file("cut.bin")); },
                    {"cut.bin", "size 1055540 bytes does not match the header (1056540 expected"});
  test::write_file(dir.file("tiny.bin"), bytes.substr(0, 10));
  expect_user_error([&] { open_checkpoint(dir.file("tiny.bin")); }, {"too short for a llama2.c checkpoint header"});
  std::string garbage = bytes;
  garbage[0] = '\xff';  // dim < 0
  test::write_file(dir.file("garbage.bin"), garbage);
  expect_user_error([&] { open_checkpoint(dir.file("garbage.bin")); }, {"implausible header"});
}

TEST(Llama2c, SecondModelWithoutGqaLoads) {
  // aidreams260K: 4 heads, 4 KV heads, seq_len 128, its own tokenizer.
  LoadedModel m = load_model(test::data_path("models/aidreams260K/aidreams260K.bin"),
                             test::data_path("models/aidreams260K/tok512.bin"));
  EXPECT_EQ(m.checkpoint->config().num_kv_heads, m.checkpoint->config().num_heads);
  EXPECT_EQ(m.checkpoint->config().max_position_embeddings, 128);
  at::NoGradGuard g;
  at::Tensor logits = m.model->forward(at::tensor(std::vector<int64_t>{1, 300, 301}, at::kLong).unsqueeze(0));
  EXPECT_TRUE(at::isfinite(logits).all().item<bool>());
}

// stories260K rewritten as F16 GGUF (v3 and v2): tensors are the F32 ones rounded to F16, and the model still
// reproduces the F32 logits within fp16 rounding.
TEST(Gguf, F16TensorsAndVersion2Load) {
  GgufFile src = GgufFile::open(gguf_path());
  std::vector<std::pair<std::string, nlohmann::json>> meta;
  for (auto it = src.metadata().begin(); it != src.metadata().end(); ++it) meta.emplace_back(it.key(), it.value());
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& t : src.tensors()) {
    at::Tensor v = src.load(t.name);
    tensors.emplace_back(t.name, v.dim() >= 2 ? v.to(at::kHalf) : v);  // norms stay F32, as llama.cpp writes them
  }
  auto f32 = open_checkpoint(gguf_path());
  at::Tensor ref = prompt_logits(*f32);
  for (uint32_t version : {3u, 2u}) {
    TempDir dir;
    const std::string p = dir.file("stories-f16.gguf");
    test::write_gguf(p, version, meta, tensors);
    auto ck = open_checkpoint(p);
    EXPECT_EQ(ck->config().dtype, at::kHalf);
    at::Tensor q = ck->load("model.layers.0.self_attn.q_proj.weight");
    EXPECT_EQ(q.scalar_type(), at::kHalf);
    EXPECT_TRUE(at::equal(q, f32->load("model.layers.0.self_attn.q_proj.weight").to(at::kHalf)));
    LoadOptions lo;
    lo.dtype = at::kFloat;
    CausalLM m = load_causal_lm(*ck, lo);
    at::NoGradGuard g;
    at::Tensor logits = m->forward(at::tensor({1, 403, 407, 261, 378, 432}, at::kLong).unsqueeze(0));
    const double diff = (logits - ref).abs().max().item<double>();
    EXPECT_LT(diff, 0.05) << "v" << version;  // fp16 weights (10-bit mantissa) on logits of magnitude ~10
    EXPECT_GT(diff, 0.0) << "v" << version;
    EXPECT_EQ(ck->tokenizer()->encode("Once upon a time", true), f32->tokenizer()->encode("Once upon a time", true));
  }
}

TEST(Gguf, TruncatedAndCorruptFilesAreRejected) {
  const std::string bytes = test::read_file(gguf_path());
  TempDir dir;
  test::write_file(dir.file("cut.gguf"), bytes.substr(0, bytes.size() - 4096));
  expect_user_error([&] { open_checkpoint(dir.file("cut.gguf")); },
                    {"cut.gguf", "reaches beyond the end of the file: truncated file"});
  test::write_file(dir.file("header.gguf"), bytes.substr(0, 200));
  expect_user_error([&] { open_checkpoint(dir.file("header.gguf")); }, {"header.gguf", "truncated GGUF file"});
  std::string magic = bytes;
  magic[0] = 'X';
  test::write_file(dir.file("magic.gguf"), magic);
  expect_user_error([&] { open_checkpoint(dir.file("magic.gguf")); }, {"not a GGUF file (bad magic)"});
  std::string version = bytes;
  version[4] = 9;
  test::write_file(dir.file("version.gguf"), version);
  expect_user_error([&] { open_checkpoint(dir.file("version.gguf")); }, {"GGUF version 9 is not supported"});
}

}  // namespace
}  // namespace ptq
