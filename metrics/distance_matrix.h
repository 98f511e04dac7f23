// The distance_matrix probe (options: DistanceMatrixProbeSpec in proto/experiment.proto)
// and the whole-dataset [FINAL] prediction beside it.
//
// For a fixed example set (x_1 .. x_n with targets y*_1 .. y*_n) and a hidden layer h it
// records D_h(i, j) = ||h(x_i) - h(x_j)|| (Euclidean, not squared, float64 from the f32
// taps) in the run folder:
//   distance_matrix_<layer>_step<step>.npy   float64 [n, n], numpy.load reads it
//   distance_matrix_<layer>_step<step>.csv   the same, n lines of n comma-separated numbers,
//                                            no header (numpy.loadtxt(f, delimiter=","))
// with <layer> the hidden-layer index or "output", plus, once at step 0,
// distance_matrix_input.* (D_x), distance_matrix_target.* (D_y*) and
// distance_matrix_examples.csv (position,index[,label]: which training rows, in order).
//
// [FINAL] (docs/theory.md section 4), applied to every pair i != j with ratio = eta_h / eta_y:
//   D_h(inf) = sqrt( (A_high + sqrt(A_high^2 + 4 A_low^2)) / 2 )
//   A_low  = sqrt(ratio) D_y* D_x
//   A_high = ( (D_h0 / D_x)^2 - (D_y0 / D_h0)^2 ratio ) D_x^2
// from the step-0 hidden (D_h0) and output (D_y0) distances (theory/closed_form.h
// FinalDistance). The diagonal is 0; a pair with D_x = 0 (identical inputs) keeps its
// D_h0; a pair with D_x > 0 but D_h0 = 0 (e.g. a layer of dead ReLUs) has no prediction (NaN).
#ifndef REPLEARN_METRICS_DISTANCE_MATRIX_H_
#define REPLEARN_METRICS_DISTANCE_MATRIX_H_

#include <cstdint>
#include <string>

#include "Eigen/Core"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace replearn {

// "distance_matrix_<layer>_step<step>", without extension; layer_name is the hidden-layer
// index ("10") or "output".
std::string DistanceMatrixStem(absl::string_view layer_name, int64_t step);
// "distance_matrix_<layer>_predicted".
std::string PredictedDistanceMatrixStem(absl::string_view layer_name);

// Writes <dir>/<stem>.npy (float64, C order) and <dir>/<stem>.csv (one line per row,
// FormatDouble numbers, NaN as "nan"), each atomically.
absl::Status WriteMatrixFiles(const std::string& dir, const std::string& stem,
                              const Eigen::MatrixXd& matrix);
// A 2-D float32 or float64 .npy as a matrix; InvalidArgument naming the path when it is not
// 2-D.
absl::StatusOr<Eigen::MatrixXd> ReadMatrixNpy(const std::string& path);

// [FINAL] for every pair, as described above. All four matrices must be n x n (CHECK).
// ratio = eta_h / eta_y > 0.
Eigen::MatrixXd PredictFinalDistances(const Eigen::MatrixXd& dh0, const Eigen::MatrixXd& dy0,
                                      const Eigen::MatrixXd& dx, const Eigen::MatrixXd& dy_star,
                                      double ratio);

// The prediction for hidden layer `layer` of a run folder the probe wrote: reads
// distance_matrix_<layer>_step0.npy, distance_matrix_output_step0.npy,
// distance_matrix_input.npy and distance_matrix_target.npy, writes
// distance_matrix_<layer>_predicted.{npy,csv} and returns it. For experiments that take the
// ratio from the run's theory fit. InvalidArgument when ratio is not > 0 or the shapes differ;
// NotFound when a file is missing.
absl::StatusOr<Eigen::MatrixXd> PredictFinalFromRun(const std::string& dir, int layer,
                                                    double ratio);

}  // namespace replearn

#endif  // REPLEARN_METRICS_DISTANCE_MATRIX_H_
