// The XOR experiment (docs/theory.md section 7, "XOR"): a 20 x 500 ReLU MLP (one hidden layer for
// "shallow") trained on XOR in four settings, one spec each in experiments/paper/specs/xor/:
//
//   setting       gain    lr     steps (paper's)  layer
//   rich          0.85    0.015  6000 (3000)      10
//   intermediate  1.25    0.002  2000 (1000)      10
//   lazy          2.0     3e-9   2000 (1000)      10
//   shallow       0.0015  0.03   4000 (2000)      0
//
// Steps are twice the paper's: our loss is 1/2 MSE (docs/theory.md section 1), and at the paper's
// lengths the rich (seed 1) and shallow runs are still on the loss plateau at 0.125 (rich
// leaves it just after step 3000); doubling the steps at the paper's learning rates lets every
// setting finish. The hidden distance matrices at the paper's lengths are recorded as well
// and reported beside the final ones.
//
// Per setting the distance_matrix probe records the 4 x 4 hidden distance matrix D (rows:
// inputs (0,0), (0,1), (1,0), (1,1)); the two_point probe on (0,0), (0,1) feeds the theory
// fit whose eta_h / eta_y gives the [FINAL] prediction for every pair (PredictFinalFromRun),
// unless the spec's distance_matrix probe sets eta_ratio itself.
//
// Output folder:
//   <setting>/                 the run folder (experiments/run.h, metrics/distance_matrix.h)
//   xor_distances.csv          setting,matrix,i,j,distance for matrix in initial, final,
//                              paper_steps, predicted
//   xor.{png,svg}              heat maps: per setting the initial, final and predicted D
//   xor_pairs.{png,svg}        mean same-target and different-target hidden distance vs step
//   summary.json               per setting: final loss, eta_h / eta_y and its source, the fit's
//                              normalised loss, same- and different-target distances,
//                              same_over_different = max same / min different (final and at
//                              the paper's length), relative_change = ||D_final - D_0||_F /
//                              ||D_0||_F, pearson_r of final vs predicted over the six pairs;
//                              headline keys rich_same_over_different (the done-criterion:
//                              < 0.1), rich_same_over_different_at_paper_steps and
//                              lazy_relative_change
// Smoke (--smoke): width 16, 40 steps, every setting; seconds.
#ifndef REPLEARN_EXPERIMENTS_XOR_EXPERIMENT_H_
#define REPLEARN_EXPERIMENTS_XOR_EXPERIMENT_H_

#include "absl/status/statusor.h"
#include "experiments/paper/structure_util.h"

namespace replearn {

// options.specs: the folder of the four specs (default experiments/paper/specs/xor, as packaged in
// the runfiles of bazel run).
absl::StatusOr<StructureResult> RunXor(const StructureOptions& options);

}  // namespace replearn

#endif  // REPLEARN_EXPERIMENTS_XOR_EXPERIMENT_H_
