// bazel run //experiments:universality [-- flags]
//
// Runs every spec of the universality suite (experiments/paper/specs/universality/, one per row
// of docs/theory.md section 7) with the theory fit, several at once, and writes
// universality.csv and universality.{png,svg} (experiments/paper/universality.h).
// Exit codes: 0 every row ran, 1 bad input, 2 some rows failed (the others are written).
// --help lists the flags.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "experiments/flags_util.h"
#include "experiments/paper/universality.h"

ABSL_FLAG(std::string, out, "runs/universality",
          "output folder (relative to where bazel run was started)");
ABSL_FLAG(std::string, specs, "",
          "suite folder; default the packaged experiments/paper/specs/universality");
ABSL_FLAG(std::vector<std::string>, rows, {},
          "only these rows, comma-separated spec file stems (e.g. default,gain_1.6); default all");
// Declared for --help; ParseExperimentFlags collects the repeated values.
ABSL_FLAG(std::string, set, "", "PATH=VALUE: override one spec field of every row; repeatable");
ABSL_FLAG(bool, smoke, false, "50 steps at width 32 where the architecture allows (a quick check)");
ABSL_FLAG(int, threads, 0, "rows trained at once; 0 = all cores (each row uses 1 thread)");
ABSL_FLAG(bool, no_figures, false, "skip the gnuplot figures");
ABSL_FLAG(bool, resume, false,
          "keep rows already completed in --out with the same spec (after a kill)");
ABSL_FLAG(bool, quiet, false, "no progress lines");

namespace replearn {
namespace {

int Main(int argc, char** argv) {
  SuiteOptions options;
  const std::vector<std::string> positional = ParseExperimentFlags(
      argc, argv,
      "universality [--out=DIR] [--specs=DIR] [--rows=a,b] [--set=PATH=VALUE]... [--smoke] "
      "[--threads=N] [--no_figures] [--resume] [--quiet]\n"
      "The universality suite of docs/theory.md section 7.",
      &options.sets);
  if (!positional.empty()) {
    std::fprintf(stderr, "universality: unexpected argument \"%s\"\n", positional[0].c_str());
    return 1;
  }
  for (const std::string& row : absl::GetFlag(FLAGS_rows)) {
    const std::string name(absl::StripAsciiWhitespace(row));
    if (!name.empty()) options.rows.push_back(name);
  }
  options.smoke = absl::GetFlag(FLAGS_smoke);
  options.threads = absl::GetFlag(FLAGS_threads);
  options.figures = !absl::GetFlag(FLAGS_no_figures);
  options.resume = absl::GetFlag(FLAGS_resume);
  options.progress = !absl::GetFlag(FLAGS_quiet);
  if (const absl::Status s = CheckThreads(options.threads); !s.ok()) {
    std::fprintf(stderr, "universality: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  std::string specs = UserPath(absl::GetFlag(FLAGS_specs));
  if (specs.empty()) specs = "experiments/paper/specs/universality";  // runfiles of bazel run
  auto rows = LoadSuite(specs, options);
  if (!rows.ok()) {
    std::fprintf(stderr, "universality: %s\n", std::string(rows.status().message()).c_str());
    return 1;
  }
  const std::string out_dir = UserPath(absl::GetFlag(FLAGS_out));
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
