// Statistics the experiments report when they compare a measurement with a prediction.
#ifndef REPLEARN_EXPERIMENTS_STATS_H_
#define REPLEARN_EXPERIMENTS_STATS_H_

#include "Eigen/Core"

namespace replearn {

// The entries above the diagonal of a square matrix, row by row: (0,1), (0,2), .., (1,2), ...
// (n (n - 1) / 2 values; the pairs of a distance matrix, each once).
Eigen::VectorXd UpperTriangle(const Eigen::MatrixXd& m);

// Pearson's correlation coefficient of two equally long vectors,
//   r = sum_i (a_i - mean a)(b_i - mean b) / sqrt(sum_i (a_i - mean a)^2 sum_i (b_i - mean b)^2),
// in [-1, 1]. NaN when the lengths differ, the vectors are empty, or either is constant.
double Pearson(const Eigen::VectorXd& a, const Eigen::VectorXd& b);

// The coefficient of determination of `predicted` as a model of `measured`,
//   R^2 = 1 - sum_i (m_i - p_i)^2 / sum_i (m_i - mean m)^2
// (1 for a perfect prediction; negative when worse than the mean of the measurements; not
// the square of Pearson's r). NaN for fewer than two points or differing lengths.
double RSquared(const Eigen::VectorXd& measured, const Eigen::VectorXd& predicted);

}  // namespace replearn

#endif  // REPLEARN_EXPERIMENTS_STATS_H_
