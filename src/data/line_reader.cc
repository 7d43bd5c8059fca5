#include "data/line_reader.h"

#include <zstd.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <memory>
#include <vector>

#include "core/error.h"

namespace ptq {

namespace {

constexpr std::array<unsigned char, 4> kZstdMagic = {0x28, 0xb5, 0x2f, 0xfd};

std::ifstream open_data_file(const std::string& path) {
  PTQ_CHECK(std::filesystem::is_regular_file(path), "data file '{}' not found", path);
  std::ifstream in(path, std::ios::binary);
  PTQ_CHECK(in.good(), "cannot read data file '{}'", path);
  return in;
}

// Splits `pending` at newlines, handing out complete lines and keeping the unfinished tail.
void emit_lines(std::string& pending, int64_t& number,
                const std::function<void(std::string_view, int64_t)>& fn) {
  size_t start = 0;
  for (size_t nl = pending.find('\n'); nl != std::string::npos; nl = pending.find('\n', start)) {
    fn(std::string_view(pending).substr(start, nl - start), ++number);
    start = nl + 1;
  }
  pending.erase(0, start);
}

}  // namespace

bool is_zstd_file(const std::string& path) {
  std::ifstream in = open_data_file(path);
  std::array<unsigned char, 4> head{};
  in.read(reinterpret_cast<char*>(head.data()), head.size());
  return in.gcount() == static_cast<std::streamsize>(head.size()) && head == kZstdMagic;
}

void for_each_line(const std::string& path, const std::function<void(std::string_view, int64_t)>& fn) {
  int64_t number = 0;
  if (!is_zstd_file(path)) {
    std::ifstream in = open_data_file(path);
    std::string line;
    while (std::getline(in, line)) fn(line, ++number);
    PTQ_CHECK(!in.bad(), "cannot read data file '{}'", path);
    return;
  }
  std::ifstream in = open_data_file(path);
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> ctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  PTQ_ASSERT(ctx != nullptr, "ZSTD_createDCtx failed");
  std::vector<char> inbuf(ZSTD_DStreamInSize()), outbuf(ZSTD_DStreamOutSize());
  std::string pending;
  size_t last = 0;  // the last ZSTD_decompressStream result: 0 when a frame has just been completed
  while (in) {
    in.read(inbuf.data(), static_cast<std::streamsize>(inbuf.size()));
    const size_t got = static_cast<size_t>(in.gcount());
    PTQ_CHECK(!in.bad(), "cannot read data file '{}'", path);
    if (got == 0) break;
    ZSTD_inBuffer input = {inbuf.data(), got, 0};
    while (input.pos < input.size) {
      ZSTD_outBuffer output = {outbuf.data(), outbuf.size(), 0};
      last = ZSTD_decompressStream(ctx.get(), &output, &input);
      PTQ_CHECK(!ZSTD_isError(last), "'{}': corrupt zstd data: {}", path, ZSTD_getErrorName(last));
      pending.append(outbuf.data(), output.pos);
      emit_lines(pending, number, fn);
    }
  }
  // The decoder may still hold output after the input is consumed.
  for (;;) {
    ZSTD_inBuffer input = {nullptr, 0, 0};
    ZSTD_outBuffer output = {outbuf.data(), outbuf.size(), 0};
    const size_t r = ZSTD_decompressStream(ctx.get(), &output, &input);
    PTQ_CHECK(!ZSTD_isError(r), "'{}': corrupt zstd data: {}", path, ZSTD_getErrorName(r));
    if (output.pos == 0) break;
    last = r;
    pending.append(outbuf.data(), output.pos);
    emit_lines(pending, number, fn);
  }
  PTQ_CHECK(last == 0, "'{}': truncated zstd data (the last frame is incomplete)", path);
  if (!pending.empty()) fn(pending, ++number);
}

}  // namespace ptq
