#include "core/progress.h"

#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace ptq {

namespace {

double interval_from_env() {
  const char* v = std::getenv("PTQ_PROGRESS_INTERVAL");
  if (v == nullptr || *v == '\0') return 10.0;
  if (std::string_view(v) == "off") return -1.0;
  char* end = nullptr;
  const double s = std::strtod(v, &end);
  return end != v && std::isfinite(s) ? s : 10.0;
}

}  // namespace

std::string format_duration(double seconds) {
  if (seconds < 60) return fmt::format("{:.1f} s", seconds);
  const auto s = static_cast<int64_t>(std::lround(seconds));
  if (s < 3600) return fmt::format("{}m{:02d}s", s / 60, s % 60);
  return fmt::format("{}h{:02d}m", s / 3600, (s % 3600) / 60);
}

Progress::Progress(std::string what, int64_t total)
    : what_(std::move(what)), total_(total), interval_(interval_from_env()), start_(Clock::now()),
      last_step_(start_), last_line_(start_) {}

void Progress::step(int64_t done) {
  const auto now = Clock::now();
  const double step_s = std::chrono::duration<double>(now - last_step_).count();
  last_step_ = now;
  if (interval_ < 0) return;
  const double since_line = std::chrono::duration<double>(now - last_line_).count();
  const bool last = done >= total_;
  if (!(since_line >= interval_ || (last && wrote_))) return;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  std::string line = fmt::format("ptq: {} {}/{}: {}, {} elapsed", what_, done, total_, format_duration(step_s),
                                 format_duration(elapsed));
  if (!last && done > 0)
    line += ", ETA " + format_duration(elapsed / static_cast<double>(done) * static_cast<double>(total_ - done));
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
  last_line_ = now;
  wrote_ = true;
}

}  // namespace ptq
