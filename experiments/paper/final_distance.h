// The paper's "final distance" experiment (docs/theory.md section 7, [FINAL] of section 4):
//   1. train the default network (experiments/specs/two_point_default.pbtxt) with `runs`
//      seeds (1..runs), fit the theory at the tracked layer of each, drop runs whose final
//      loss is above kKeepLoss = 1e-2 (or without a fit or positive rates), and average eta_h
//      and eta_y over the rest (AverageRates);
//   2. for a grid x grid set of two-point datasets (input distance dx in linspace(0.5, 1.5),
//      target distance dy in linspace(0, 1); dx2 = dx^2, dy2 = dy^2; GridPoints) train a
//      fresh network at a fifth of the learning rate for up to 40000 steps, stopping once the
//      loss is below 1e-4, and compare the measured final h at the tracked layer with [FINAL]
//      evaluated at the run's own h0, y0 and the averaged eta_h / eta_y (CompareGrid).
// Output folder (default runs/final_distance):
//   rates/<run>/, grid/<point>/   the run folders
//   rates.csv                     run,seed,status,final_loss,eta_h,eta_y,kept
//   final_distance.csv            point,dx2,dy2,status,final_loss,h0,y0,h_measured,
//                                 h_predicted,ratio
//   final_distance.{png,svg}      measured against predicted final h, with y = x and factor 2
//   summary.json                  eta_h, eta_y (averaged), runs, runs_kept, points,
//                                 points_converged, pearson_r, r2, max_ratio (over converged
//                                 points: the largest of measured/predicted and its inverse)
// Smoke (--smoke): at most 4 runs, a 2 x 2 grid, width 64, grid runs of at most 8000 steps.
#ifndef REPLEARN_EXPERIMENTS_FINAL_DISTANCE_H_
#define REPLEARN_EXPERIMENTS_FINAL_DISTANCE_H_

#include <cmath>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "experiments/run.h"

namespace replearn {

constexpr double kKeepLoss = 1e-2;  // rate runs above this final loss are dropped

struct FinalDistanceOptions {
  std::string out_dir;  // required
  // The default network, as packaged in the runfiles of bazel run.
  std::string spec = "experiments/specs/two_point_default.pbtxt";
  int runs = 50;    // rate runs, >= 1
  int grid = 5;     // grid x grid datasets, >= 2
  int threads = 0;  // runs trained at once; 0 = all cores
  bool smoke = false;
  bool progress = true;
  bool resume = false;  // keep runs already completed in out_dir with the same spec
  bool figures = true;
};

// Step 1: run r is kept when it was fitted, its final loss is <= kKeepLoss and both rates
// are > 0; eta_h and eta_y are the means over the kept runs (NaN when none is kept).
struct RateAverage {
  double eta_h = NAN, eta_y = NAN;
  int kept = 0;
  std::vector<bool> keep;  // per run
};
RateAverage AverageRates(const std::vector<RunSummary>& runs);

// One dataset of the grid: point (i, j) has dx = 0.5 + i / (grid - 1) and dy = j / (grid - 1),
// named "dx<dx>_dy<dy>" with two decimals ("dx0.50_dy0.00").
struct GridPoint {
  std::string name;
  double dx2 = 0, dy2 = 0;
};
// The grid x grid points, i-major.
std::vector<GridPoint> GridPoints(int grid);

// Step 2 for runs[k] on points[k], with ratio = eta_h / eta_y:
//   predicted[k] = FinalH(h0, y0, dx2, dy2, ratio) (theory/closed_form.h) and
//   ratio[k] = h_final / predicted[k].
// The statistics are over the points whose run converged and whose ratio is finite and > 0:
// Pearson's r and R^2 (experiments/stats.h) of measured h_final against predicted, and
// max_ratio, the largest of ratio[k] and 1 / ratio[k] (NaN when there is no such point).
struct GridComparison {
  std::vector<double> predicted, ratio;  // per point
  std::vector<bool> used;                // per point: counted in the statistics
  int converged = 0;                     // points counted
  double pearson_r = NAN, r2 = NAN, max_ratio = NAN;
};
GridComparison CompareGrid(const std::vector<GridPoint>& points,
                           const std::vector<RunSummary>& runs, double eta_h_over_eta_y);

struct FinalDistanceResult {
  std::string out_dir;
  int runs = 0, points = 0;
  RateAverage rates;
  GridComparison grid;
};

// Both steps, then the CSV files, the figure (when gnuplot is available) and summary.json.
// InvalidArgument for bad options or spec; FailedPrecondition when no rate run is kept.
absl::StatusOr<FinalDistanceResult> RunFinalDistance(const FinalDistanceOptions& options);

}  // namespace replearn

#endif  // REPLEARN_EXPERIMENTS_FINAL_DISTANCE_H_
