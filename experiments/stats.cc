#include "experiments/stats.h"

#include <cmath>

namespace replearn {

Eigen::VectorXd UpperTriangle(const Eigen::MatrixXd& m) {
  const Eigen::Index n = m.rows();
  Eigen::VectorXd out(n * (n - 1) / 2);
  Eigen::Index k = 0;
  for (Eigen::Index i = 0; i < n; ++i) {
    for (Eigen::Index j = i + 1; j < n; ++j) out(k++) = m(i, j);
  }
  return out;
}

double Pearson(const Eigen::VectorXd& a, const Eigen::VectorXd& b) {
  if (a.size() != b.size() || a.size() == 0) return NAN;
  const Eigen::VectorXd ca = a.array() - a.mean();
  const Eigen::VectorXd cb = b.array() - b.mean();
  const double denom = std::sqrt(ca.squaredNorm() * cb.squaredNorm());
  return denom > 0 ? ca.dot(cb) / denom : NAN;
}

double RSquared(const Eigen::VectorXd& measured, const Eigen::VectorXd& predicted) {
  if (measured.size() != predicted.size() || measured.size() < 2) return NAN;
  const double ss_res = (measured - predicted).squaredNorm();
  const double ss_tot = (measured.array() - measured.mean()).matrix().squaredNorm();
  return 1 - ss_res / ss_tot;
}

}  // namespace replearn
