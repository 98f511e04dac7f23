#include "core/progress.h"

#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_format.h"

namespace replearn {
namespace {

std::string FormatSeconds(double s) {
  if (s < 60) return absl::StrFormat("%.0fs", s);
  if (s < 3600)
    return absl::StrFormat("%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  return absl::StrFormat("%dh%02dm", static_cast<int>(s) / 3600, (static_cast<int>(s) / 60) % 60);
}

}  // namespace

Progress::Progress(std::string label, int64_t total, std::string unit, FILE* out,
                   double interval_seconds)
    : label_(std::move(label)),
      total_(std::max<int64_t>(total, 1)),
      unit_(std::move(unit)),
      out_(out),
      interval_(interval_seconds),
      tty_(isatty(fileno(out)) != 0),
      start_(std::chrono::steady_clock::now()),
      last_print_(start_) {}

double Progress::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::Update(int64_t done, const std::string& extra) {
  if ((calls_++ & 63) != 0 && done < total_) return;
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_print_).count();
  if (since < (tty_ ? 0.1 : interval_)) return;
  last_print_ = now;
  Print(done, extra, false);
}

void Progress::Finish(const std::string& extra) { Print(-1, extra, true); }

void Progress::Print(int64_t done, const std::string& extra, bool final_line) {
  const double elapsed = elapsed_seconds();
  std::string line;
  if (final_line) {
    line = absl::StrFormat("%s  done in %s", label_, FormatSeconds(elapsed));
  } else {
    const double frac = static_cast<double>(done) / static_cast<double>(total_);
    const double eta = done > 0 ? elapsed * (total_ - done) / done : 0.0;
    const double per_unit_ms = done > 0 ? 1e3 * elapsed / done : 0.0;
    std::string bar;
    if (tty_) {
      constexpr int kWidth = 24;
      const int filled = static_cast<int>(frac * kWidth);
      bar = "[" + std::string(filled, '#') + std::string(kWidth - filled, '.') + "]  ";
    }
    line = absl::StrFormat("%s  %s%d/%d %ss  %3.0f%%  %.3g ms/%s  ETA %s", label_, bar, done,
                           total_, unit_, 100 * frac, per_unit_ms, unit_, FormatSeconds(eta));
  }
  if (!extra.empty()) line += "  " + extra;
  if (tty_) {
    std::fprintf(out_, "\r\033[K%s%s", line.c_str(), final_line ? "\n" : "");
  } else {
    std::fprintf(out_, "%s\n", line.c_str());
  }
  std::fflush(out_);
}

}  // namespace replearn
