#include <gtest/gtest.h>
#include <ATen/ATen.h>

#include <fstream>

#include "core/error.h"
#include "model/safetensors.h"
#include "support/test_data.h"

namespace ptq {
namespace {

using test::TempDir;

// Opening `bytes` as a safetensors file must fail with a message containing `needle` and the file's path.
void expect_open_error(const std::string& bytes, const std::string& needle) {
  TempDir dir;
  const std::string p = dir.file("bad.safetensors");
  test::write_file(p, bytes);
  try {
    SafetensorsFile::open(p);
    ADD_FAILURE() << "no error; expected '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUser);
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

// A file from a raw header and data, the header padded with spaces to `pad_to`.
std::string make_file(std::string header, const std::string& data, size_t pad_to = 8) {
  header.append((pad_to - header.size() % pad_to) % pad_to, ' ');
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return out + header + data;
}

TEST(Safetensors, WorkedExampleBytes) {
  // docs/formats.md, safetensors: one F16 tensor [1.0, -2.0] -> 100 bytes, header length 88, data 00 3c 00 c0.
  TempDir dir;
  const std::string p = dir.file("w.safetensors");
  write_safetensors(p, {{"w", at::tensor({1.0f, -2.0f}).to(at::kHalf)}});
  const std::string bytes = test::read_file(p);
  ASSERT_EQ(bytes.size(), 100u);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x58\0\0\0\0\0\0\0", 8));
  EXPECT_EQ(bytes.substr(8, 85), R"({"__metadata__":{"format":"pt"},"w":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}})");
  EXPECT_EQ(bytes.substr(93, 3), "   ");
  EXPECT_EQ(bytes.substr(96), std::string("\x00\x3c\x00\xc0", 4));
}

TEST(Safetensors, RoundTripIsBitExact) {
  TempDir dir;
  const std::string p = dir.file("rt.safetensors");
  at::manual_seed(0);
  at::Tensor bf = at::randn({3, 5}).to(at::kBFloat16);
  bf[0][0] = std::numeric_limits<float>::quiet_NaN();
  bf[0][1] = std::numeric_limits<float>::infinity();
  std::vector<std::pair<std::string, at::Tensor>> tensors = {
      {"f32", at::randn({4, 7})},
      {"f16", at::randn({2, 3, 4}).to(at::kHalf)},
      {"bf16", bf},
      {"f64", at::randn({3}, at::kDouble)},
      {"i8", at::randint(-128, 127, {9}, at::kChar)},
      {"u8", at::randint(0, 255, {2, 2}, at::kByte)},
      {"i32", at::randint(-1000, 1000, {5}, at::kInt)},
      {"i64", at::randint(-1000, 1000, {5}, at::kLong)},
      {"bool", at::randint(0, 2, {6}, at::kBool)},
      {"scalar", at::scalar_tensor(3.5)},
      {"empty", at::empty({0, 4})},
      {"noncontig", at::randn({6, 4}).t()},
  };
  write_safetensors(p, tensors, {{"producer", "ptq"}});
  SafetensorsFile f = SafetensorsFile::open(p);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  EXPECT_EQ(f.metadata().at("producer"), "ptq");
  ASSERT_EQ(f.entries().size(), tensors.size());
  for (const auto& [name, t] : tensors) {
    at::Tensor back = f.load(name);
    EXPECT_EQ(back.scalar_type(), t.scalar_type()) << name;
    EXPECT_EQ(back.sizes(), t.sizes()) << name;
    // Bit-exact: compare the raw bytes (NaN payloads included).
    at::Tensor a = t.contiguous(), b = back.contiguous();
    ASSERT_EQ(a.numel() * a.element_size(), b.numel() * b.element_size());
    // (An empty tensor has no storage: memcmp on its null pointer would be undefined even for 0 bytes; UBSan.)
    if (a.numel() > 0) EXPECT_EQ(std::memcmp(a.data_ptr(), b.data_ptr(), a.numel() * a.element_size()), 0) << name;
  }
  // The loaded tensor is a copy: modifying it leaves the file alone.
  f.load("f32").fill_(0);
  EXPECT_TRUE(at::equal(SafetensorsFile::open(p).load("f32"), tensors[0].second));
}

// This process's resident file-backed pages (RssFile in /proc/self/status), bytes; -1 when not reported.
int64_t rss_file_bytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("RssFile:", 0) == 0) return std::stoll(line.substr(8)) * 1024;  // "RssFile:   1234 kB"
  return -1;
}

// A loaded tensor is an owning copy and the mapping's pages it came from are dropped from the resident set
// (MappedFile::release), so a loaded model is resident once, not twice (issue: peak memory of 32 vs 4 layers).
TEST(Safetensors, LoadedTensorsDoNotStayMapped) {
  if (rss_file_bytes() < 0) GTEST_SKIP() << "no RssFile in /proc/self/status";
  TempDir dir;
  const std::string p = dir.file("big.safetensors");
  at::manual_seed(0);
  const at::Tensor w = at::randn({4096, 2048});  // 32 MiB
  write_safetensors(p, {{"w", w}});
  const SafetensorsFile f = SafetensorsFile::open(p);
  const int64_t before = rss_file_bytes();
  const at::Tensor t = f.load("w");
  const int64_t grown = rss_file_bytes() - before;
  EXPECT_TRUE(at::equal(t, w));
  // Without the release the whole 32 MiB of mapped pages would stay (they were all read); at most a page at each end
  // of the tensor's range (shared with the header or not page-aligned) may remain.
  EXPECT_LT(grown, 1 << 20) << "RssFile grew by " << grown << " bytes";
  // The mapping still reads correctly after the release (pages come back from the file).
  EXPECT_TRUE(at::equal(f.load("w"), w));
}

TEST(Safetensors, HeaderIsPaddedToEightBytes) {
  TempDir dir;
  for (int n = 1; n < 12; ++n) {
    const std::string p = dir.file("pad.safetensors");
    write_safetensors(p, {{std::string(static_cast<size_t>(n), 'x'), at::ones({n})}});
    const std::string bytes = test::read_file(p);
    uint64_t len = 0;
    std::memcpy(&len, bytes.data(), 8);
    EXPECT_EQ(len % 8, 0u);
  }
}

TEST(Safetensors, MalformedFilesAreClearErrors) {
  const std::string ok_header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const std::string data8(8, '\1');
  // Sanity: the well-formed version opens.
  {
    TempDir dir;
    test::write_file(dir.file("ok.safetensors"), make_file(ok_header, data8));
    EXPECT_NO_THROW(SafetensorsFile::open(dir.file("ok.safetensors")));
  }
  expect_open_error("", "shorter than the 8-byte header length");
  expect_open_error(std::string("\x10\0\0\0", 4), "shorter than the 8-byte header length");
  expect_open_error(make_file(ok_header, data8).substr(0, 40), "reaches beyond the end of the file");
  expect_open_error(make_file(ok_header, data8.substr(0, 5)), "reach beyond the end of the data");
  std::string huge(8, '\xff');
  expect_open_error(huge + "{}", "exceeds the limit");
  expect_open_error(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})", data8), "not valid JSON");
  expect_open_error(make_file(R"([1,2])", ""), "not a JSON object");
  expect_open_error(make_file(R"({"a":{"dtype":"F13","shape":[2],"data_offsets":[0,8]}})", data8),
                    "tensor 'a': unknown or unsupported dtype 'F13'");
  expect_open_error(make_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", data8),
                    "tensor 'a': data_offsets [0, 8] span 8 bytes, but dtype F32 and shape [3] need 12");
  expect_open_error(make_file(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", data8),
                    "negative or non-integer dimension");
  expect_open_error(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                              R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                              std::string(12, '\0')),
                    "overlaps tensor 'a'");
  expect_open_error(make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", data8),
                    "4 unused bytes before tensor 'a'");
  expect_open_error(make_file(ok_header, data8 + "xyz"), "3 trailing bytes after the last tensor");
  expect_open_error(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", data8),
                    "end before they begin");
  expect_open_error(make_file(R"({"a":{"dtype":"F32","shape":[2]}})", data8), "needs dtype, shape and data_offsets");
  expect_open_error(make_file(R"({"__metadata__":{"format":3}})", ""), "__metadata__ key 'format' is not a string");
}

TEST(Safetensors, MissingTensorAndFile) {
  TempDir dir;
  const std::string p = dir.file("one.safetensors");
  write_safetensors(p, {{"x", at::ones({2})}});
  SafetensorsFile f = SafetensorsFile::open(p);
  EXPECT_EQ(f.find("y"), nullptr);
  try {
    f.load("y");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no tensor named 'y'"), std::string::npos);
  }
  EXPECT_THROW(SafetensorsFile::open(dir.file("absent.safetensors")), Error);
}

}  // namespace
}  // namespace ptq
