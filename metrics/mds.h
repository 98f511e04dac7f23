// Classical (Torgerson) multidimensional scaling, and the mds probe (options: MdsProbeSpec in
// proto/experiment.proto) that applies it to a hidden layer's representations of a fixed
// example set and writes, at each recorded step,
//   mds_<layer>_step<step>.csv   position,index[,label],target (target_0 .. when the output
//                                has several units),x1 .. x<dims>
// into the run folder, plus the curves.csv row mds_explained (per layer).
//
// The math, for an n x n Euclidean distance matrix D:
//   B = -1/2 J D^2 J,  J = I - 1/n 1 1^T   (D^2 elementwise; B is the Gram matrix of the
//                                           centred points)
//   B = V diag(lambda) V^T, lambda_1 >= lambda_2 >= ... (Eigen::SelfAdjointEigenSolver)
//   X[:, k] = sqrt(max(lambda_k, 0)) V[:, k],  k = 1 .. dims.
// If the points span at most `dims` dimensions, the rows of X reproduce D exactly (up to
// rounding): X is the centred configuration in its principal axes, so it equals any
// rotation or reflection of the original points up to the sign of each axis. Sign convention,
// so that results are deterministic: each column's entry of largest magnitude is positive
// (the first such entry on ties).
#ifndef REPLEARN_METRICS_MDS_H_
#define REPLEARN_METRICS_MDS_H_

#include "Eigen/Core"
#include "absl/status/statusor.h"

namespace replearn {

struct MdsResult {
  Eigen::MatrixXd coords;       // [n, dims]
  Eigen::VectorXd eigenvalues;  // all n eigenvalues of B, descending
  // Share of the positive eigenvalues' sum held by the first dims (NaN when all points
  // coincide, i.e. no eigenvalue is positive).
  double explained = 0;
};

// InvalidArgument when `distances` is not square, has a non-finite entry, or dims is not in
// 1 .. n.
absl::StatusOr<MdsResult> ClassicalMds(const Eigen::MatrixXd& distances, int dims);

}  // namespace replearn

#endif  // REPLEARN_METRICS_MDS_H_
