// Classical MDS against configurations whose answer is known (points on a plane embedded in
// five dimensions) and its invariances (the probe in a run: experiments/mds_probe_test.cc).
#include "metrics/mds.h"

#include <cmath>
#include <vector>

#include "Eigen/Eigenvalues"
#include "Eigen/QR"
#include "core/rng.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace replearn {
namespace {

using ::testing::HasSubstr;

constexpr double kTol = 1e-9;  // relative to the configuration's scale (~1)
constexpr int kPoints = 12;

// kPoints points in the plane with clearly different spreads along the two axes (so the
// principal axes are unique), centred.
Eigen::MatrixXd PlanarPoints(uint64_t seed) {
  Rng rng(seed);
  Eigen::MatrixXd p(kPoints, 2);
  for (int i = 0; i < kPoints; ++i) {
    p(i, 0) = 3.0 * rng.Normal();
    p(i, 1) = 1.0 * rng.Normal();
  }
  p.rowwise() -= p.colwise().mean();
  return p;
}

// p embedded in R^5: offset + p * E^T with E a random 5 x 2 matrix of orthonormal columns.
Eigen::MatrixXd Embed(const Eigen::MatrixXd& p, uint64_t seed) {
  Rng rng(seed);
  Eigen::MatrixXd a(5, 2);
  Eigen::RowVectorXd offset(5);
  for (int i = 0; i < 5; ++i) {
    a(i, 0) = rng.Normal();
    a(i, 1) = rng.Normal();
    offset(i) = 10 * rng.Normal();
  }
  const Eigen::MatrixXd e =
      Eigen::HouseholderQR<Eigen::MatrixXd>(a).householderQ() * Eigen::MatrixXd::Identity(5, 2);
  Eigen::MatrixXd x = p * e.transpose();
  x.rowwise() += offset;
  return x;
}

Eigen::MatrixXd Distances(const Eigen::MatrixXd& x) {
  Eigen::MatrixXd d(x.rows(), x.rows());
  for (int i = 0; i < x.rows(); ++i) {
    for (int j = 0; j < x.rows(); ++j) d(i, j) = (x.row(i) - x.row(j)).norm();
  }
  return d;
}

// The documented sign convention: each column's entry of largest magnitude is positive.
Eigen::MatrixXd FixSigns(Eigen::MatrixXd c) {
  for (int k = 0; k < c.cols(); ++k) {
    Eigen::Index i = 0;
    c.col(k).cwiseAbs().maxCoeff(&i);
    if (c(i, k) < 0) c.col(k) *= -1;
  }
  return c;
}

MdsResult MdsOrDie(const Eigen::MatrixXd& d, int dims) {
  auto r = ClassicalMds(d, dims);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : MdsResult();
}

TEST(ClassicalMds, RecoversTheDistancesOfAPlanarConfiguration) {
  const Eigen::MatrixXd p = PlanarPoints(1);
  const Eigen::MatrixXd d = Distances(Embed(p, 2));
  const MdsResult mds = MdsOrDie(d, 2);
  ASSERT_EQ(mds.coords.rows(), kPoints);
  ASSERT_EQ(mds.coords.cols(), 2);
  EXPECT_LT((Distances(mds.coords) - d).cwiseAbs().maxCoeff(), kTol);
  // Rank 2: the remaining eigenvalues of B vanish, and two coordinates explain everything.
  ASSERT_EQ(mds.eigenvalues.size(), kPoints);
  EXPECT_GT(mds.eigenvalues(1), 1.0);
  for (int k = 2; k < kPoints; ++k) EXPECT_NEAR(mds.eigenvalues(k), 0, kTol * mds.eigenvalues(0));
  EXPECT_NEAR(mds.explained, 1.0, 1e-12);
  // B = p p^T for the centred points p, whose non-zero eigenvalues are those of p^T p.
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> pca(p.transpose() * p);
  EXPECT_NEAR(mds.eigenvalues(0), pca.eigenvalues()(1), kTol * mds.eigenvalues(0));
  EXPECT_NEAR(mds.eigenvalues(1), pca.eigenvalues()(0), kTol * mds.eigenvalues(0));
}

TEST(ClassicalMds, CoordinatesAreThePrincipalComponentsWithTheDocumentedSigns) {
  const Eigen::MatrixXd p = PlanarPoints(3);
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> pca(p.transpose() * p);
  Eigen::MatrixXd axes(2, 2);
  axes.col(0) = pca.eigenvectors().col(1);  // largest variance first
  axes.col(1) = pca.eigenvectors().col(0);
  const Eigen::MatrixXd expected = FixSigns(p * axes);
  const MdsResult mds = MdsOrDie(Distances(Embed(p, 4)), 2);
  EXPECT_LT((mds.coords - expected).cwiseAbs().maxCoeff(), kTol);
  // The mean of the coordinates is 0 (B is the Gram matrix of centred points).
  EXPECT_LT(mds.coords.colwise().mean().cwiseAbs().maxCoeff(), kTol);
}

TEST(ClassicalMds, IsInvariantToRotationReflectionAndTranslation) {
  const Eigen::MatrixXd p = PlanarPoints(5);
  Eigen::MatrixXd mirrored = p;
  mirrored.col(1) *= -1;
  const double a = 0.7;
  Eigen::Matrix2d rotation;
  rotation << std::cos(a), -std::sin(a), std::sin(a), std::cos(a);
  const MdsResult base = MdsOrDie(Distances(Embed(p, 6)), 2);
  for (const Eigen::MatrixXd& x :
       {Embed(p, 7), Embed(mirrored, 8), Embed(p * rotation.transpose(), 9)}) {
    const MdsResult other = MdsOrDie(Distances(x), 2);
    EXPECT_LT((other.coords - base.coords).cwiseAbs().maxCoeff(), kTol);
  }
}

TEST(ClassicalMds, TruncatesA3dConfigurationToItsTopTwoAxes) {
  Rng rng(11);
  Eigen::MatrixXd x(kPoints, 3);
  for (int i = 0; i < kPoints; ++i) {
    x(i, 0) = 4 * rng.Normal();
    x(i, 1) = 2 * rng.Normal();
    x(i, 2) = 0.5 * rng.Normal();
  }
  x.rowwise() -= x.colwise().mean();
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> pca(x.transpose() * x);
  const Eigen::Vector3d var = pca.eigenvalues();  // ascending
  const MdsResult mds = MdsOrDie(Distances(x), 2);
  EXPECT_NEAR(mds.explained, (var(2) + var(1)) / var.sum(), 1e-12);
  Eigen::MatrixXd axes(3, 2);
  axes.col(0) = pca.eigenvectors().col(2);
  axes.col(1) = pca.eigenvectors().col(1);
  EXPECT_LT((mds.coords - FixSigns(x * axes)).cwiseAbs().maxCoeff(), kTol * 4);
}

TEST(ClassicalMds, RejectsBadInputs) {
  EXPECT_THAT(ClassicalMds(Eigen::MatrixXd::Zero(3, 2), 1).status().message(),
              HasSubstr("3 x 2; expected a square one"));
  EXPECT_THAT(ClassicalMds(Eigen::MatrixXd::Zero(3, 3), 0).status().message(),
              HasSubstr("dims = 0; must be in 1..3"));
  EXPECT_THAT(ClassicalMds(Eigen::MatrixXd::Zero(3, 3), 4).status().message(),
              HasSubstr("dims = 4; must be in 1..3"));
  Eigen::MatrixXd nan = Eigen::MatrixXd::Zero(3, 3);
  nan(0, 1) = NAN;
  EXPECT_THAT(ClassicalMds(nan, 2).status().message(), HasSubstr("non-finite"));
  // All points equal: coordinates 0, nothing to explain.
  const MdsResult same = MdsOrDie(Eigen::MatrixXd::Zero(3, 3), 2);
  EXPECT_EQ(same.coords.cwiseAbs().maxCoeff(), 0);
  EXPECT_TRUE(std::isnan(same.explained));
}

}  // namespace
}  // namespace replearn
