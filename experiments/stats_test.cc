#include "experiments/stats.h"

#include <cmath>

#include "gtest/gtest.h"

namespace replearn {
namespace {

constexpr double kTol = 1e-15;

TEST(UpperTriangle, TakesThePairsAboveTheDiagonalRowByRow) {
  Eigen::MatrixXd m(3, 3);
  m << 0, 1, 2, 1, 0, 3, 2, 3, 0;
  const Eigen::VectorXd ut = UpperTriangle(m);
  ASSERT_EQ(ut.size(), 3);
  EXPECT_EQ(ut(0), 1);
  EXPECT_EQ(ut(1), 2);
  EXPECT_EQ(ut(2), 3);
  EXPECT_EQ(UpperTriangle(Eigen::MatrixXd::Zero(1, 1)).size(), 0);
}

TEST(Pearson, IsOneMinusOneAndZeroForKnownPairs) {
  Eigen::VectorXd a(4), b(4);
  a << 1, 2, 3, 4;
  b << 2, 4, 6, 8;
  EXPECT_NEAR(Pearson(a, b), 1.0, kTol);
  EXPECT_NEAR(Pearson(a, -b), -1.0, kTol);
  EXPECT_NEAR(Pearson(a, 3 * b.array() + 7), 1.0, kTol);  // invariant to scale and shift
  b << 1, -1, -1, 1;                                      // orthogonal to a - mean(a)
  EXPECT_NEAR(Pearson(a, b), 0.0, kTol);
  // a = (1, 2, 3, 4), b = (1, 3, 2, 4): sum of products of deviations 4, both norms^2 5.
  b << 1, 3, 2, 4;
  EXPECT_NEAR(Pearson(a, b), 0.8, kTol);
}

TEST(Pearson, IsNaNForConstantEmptyOrUnequalInputs) {
  Eigen::VectorXd a(4);
  a << 1, 2, 3, 4;
  EXPECT_TRUE(std::isnan(Pearson(a, Eigen::VectorXd::Ones(4))));
  EXPECT_TRUE(std::isnan(Pearson(Eigen::VectorXd(), Eigen::VectorXd())));
  EXPECT_TRUE(std::isnan(Pearson(a, Eigen::VectorXd::Ones(3))));
  EXPECT_TRUE(std::isnan(Pearson(a.head(1), a.tail(1))));
}

TEST(RSquared, IsOneForAPerfectPredictionAndZeroForTheMean) {
  Eigen::VectorXd m(4);
  m << 1, 2, 3, 4;
  EXPECT_NEAR(RSquared(m, m), 1.0, kTol);
  EXPECT_NEAR(RSquared(m, Eigen::VectorXd::Constant(4, 2.5)), 0.0, kTol);
  // Residuals (1, 0, 0, -1): 1 - 2 / 5.
  Eigen::VectorXd p(4);
  p << 0, 2, 3, 5;
  EXPECT_NEAR(RSquared(m, p), 0.6, kTol);
  EXPECT_TRUE(std::isnan(RSquared(m.head(1), p.head(1))));
}

}  // namespace
}  // namespace replearn
