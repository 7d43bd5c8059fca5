// Progress lines on standard error for long loops (quantizing blocks, scoring evaluation windows):
//   ptq: quantize block 7/30: 8.1 s, 61.2 s elapsed, ETA 3m27s
// A line is written after a step only when PTQ_PROGRESS_INTERVAL seconds (default 10) have passed since the previous
// line (or the start), and always after the last step when any line was written, so short runs stay silent and a
// long run in a log shows where it is. PTQ_PROGRESS_INTERVAL=0 writes every step; "off" (or a negative value)
// none. Standard output is left to results (the --json line).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace ptq {

class Progress {
 public:
  // what: e.g. "quantize block", "eval wikitext2 window"; total: number of steps.
  Progress(std::string what, int64_t total);
  // Call after step `done` (1-based) finished.
  void step(int64_t done);

 private:
  using Clock = std::chrono::steady_clock;
  std::string what_;
  int64_t total_;
  double interval_;  // seconds; < 0: never
  Clock::time_point start_, last_step_, last_line_;
  bool wrote_ = false;
};

// "42.0 s", "3m27s", "1h05m".
std::string format_duration(double seconds);

}  // namespace ptq
