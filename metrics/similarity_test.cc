// The similarity measures: the invariances and values the header states, hand-computed
// small cases (ties in ranks and neighbour lists), and the specific errors.
#include "metrics/similarity.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

#include "Eigen/Core"
#include "Eigen/QR"
#include "Eigen/SVD"
#include "core/rng.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace replearn {
namespace {

using ::testing::HasSubstr;

constexpr double kTol = 1e-12;      // exact identities up to accumulated rounding
constexpr double kAngleTol = 1e-6;  // arccos(1 - d) ~ sqrt(2 d): rounding d ~ 1e-16 -> 1e-8
constexpr double kNullTol = 0.05;   // |debiased CKA| of independent 100 x 1000 features

Eigen::MatrixXd Gaussian(int rows, int cols, uint64_t seed) {
  Rng rng(seed);
  Eigen::MatrixXd m(rows, cols);
  for (int j = 0; j < cols; ++j) {
    for (int i = 0; i < rows; ++i) m(i, j) = rng.Normal();
  }
  return m;
}

Eigen::MatrixXd RandomOrthogonal(int size, uint64_t seed) {
  return Eigen::HouseholderQR<Eigen::MatrixXd>(Gaussian(size, size, seed)).householderQ();
}

SimilarityOptions Knn(int k) {
  SimilarityOptions options;
  options.knn_k = k;
  return options;
}

double Value(const absl::StatusOr<double>& v) {
  EXPECT_TRUE(v.ok()) << v.status();
  return v.ok() ? *v : std::numeric_limits<double>::quiet_NaN();
}

void ExpectInvalid(const absl::StatusOr<double>& v, const std::string& substring) {
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument) << v.status();
  EXPECT_THAT(v.status().message(), HasSubstr(substring));
}

TEST(SimilarityMeasure, NamesRoundTrip) {
  const std::vector<std::string> expected = {"cka_debiased", "cka_biased",   "procrustes_angular",
                                             "rsa_pearson",  "rsa_spearman", "mutual_knn"};
  ASSERT_EQ(kAllSimilarityMeasures.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(SimilarityMeasureName(kAllSimilarityMeasures[i]), expected[i]);
    const auto parsed = ParseSimilarityMeasure(expected[i]);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, kAllSimilarityMeasures[i]);
  }
}

TEST(SimilarityMeasure, UnknownNameIsNotFoundListingTheKnownOnes) {
  const Eigen::MatrixXd x = Gaussian(12, 3, 1);
  const auto v = ComputeSimilarity("cka", x, x);
  EXPECT_EQ(v.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(v.status().message(),
              HasSubstr("unknown similarity measure \"cka\"; known: [cka_debiased, cka_biased, "
                        "procrustes_angular, rsa_pearson, rsa_spearman, mutual_knn]"));
}

TEST(SimilarityMeasure, ByNameEqualsTheDirectFunction) {
  const Eigen::MatrixXd x = Gaussian(30, 7, 2);
  const Eigen::MatrixXd y = x * Gaussian(7, 12, 3) + 0.5 * Gaussian(30, 12, 4);
  EXPECT_EQ(Value(ComputeSimilarity("cka_debiased", x, y)), Value(LinearCkaDebiased(x, y)));
  EXPECT_EQ(Value(ComputeSimilarity("cka_biased", x, y)), Value(LinearCkaBiased(x, y)));
  EXPECT_EQ(Value(ComputeSimilarity("procrustes_angular", x, y)),
            Value(ProcrustesAngularDistance(x, y)));
  EXPECT_EQ(Value(ComputeSimilarity("rsa_pearson", x, y)), Value(RsaPearson(x, y)));
  EXPECT_EQ(Value(ComputeSimilarity("rsa_spearman", x, y)), Value(RsaSpearman(x, y)));
  EXPECT_EQ(Value(ComputeSimilarity("mutual_knn", x, y, Knn(4))),
            Value(MutualKnnAlignment(x, y, 4)));
  EXPECT_EQ(Value(ComputeSimilarity("mutual_knn", x, y)), Value(MutualKnnAlignment(x, y, 10)));
}

TEST(SimilarityMeasure, RejectsMismatchedEmptyAndNonFiniteInputsInEveryMeasure) {
  const Eigen::MatrixXd x = Gaussian(10, 3, 5);
  Eigen::MatrixXd nan_x = x;
  nan_x(2, 1) = std::numeric_limits<double>::quiet_NaN();
  Eigen::MatrixXd inf_y = Gaussian(10, 4, 6);
  inf_y(0, 3) = -std::numeric_limits<double>::infinity();
  for (SimilarityMeasure m : kAllSimilarityMeasures) {
    const std::string name(SimilarityMeasureName(m));
    SCOPED_TRACE(name);
    ExpectInvalid(ComputeSimilarity(m, x, Gaussian(9, 4, 7), Knn(2)),
                  name + ": X is 10 x 3 and Y is 9 x 4; both need one row per example");
    ExpectInvalid(ComputeSimilarity(m, Eigen::MatrixXd(0, 3), Eigen::MatrixXd(0, 2)),
                  name + ": X is 0 x 3; need at least one example (row) and one feature");
    ExpectInvalid(ComputeSimilarity(m, x, Eigen::MatrixXd(10, 0)), name + ": Y is 10 x 0");
    ExpectInvalid(ComputeSimilarity(m, nan_x, x, Knn(2)),
                  name + ": X(2, 1) = nan; every value must be finite");
    ExpectInvalid(ComputeSimilarity(m, x, inf_y, Knn(2)), name + ": Y(0, 3) = -inf");
  }
  EXPECT_THAT(CheckRepresentations(x, Gaussian(9, 3, 8)).message(),
              HasSubstr("X is 10 x 3 and Y is 9 x 3"));
  EXPECT_TRUE(CheckRepresentations(x, Gaussian(10, 4, 8)).ok());
}

TEST(LinearCka, BothAreOneForIdenticalInputs) {
  const Eigen::MatrixXd x = Gaussian(40, 15, 9);
  EXPECT_NEAR(Value(LinearCkaBiased(x, x)), 1.0, kTol);
  EXPECT_NEAR(Value(LinearCkaDebiased(x, x)), 1.0, kTol);
}

TEST(LinearCka, BothAreInvariantToOrthogonalMapsScalingAndTranslation) {
  const int n = 50, p = 8, q = 20;
  const Eigen::MatrixXd x = Gaussian(n, p, 10);
  const Eigen::MatrixXd y = x * Gaussian(p, q, 11) + 2.0 * Gaussian(n, q, 12);
  const Eigen::MatrixXd x2 = 3.7 * x * RandomOrthogonal(p, 13);
  const Eigen::MatrixXd y2 =
      (0.02 * y * RandomOrthogonal(q, 14)).rowwise() + Eigen::RowVectorXd::LinSpaced(q, -50, 50);
  for (const auto& cka : {&LinearCkaBiased, &LinearCkaDebiased}) {
    const double base = Value(cka(x, y));
    EXPECT_GT(base, 0.1);
    EXPECT_LT(base, 0.9);
    EXPECT_NEAR(Value(cka(x2, y)), base, kTol);
    EXPECT_NEAR(Value(cka(x, y2)), base, kTol);
    EXPECT_NEAR(Value(cka(x2, y2)), base, kTol);
    EXPECT_NEAR(Value(cka(y, x)), base, kTol);  // symmetric
    // Of a rotated, scaled and translated copy of itself: 1.
    EXPECT_NEAR(Value(cka(y, y2)), 1.0, kTol);
  }
}

TEST(LinearCka, DebiasedIsNearZeroForIndependentWideFeaturesWhileBiasedIsNot) {
  // The pitfall: with p, q >> n the biased estimator is dominated by the diagonals of
  // H K H and H L H (about p H and q H), which any two representations share, so two
  // independent Gaussian feature sets score about 0.91 (0.908-0.912 over seeds in numpy).
  const Eigen::MatrixXd x = Gaussian(100, 1000, 15);
  const Eigen::MatrixXd y = Gaussian(100, 1000, 16);
  const double debiased = Value(LinearCkaDebiased(x, y));
  const double biased = Value(LinearCkaBiased(x, y));
  EXPECT_LT(std::abs(debiased), kNullTol);
  EXPECT_GT(biased, 0.85);
  EXPECT_LT(biased, 0.95);
}

TEST(LinearCka, DebiasedCanBeNegative) {
  // Unbiased, so independent inputs scatter around 0 on both sides; nothing clamps it.
  double lowest = 1;
  for (uint64_t seed = 0; seed < 10; ++seed) {
    lowest = std::min(
        lowest, Value(LinearCkaDebiased(Gaussian(20, 5, 100 + seed), Gaussian(20, 5, 200 + seed))));
  }
  EXPECT_LT(lowest, 0);
  EXPECT_GT(lowest, -1);
}

TEST(LinearCka, DebiasedMatchesTheHsicFormulaOnUncentredInputs) {
  // The header's formula written out with loops, on features with large means: the
  // implementation centres first, which the estimator does not notice.
  const int n = 9;
  const Eigen::MatrixXd x = (Gaussian(n, 3, 17).array() + 5.0).matrix();
  const Eigen::MatrixXd y = (Gaussian(n, 4, 18).array() - 2.0).matrix();
  auto hsic = [n](const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
    Eigen::MatrixXd k = a * a.transpose(), l = b * b.transpose();
    k.diagonal().setZero();
    l.diagonal().setZero();
    const Eigen::VectorXd ones = Eigen::VectorXd::Ones(n);
    return ((k * l).trace() + ones.dot(k * ones) * ones.dot(l * ones) / ((n - 1.0) * (n - 2.0)) -
            2.0 / (n - 2.0) * ones.dot(k * l * ones)) /
           (n * (n - 3.0));
  };
  const double expected = hsic(x, y) / std::sqrt(hsic(x, x) * hsic(y, y));
  EXPECT_NEAR(Value(LinearCkaDebiased(x, y)), expected, 1e-9);
}

TEST(LinearCka, BiasedMatchesTheCentredGramFormula) {
  const int n = 12;
  const Eigen::MatrixXd x = Gaussian(n, 3, 19);
  const Eigen::MatrixXd y = Gaussian(n, 6, 20) + x * Gaussian(3, 6, 21);
  const Eigen::MatrixXd h =
      Eigen::MatrixXd::Identity(n, n) - Eigen::MatrixXd::Constant(n, n, 1.0 / n);
  const Eigen::MatrixXd k = h * x * x.transpose() * h, l = h * y * y.transpose() * h;
  EXPECT_NEAR(Value(LinearCkaBiased(x, y)), (k.array() * l.array()).sum() / (k.norm() * l.norm()),
              kTol);
}

TEST(LinearCka, DebiasedNeedsFourExamples) {
  const Eigen::MatrixXd x = Gaussian(3, 2, 22);
  ExpectInvalid(LinearCkaDebiased(x, x),
                "cka_debiased: n = 3 examples; the unbiased HSIC estimator needs n >= 4");
}

TEST(LinearCka, RejectsConstantRepresentations) {
  const Eigen::MatrixXd x = Gaussian(6, 3, 23);
  // 0.1 is not a multiple of a power of two: its computed mean is off by an ulp.
  const Eigen::MatrixXd constant = Eigen::MatrixXd::Constant(6, 2, 0.1);
  ExpectInvalid(LinearCkaBiased(x, constant),
                "cka_biased: every feature of Y (6 x 2) is constant over the examples");
  ExpectInvalid(LinearCkaDebiased(constant, x),
                "cka_debiased: every feature of X (6 x 2) is constant over the examples");
  ExpectInvalid(ProcrustesAngularDistance(constant, x), "procrustes_angular: every feature of X");
}

TEST(LinearCka, DebiasedRejectsAZeroSelfSimilarityNamingTheInput) {
  // All examples share one representation but the last: HSIC_u(L, L) is exactly 0 in exact
  // arithmetic (U(L) = 0), and rounding leaves a tiny value of either sign.
  const Eigen::MatrixXd x = Gaussian(6, 3, 24);
  Eigen::MatrixXd y = Eigen::MatrixXd::Constant(6, 2, 0.3);
  y.row(5) << 1.7, -2.0;
  const auto v = LinearCkaDebiased(x, y);
  ExpectInvalid(v, "cka_debiased: HSIC_u(K, K) of Y = ");
  EXPECT_THAT(v.status().message(), HasSubstr("(0 up to rounding; n = 6)"));
  EXPECT_THAT(v.status().message(), HasSubstr("needs both self-similarities > 0"));
  // The biased estimator is defined for it.
  EXPECT_TRUE(LinearCkaBiased(x, y).ok());
}

TEST(ProcrustesAngular, IsZeroForARotatedScaledTranslatedCopy) {
  const Eigen::MatrixXd x = Gaussian(30, 6, 25);
  const Eigen::MatrixXd y =
      (-2.5 * x * RandomOrthogonal(6, 26)).rowwise() + Eigen::RowVectorXd::Constant(6, 4.0);
  EXPECT_NEAR(Value(ProcrustesAngularDistance(x, y)), 0, kAngleTol);
  EXPECT_NEAR(Value(ProcrustesAngularDistance(x, x)), 0, kAngleTol);
  // Embedded in more features (the zero padding) and rotated there.
  Eigen::MatrixXd padded = Eigen::MatrixXd::Zero(30, 10);
  padded.leftCols(6) = x;
  EXPECT_NEAR(Value(ProcrustesAngularDistance(x, padded * RandomOrthogonal(10, 27))), 0, kAngleTol);
  // Wider than n (the QR path).
  const Eigen::MatrixXd wide = Gaussian(20, 50, 28);
  EXPECT_NEAR(Value(ProcrustesAngularDistance(wide, wide * RandomOrthogonal(50, 29))), 0,
              kAngleTol);
}

TEST(ProcrustesAngular, EqualsArccosOfTheNuclearNormComputedDirectly) {
  for (const auto& [p, q] : {std::pair{4, 7}, std::pair{30, 5}, std::pair{40, 60}}) {
    SCOPED_TRACE(::testing::Message() << p << " x " << q);
    const Eigen::MatrixXd x = Gaussian(25, p, 30 + p);
    const Eigen::MatrixXd y = Gaussian(25, q, 40 + q) + 0.3 * x * Gaussian(p, q, 50);
    Eigen::MatrixXd xc = x.rowwise() - x.colwise().mean();
    Eigen::MatrixXd yc = y.rowwise() - y.colwise().mean();
    xc /= xc.norm();
    yc /= yc.norm();
    const double nuclear =
        Eigen::JacobiSVD<Eigen::MatrixXd>(xc.transpose() * yc).singularValues().sum();
    EXPECT_NEAR(Value(ProcrustesAngularDistance(x, y)), std::acos(nuclear), kTol);
    EXPECT_NEAR(Value(ProcrustesAngularDistance(y, x)), std::acos(nuclear), kTol);
  }
}

TEST(ProcrustesAngular, SatisfiesTheTriangleInequality) {
  const int widths[] = {3, 8, 15, 40};
  int checked = 0;
  for (uint64_t t = 0; t < 20; ++t) {
    const Eigen::MatrixXd a = Gaussian(25, widths[t % 4], 1000 + 3 * t);
    // b, c partly aligned with a so that the distances are not all near pi/2.
    const Eigen::MatrixXd b =
        a * Gaussian(widths[t % 4], widths[(t + 1) % 4], 2000 + t) +
        Gaussian(25, widths[(t + 1) % 4], 3000 + t) * (0.2 * static_cast<double>(t % 5));
    const Eigen::MatrixXd c = Gaussian(25, widths[(t + 2) % 4], 4000 + t) +
                              b * Gaussian(widths[(t + 1) % 4], widths[(t + 2) % 4], 5000 + t);
    const double ab = Value(ProcrustesAngularDistance(a, b));
    const double bc = Value(ProcrustesAngularDistance(b, c));
    const double ac = Value(ProcrustesAngularDistance(a, c));
    for (double d : {ab, bc, ac}) {
      EXPECT_GE(d, 0);
      EXPECT_LE(d, M_PI / 2);
    }
    EXPECT_LE(ac, ab + bc + kTol) << t;
    EXPECT_LE(ab, ac + bc + kTol) << t;
    EXPECT_LE(bc, ab + ac + kTol) << t;
    ++checked;
  }
  EXPECT_EQ(checked, 20);
}

TEST(Rsa, IsOneForIdenticalAndRotatedInputs) {
  const Eigen::MatrixXd x = Gaussian(20, 5, 60);
  const Eigen::MatrixXd y = 3 * x * RandomOrthogonal(5, 61);
  EXPECT_NEAR(Value(RsaPearson(x, x)), 1, kTol);
  EXPECT_NEAR(Value(RsaSpearman(x, x)), 1, kTol);
  EXPECT_NEAR(Value(RsaPearson(x, y)), 1, kTol);
  EXPECT_NEAR(Value(RsaSpearman(x, y)), 1, kTol);
}

double PearsonOf(const std::vector<double>& a, const std::vector<double>& b) {
  const double ma = std::accumulate(a.begin(), a.end(), 0.0) / a.size();
  const double mb = std::accumulate(b.begin(), b.end(), 0.0) / b.size();
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ab += (a[i] - ma) * (b[i] - mb);
    aa += (a[i] - ma) * (a[i] - ma);
    bb += (b[i] - mb) * (b[i] - mb);
  }
  return ab / std::sqrt(aa * bb);
}

TEST(Rsa, HandComputedCaseWithTiedDistances) {
  // 1-D points; pairs in the order (0,1) (0,2) (0,3) (1,2) (1,3) (2,3).
  Eigen::MatrixXd x(4, 1), y(4, 1);
  x << 0, 1, 2, 4;  // distances 1 2 4 1 3 2
  y << 0, 1, 3, 6;  // distances 1 3 6 2 5 3
  EXPECT_NEAR(Value(RsaPearson(x, y)), PearsonOf({1, 2, 4, 1, 3, 2}, {1, 3, 6, 2, 5, 3}), kTol);
  // Average ranks: x's two 1s share 1.5, two 2s share 3.5; y's two 3s share 3.5.
  EXPECT_NEAR(Value(RsaSpearman(x, y)),
              PearsonOf({1.5, 3.5, 6, 1.5, 5, 3.5}, {1, 3.5, 6, 2, 5, 3.5}), kTol);
}

TEST(Rsa, SpearmanSeesOnlyTheOrderOfTheDistances) {
  // Pairs (0,1) (0,2) (1,2): distances 1 3 2 and 1 10 9, in the same order.
  Eigen::MatrixXd x(3, 1), y(3, 1);
  x << 0, 1, 3;
  y << 0, 1, 10;
  EXPECT_NEAR(Value(RsaSpearman(x, y)), 1, kTol);
  EXPECT_NEAR(Value(RsaPearson(x, y)), PearsonOf({1, 3, 2}, {1, 10, 9}), kTol);
  EXPECT_LT(Value(RsaPearson(x, y)), 0.99);
}

TEST(Rsa, RejectsTooFewExamplesAndEqualDistances) {
  ExpectInvalid(RsaPearson(Gaussian(2, 3, 62), Gaussian(2, 3, 63)),
                "rsa_pearson: n = 2 examples; need n >= 3");
  // The corners of a simplex: every distance is sqrt(2).
  ExpectInvalid(RsaSpearman(Gaussian(3, 2, 64), Eigen::MatrixXd::Identity(3, 3)),
                "rsa_spearman: all 3 pairwise distances of Y equal 1.41421");
}

TEST(MutualKnn, IsOneForIdenticalAndRotatedInputs) {
  const Eigen::MatrixXd x = Gaussian(30, 4, 65);
  for (int k : {1, 5, 29}) {
    EXPECT_EQ(Value(MutualKnnAlignment(x, x, k)), 1);
    EXPECT_EQ(Value(MutualKnnAlignment(x, 2 * x * RandomOrthogonal(4, 66), k)), 1);
  }
}

TEST(MutualKnn, BreaksTiesBySmallerIndex) {
  Eigen::MatrixXd x(4, 1), y(4, 1), y2(4, 1);
  x << 0, 1, -1, 5;  // example 0: examples 1 and 2 tie at distance 1; 1 wins
  // Nearest neighbours with k = 1 -- x: 1, 0, 0, 1; y: 2, 0, 0, 1; y2: 1, 0, 0, 1.
  y << 0, 1.5, -1, 5;
  y2 << 0, 1, -1.5, 5;
  EXPECT_EQ(Value(MutualKnnAlignment(x, y, 1)), 0.75);
  EXPECT_EQ(Value(MutualKnnAlignment(x, y2, 1)), 1.0);
  // k = n - 1: every other example is a neighbour.
  EXPECT_EQ(Value(MutualKnnAlignment(x, Gaussian(4, 3, 67), 3)), 1.0);
}

TEST(MutualKnn, HandComputedPartialOverlap) {
  // k = 2 on a line; y swaps the positions of examples 2 and 3.
  Eigen::MatrixXd x(4, 1), y(4, 1);
  x << 0, 1, 2.5, 4.5;  // neighbours {1, 2} {0, 2} {1, 3} {1, 2}
  y << 0, 1, 4.5, 2.5;  // neighbours {1, 3} {0, 3} {1, 3} {1, 2}
  // Overlaps 1, 1, 2, 2 of k = 2 each: (1 + 1 + 2 + 2) / 8.
  EXPECT_EQ(Value(MutualKnnAlignment(x, y, 2)), 0.75);
}

TEST(MutualKnn, RejectsKOutsideOneToNMinusOne) {
  const Eigen::MatrixXd x = Gaussian(5, 2, 68);
  ExpectInvalid(MutualKnnAlignment(x, x, 0), "mutual_knn: k = 0; must be in [1, n - 1] = [1, 4]");
  ExpectInvalid(MutualKnnAlignment(x, x, 5), "mutual_knn: k = 5; must be in [1, n - 1] = [1, 4]");
  // The default k = 10 needs 11 examples.
  ExpectInvalid(ComputeSimilarity("mutual_knn", x, x), "mutual_knn: k = 10");
}

TEST(PermutationBaseline, IsDeterministicForASeedAndNearZeroForDebiasedCka) {
  const Eigen::MatrixXd x = Gaussian(60, 10, 69);
  const Eigen::MatrixXd y = x * Gaussian(10, 10, 70) + 0.1 * Gaussian(60, 10, 71);
  const SimilarityFunction cka = [](const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
    return LinearCkaDebiased(a, b);
  };
  const auto a = ComputePermutationBaseline(cka, x, y, 50, 7);
  const auto b = ComputePermutationBaseline(cka, x, y, 50, 7);
  const auto c = ComputePermutationBaseline(cka, x, y, 50, 8);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok()) << a.status();
  EXPECT_EQ(a->mean, b->mean);
  EXPECT_EQ(a->stddev, b->stddev);
  EXPECT_NE(a->mean, c->mean);
  // Shuffled, the pairing is gone: the null is centred near 0, the paired value far above.
  const double paired = Value(LinearCkaDebiased(x, y));
  EXPECT_GT(paired, 0.5);
  EXPECT_LT(std::abs(a->mean), kNullTol);
  EXPECT_GT(a->stddev, 0);
  EXPECT_GT(paired, a->mean + 10 * a->stddev) << a->mean << " +- " << a->stddev;
}

TEST(PermutationBaseline, ShufflesTheRowsOfYAndReportsTheSampleStddev) {
  const int n = 7;
  const Eigen::MatrixXd x = Gaussian(n, 2, 72);
  Eigen::MatrixXd y(n, 2);
  for (int i = 0; i < n; ++i) y.row(i) << i, 10.0 * i;
  std::vector<double> seen;
  bool all_permutations = true;
  const SimilarityFunction first_row = [&](const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
    EXPECT_EQ(&a, &x);
    std::vector<double> rows(b.col(0).data(), b.col(0).data() + n);
    std::sort(rows.begin(), rows.end());
    for (int i = 0; i < n; ++i) all_permutations &= rows[i] == i && b(i, 1) == 10 * b(i, 0);
    seen.push_back(b(0, 0));
    return absl::StatusOr<double>(b(0, 0));
  };
  const auto baseline = ComputePermutationBaseline(first_row, x, y, 40, 3);
  ASSERT_TRUE(baseline.ok()) << baseline.status();
  EXPECT_TRUE(all_permutations);
  ASSERT_EQ(seen.size(), 40u);
  const double mean = std::accumulate(seen.begin(), seen.end(), 0.0) / 40;
  double ss = 0;
  for (double v : seen) ss += (v - mean) * (v - mean);
  EXPECT_NEAR(baseline->mean, mean, kTol);
  EXPECT_NEAR(baseline->stddev, std::sqrt(ss / 39), kTol);
  // Row 0 is not always row 0 of Y.
  EXPECT_GT(*std::max_element(seen.begin(), seen.end()), 0);
}

TEST(PermutationBaseline, RejectsTooFewPermutationsAndPassesTheMeasureErrorOn) {
  const Eigen::MatrixXd x = Gaussian(5, 2, 73);
  const SimilarityFunction knn = [](const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
    return MutualKnnAlignment(a, b, 10);
  };
  const auto one = ComputePermutationBaseline(knn, x, x, 1, 1);
  EXPECT_EQ(one.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(one.status().message(), HasSubstr("num_permutations = 1; must be >= 2"));
  const auto bad_k = ComputePermutationBaseline(knn, x, x, 5, 1);
  EXPECT_EQ(bad_k.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad_k.status().message(), HasSubstr("mutual_knn: k = 10"));
  const auto shapes = ComputePermutationBaseline(knn, x, Gaussian(4, 2, 74), 5, 1);
  EXPECT_THAT(shapes.status().message(), HasSubstr("X is 5 x 2 and Y is 4 x 2"));
}

}  // namespace
}  // namespace replearn
