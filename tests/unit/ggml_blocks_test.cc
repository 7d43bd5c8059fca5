// GGUF quantized blocks: ptq's dequantizers against the values of the PyPI `gguf` package (fixtures made by
// scripts/fixtures/make_gguf_block_fixtures.py), bit for bit, directly and through GgufFile; malformed tensors.
#include <gtest/gtest.h>
#include <ATen/ATen.h>

#include <cstring>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "model/ggml_blocks.h"
#include "model/gguf_file.h"
#include "support/gguf_writer.h"
#include "support/test_data.h"

namespace ptq {
namespace {

using test::TempDir;

struct Fixture {
  std::string name;
  const GgmlType* type;
  int64_t n_blocks;
  std::string blocks;
  std::vector<float> values;
};

std::vector<Fixture> load_fixtures() {
  const auto manifest = nlohmann::json::parse(test::read_file(test::fixture_path("gguf_blocks/manifest.json")));
  std::vector<Fixture> out;
  for (const auto& [name, m] : manifest.at("types").items()) {
    Fixture f{name, ggml_type(m.at("id").get<uint32_t>()), m.at("n_blocks").get<int64_t>(), {}, {}};
    f.blocks = test::read_file(test::fixture_path("gguf_blocks/" + name + ".blocks"));
    const std::string v = test::read_file(test::fixture_path("gguf_blocks/" + name + ".f32"));
    f.values.resize(v.size() / 4);
    std::memcpy(f.values.data(), v.data(), v.size());
    out.push_back(std::move(f));
  }
  return out;
}

// Index of the first value whose bits differ, or -1.
int64_t first_bit_difference(const float* a, const float* b, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (std::memcmp(a + i, b + i, 4) != 0) return i;
  return -1;
}

TEST(GgmlBlocks, EveryTypeDequantizesBitForBitAsTheGgufPackage) {
  const auto fixtures = load_fixtures();
  std::vector<std::string> names;
  for (const auto& f : fixtures) names.push_back(f.name);
  // Every quantized type ptq claims to read has a fixture.
  for (const char* want : {"Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"})
    EXPECT_NE(std::find(names.begin(), names.end(), want), names.end()) << want;
  for (const auto& f : fixtures) {
    SCOPED_TRACE(f.name);
    ASSERT_NE(f.type, nullptr);
    ASSERT_EQ(f.type->name, f.name);
    ASSERT_EQ(static_cast<int64_t>(f.blocks.size()), f.n_blocks * f.type->block_bytes);
    ASSERT_EQ(static_cast<int64_t>(f.values.size()), f.n_blocks * f.type->block_elems);
    std::vector<float> got(f.values.size(), -1.0f);
    ggml_dequantize(*f.type, reinterpret_cast<const uint8_t*>(f.blocks.data()), f.n_blocks, got.data());
    const int64_t bad = first_bit_difference(got.data(), f.values.data(), static_cast<int64_t>(got.size()));
    EXPECT_EQ(bad, -1) << "value " << bad << ": ptq " << (bad >= 0 ? got[bad] : 0.0f) << ", gguf "
                       << (bad >= 0 ? f.values[bad] : 0.0f);
  }
}

TEST(GgmlBlocks, QuantizedTensorsLoadAsFloat32ThroughGgufFile) {
  TempDir dir;
  const std::string p = dir.file("q.gguf");
  std::vector<test::GgufRawTensor> tensors;
  const auto fixtures = load_fixtures();
  for (const auto& f : fixtures) {
    // Two rows of half the blocks each (every fixture has an even block count).
    ASSERT_EQ(f.n_blocks % 2, 0);
    tensors.push_back({f.name, f.type->id, {2, f.n_blocks / 2 * f.type->block_elems}, f.blocks});
  }
  at::Tensor plain = at::arange(6, at::kFloat).reshape({2, 3});
  tensors.push_back({"plain", 0, {2, 3}, std::string(static_cast<const char*>(plain.data_ptr()), 24)});
  test::write_gguf_raw(p, 3, {{"general.architecture", "llama"}}, tensors);
  const GgufFile g = GgufFile::open(p);
  for (const auto& f : fixtures) {
    SCOPED_TRACE(f.name);
    const at::Tensor t = g.load(f.name);
    EXPECT_EQ(t.scalar_type(), at::kFloat);
    EXPECT_EQ(t.sizes().vec(), (std::vector<int64_t>{2, f.n_blocks / 2 * f.type->block_elems}));
    EXPECT_EQ(first_bit_difference(t.data_ptr<float>(), f.values.data(), t.numel()), -1);
  }
  EXPECT_TRUE(at::equal(g.load("plain"), plain));
}

void expect_open_error(const std::string& path, const std::vector<std::string>& needles) {
  try {
    GgufFile::open(path);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUser);
    for (const auto& n : needles) EXPECT_NE(std::string(e.what()).find(n), std::string::npos) << e.what();
  }
}

TEST(GgmlBlocks, MalformedQuantizedTensorsAreErrorsNamingTheTensor) {
  TempDir dir;
  const std::string blocks(4 * 18, '\x11');  // four Q4_0 blocks
  {  // a row that is not a whole number of blocks
    const std::string p = dir.file("rows.gguf");
    test::write_gguf_raw(p, 3, {{"general.architecture", "llama"}}, {{"blk.0.attn_q.weight", 2, {3, 48}, blocks}});
    expect_open_error(p, {p, "blk.0.attn_q.weight", "Q4_0", "48", "block size 32"});
  }
  {  // the file ends inside the tensor's blocks
    const std::string p = dir.file("short.gguf");
    test::write_gguf_raw(p, 3, {{"general.architecture", "llama"}}, {{"w", 2, {2, 64}, blocks}});
    const auto size = std::filesystem::file_size(p);
    std::filesystem::resize_file(p, size - 40);
    expect_open_error(p, {p, "'w'", "truncated"});
  }
  {  // a ggml type ptq does not know (IQ2_XXS = 16)
    const std::string p = dir.file("type.gguf");
    test::write_gguf_raw(p, 3, {{"general.architecture", "llama"}}, {{"w", 16, {1, 256}, std::string(66, '\0')}});
    expect_open_error(p, {p, "'w'", "unknown ggml type 16"});
  }
}

}  // namespace
}  // namespace ptq
