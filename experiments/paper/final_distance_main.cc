// bazel run //experiments:fig_final_distance [-- flags]
//
// The final-distance experiment (experiments/paper/final_distance.h): effective rates averaged
// over --runs default runs, then a --grid x --grid set of two-point datasets, measured final
// h against [FINAL]. Exit codes: 0 done, 1 bad input or no run kept. --help lists the flags.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "experiments/flags_util.h"
#include "experiments/paper/final_distance.h"

ABSL_FLAG(std::string, out, "runs/final_distance",
          "output folder (relative to where bazel run was started)");
ABSL_FLAG(int, runs, 50, "default runs whose fitted eta_h and eta_y are averaged (>= 1)");
ABSL_FLAG(int, grid, 5, "grid points per axis: dx in [0.5, 1.5] x dy in [0, 1] (>= 2)");
ABSL_FLAG(int, threads, 0, "runs trained at once; 0 = all cores (each run uses 1 thread)");
ABSL_FLAG(bool, smoke, false,
          "a quick check: at most 4 runs, a 2 x 2 grid, width 64, grid runs of at most 8000 "
          "steps");
ABSL_FLAG(bool, resume, false,
          "keep runs already completed in --out with the same spec (after a kill)");
ABSL_FLAG(bool, quiet, false, "no progress lines");

namespace replearn {
namespace {

int Main(int argc, char** argv) {
  const std::vector<std::string> positional = ParseExperimentFlags(
      argc, argv,
      "fig_final_distance [--out=DIR] [--runs=N] [--grid=N] [--threads=N] [--smoke] "
      "[--resume] [--quiet]\n"
      "Final representational distance: measured against [FINAL] (docs/theory.md section 7).");
  if (!positional.empty()) {
    std::fprintf(stderr, "fig_final_distance: unexpected argument \"%s\"\n", positional[0].c_str());
    return 1;
  }
  FinalDistanceOptions options;
  options.out_dir = UserPath(absl::GetFlag(FLAGS_out));
  options.runs = absl::GetFlag(FLAGS_runs);
  options.grid = absl::GetFlag(FLAGS_grid);
  options.threads = absl::GetFlag(FLAGS_threads);
  options.smoke = absl::GetFlag(FLAGS_smoke);
  options.resume = absl::GetFlag(FLAGS_resume);
  options.progress = !absl::GetFlag(FLAGS_quiet);
  if (const absl::Status s = CheckThreads(options.threads); !s.ok()) {
    std::fprintf(stderr, "fig_final_distance: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  const absl::StatusOr<FinalDistanceResult> result = RunFinalDistance(options);
  if (!result.ok()) {
    std::fprintf(stderr, "fig_final_distance: %s\n",
                 std::string(result.status().message()).c_str());
    return 1;
  }
  const FinalDistanceResult& r = *result;
  std::printf(
      "eta_h = %.4g, eta_y = %.4g (averaged over %d of %d runs)\n"
      "%d of %d grid points converged: Pearson r = %.4f, R^2 = %.4f, max ratio = %.3f\n"
      "output in %s\n",
      r.rates.eta_h, r.rates.eta_y, r.rates.kept, r.runs, r.grid.converged, r.points,
      r.grid.pearson_r, r.grid.r2, r.grid.max_ratio, r.out_dir.c_str());
  return 0;
}

}  // namespace
}  // namespace replearn

int main(int argc, char** argv) { return replearn::Main(argc, argv); }
