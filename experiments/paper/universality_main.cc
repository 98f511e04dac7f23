// bazel run //experiments:universality [-- flags]
//
// Runs every spec of the universality suite (experiments/paper/specs/universality/, one per row
// of docs/theory.md section 7) with the theory fit, several at once, and writes
// universality.csv and universality.{png,svg} (experiments/paper/universality.h).
//
//   --out=DIR          output folder (default runs/universality)
//   --specs=DIR        suite folder (default the packaged experiments/paper/specs/universality)
//   --rows=a,b,...     only these rows (spec file stems, e.g. default,gain_1.6)
//   --set=PATH=VALUE   override applied to every row, repeatable
//   --smoke            50 steps at width 32 where the architecture allows (a quick check)
//   --threads=N        rows trained at once (default: all cores; each row uses 1 thread)
//   --no_figures       skip the gnuplot figure
//   --resume           keep rows already completed in --out with the same spec (after a kill)
//   --quiet            no progress lines
// Exit codes: 0 every row ran, 1 bad input, 2 some rows failed (the others are written).
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/file_util.h"
#include "experiments/paper/universality.h"

namespace replearn {
namespace {

constexpr char kUsage[] =
    "usage: universality [--out=DIR] [--specs=DIR] [--rows=a,b] [--set=PATH=VALUE]... "
    "[--smoke] [--threads=N] [--no_figures] [--resume] [--quiet]\n";

// A user path relative to where `bazel run` was started.
std::string UserPath(const std::string& path) {
  const char* wd = std::getenv("BUILD_WORKING_DIRECTORY");
  if (path.empty() || path[0] == '/' || wd == nullptr || *wd == '\0') return path;
  return JoinPath(wd, path);
}

int Main(int argc, char** argv) {
  std::string out = "runs/universality", specs;
  SuiteOptions options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    absl::string_view v = arg;
    if (absl::ConsumePrefix(&v, "--out=")) {
      out = std::string(v);
    } else if (absl::ConsumePrefix(&v, "--specs=")) {
      specs = UserPath(std::string(v));
    } else if (absl::ConsumePrefix(&v, "--rows=")) {
      options.rows = absl::StrSplit(v, ',', absl::SkipWhitespace());
    } else if (absl::ConsumePrefix(&v, "--set=")) {
      options.sets.emplace_back(v);
    } else if (absl::ConsumePrefix(&v, "--threads=")) {
      if (!absl::SimpleAtoi(v, &options.threads) || options.threads < 0) {
        std::fprintf(stderr, "universality: --threads = \"%s\" must be an integer >= 0\n",
                     std::string(v).c_str());
        return 1;
      }
    } else if (arg == "--smoke") {
      options.smoke = true;
    } else if (arg == "--resume") {
      options.resume = true;
    } else if (arg == "--no_figures") {
      options.figures = false;
    } else if (arg == "--quiet") {
      options.progress = false;
    } else if (arg == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else {
      std::fprintf(stderr, "universality: unknown argument \"%s\"\n%s", arg.c_str(), kUsage);
      return 1;
    }
  }
  if (specs.empty()) specs = "experiments/paper/specs/universality";  // runfiles of bazel run
  auto rows = LoadSuite(specs, options);
  if (!rows.ok()) {
    std::fprintf(stderr, "universality: %s\n", std::string(rows.status().message()).c_str());
    return 1;
  }
  const std::string out_dir = UserPath(out);
  if (options.progress) {
    std::fprintf(stderr, "universality: %zu rows into %s\n", rows->size(), out_dir.c_str());
  }
  auto result = RunSuite(*rows, out_dir, options);
  if (!result.ok()) {
    std::fprintf(stderr, "universality: %s\n", std::string(result.status().message()).c_str());
    return 1;
  }
  std::printf("%-10s %12s %12s %12s %12s %8s %8s %8s %8s\n", "row", "final_loss", "norm_loss",
              "eta_h", "eta_y", "R2_h", "R2_y", "R2_w", "wall_s");
  for (size_t r = 0; r < rows->size(); ++r) {
    const RunSummary& s = result->summaries[r];
    if (!s.fitted) {
      std::printf("%-10s %12.4g %12s (%s)\n", (*rows)[r].name.c_str(), s.final_loss, "not fitted",
                  s.status.c_str());
      continue;
    }
    std::printf("%-10s %12.4g %12.4g %12.4g %12.4g %8.4f %8.4f %8.4f %8.1f\n",
                (*rows)[r].name.c_str(), s.final_loss, s.normalised_loss, s.eta_h, s.eta_y, s.r2_h,
                s.r2_y, s.r2_w, s.wall_seconds);
  }
  for (const std::string& e : result->errors) std::fprintf(stderr, "universality: %s\n", e.c_str());
  std::printf("output in %s\n", out_dir.c_str());
  return result->failed > 0 ? 2 : 0;
}

}  // namespace
}  // namespace replearn

int main(int argc, char** argv) { return replearn::Main(argc, argv); }
