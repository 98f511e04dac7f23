// Progress reporting for long runs. On a terminal (stderr is a TTY) it redraws one line:
//   two_point  [#########.........]  3000/6000  50%  1.2 ms/step  ETA 4s  loss 1.2e-03
// Elsewhere (logs, CI) it prints a plain line at most every `interval_seconds` and once at
// the end, so logs stay short. Reporting never throws and costs nothing between updates
// beyond a clock read every 64 calls.
#ifndef REPLEARN_CORE_PROGRESS_H_
#define REPLEARN_CORE_PROGRESS_H_

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace replearn {

class Progress {
 public:
  // total: number of units (e.g. steps); unit: their name, e.g. "step".
  Progress(std::string label, int64_t total, std::string unit, FILE* out = stderr,
           double interval_seconds = 5.0);
  // Forces TTY or plain mode (tests).
  void set_tty(bool tty) { tty_ = tty; }
  // Reports that `done` units are finished; `extra` is appended (e.g. the loss).
  void Update(int64_t done, const std::string& extra = "");
  // Prints the final line (with a newline on a TTY).
  void Finish(const std::string& extra = "");
  double elapsed_seconds() const;

 private:
  void Print(int64_t done, const std::string& extra, bool final_line);
  std::string label_;
  int64_t total_;
  std::string unit_;
  FILE* out_;
  double interval_;
  bool tty_;
  int64_t calls_ = 0;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_print_;
};

}  // namespace replearn

#endif  // REPLEARN_CORE_PROGRESS_H_
