// Representation-similarity measures between two representations of the same n examples:
// X (n x p) and Y (n x q), row i of both belonging to example i. Everything is float64.
//
// Name (SimilarityMeasure)  Kind and range                 Identical inputs
// cka_biased                similarity in [0, 1]           1
// cka_debiased              similarity, about [-1, 1]      1
// procrustes_angular        distance in [0, pi/2]          0
// rsa_pearson               similarity in [-1, 1]          1
// rsa_spearman              similarity in [-1, 1]          1
// mutual_knn                similarity in [0, 1]           1
// All six are invariant to translating, isotropically scaling and orthogonally transforming
// the features of either input (Y -> a Y Q + 1 b^T, a != 0, Q orthogonal).
//
// Common contract: X and Y must have the same number of rows n >= 1, at least one column,
// and only finite values; otherwise InvalidArgument naming the shapes or the first bad entry
// (CheckRepresentations). A representation whose features are all constant over the
// examples is rejected by the measures that centre (both CKAs, procrustes_angular); a feature
// whose values are all equal is centred to exactly 0, not to the rounding error of its mean.
// Each measure's own conditions are listed with it, and every error message starts with the
// measure's name. No measure returns NaN.
//
// Cost: the CKAs and procrustes_angular O(n^2 (p + q)), the RSAs and mutual_knn
// O(n^2 (p + q + log n)); memory O(n^2) (n x n Gram or distance matrices).
#ifndef REPLEARN_METRICS_SIMILARITY_H_
#define REPLEARN_METRICS_SIMILARITY_H_

#include <array>
#include <cstdint>
#include <functional>

#include "Eigen/Core"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace replearn {

// OK, or InvalidArgument when the rows differ ("X is 10 x 3 and Y is 9 x 3; ..."), either
// matrix is empty, or an entry is NaN or infinite ("X(2, 0) = nan; ...").
absl::Status CheckRepresentations(const Eigen::MatrixXd& x, const Eigen::MatrixXd& y);

// Linear CKA, biased (Kornblith et al. 2019, "Similarity of Neural Network Representations
// Revisited", ICML):
//   K = X X^T, L = Y Y^T, H = I_n - (1/n) 1 1^T, K~ = H K H, L~ = H L H,
//   CKA(X, Y) = <K~, L~>_F / (||K~||_F ||L~||_F)
//             = ||Xc^T Yc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F),   Xc = H X, Yc = H Y.
// In [0, 1]; 1 when Y = a X Q + 1 b^T (Q orthogonal, a != 0). Its HSIC estimate is biased:
// unrelated representations with many features (p, q >> n) score high, e.g. about 0.91 for
// two independent 100 x 1000 Gaussian matrices, because K~ and L~ share the dominant
// diagonal p H and q H. Use cka_debiased to compare such representations.
// Needs n >= 2 and a non-constant X and Y.
absl::StatusOr<double> LinearCkaBiased(const Eigen::MatrixXd& x, const Eigen::MatrixXd& y);

// Linear CKA with the unbiased HSIC estimator of Song et al. 2012 ("Feature Selection via
// Dependence Maximization", JMLR 13), as used for debiased CKA by Kornblith et al. 2019 and
// Nguyen et al. 2021 ("Do Wide and Deep Networks Learn the Same Things?", ICLR). With
// K = X X^T and L = Y Y^T whose diagonals are set to 0:
//   HSIC_u(K, L) = [ tr(K L) + (1^T K 1)(1^T L 1) / ((n - 1)(n - 2))
//                    - 2 / (n - 2) 1^T K L 1 ] / (n (n - 3)),
//   CKA_d(X, Y) = HSIC_u(K, L) / sqrt(HSIC_u(K, K) HSIC_u(L, L)).
// About 0 for independent representations of any width (|CKA_d| < 0.05 for two independent
// 100 x 1000 Gaussian matrices), 1 for Y = a X Q + 1 b^T. It can be slightly negative.
// HSIC_u is unchanged by translating the features, so X and Y are centred first, which keeps
// the sums from cancelling, and the Gram matrices are those of the centred features scaled to
// unit Frobenius norm.
// HSIC_u(K, K) = ||U(K)||_F^2 / (n (n - 3)) >= 0, with U the U-centring of Szekely & Rizzo
// 2014 (U(K)_ij = K_ij - r_i - r_j + t for i != j, r_i = row sum / (n - 2),
// t = total / ((n - 1)(n - 2)), U(K)_ii = 0). It is exactly 0 when every example has the same
// representation or all but one do, and rounding then leaves a tiny value of either sign.
// Errors (InvalidArgument): n < 4; a constant X or Y; HSIC_u(K, K) or HSIC_u(L, L) at most
// 1e-10 ||Xc||_F^4 / (n (n - 3)) (about a thousand times the rounding error of the O(1)
// normalised sums), naming the representation and the value.
absl::StatusOr<double> LinearCkaDebiased(const Eigen::MatrixXd& x, const Eigen::MatrixXd& y);

// Angular Procrustes distance (Williams et al. 2021, "Generalized Shape Metrics on Neural
// Representations", NeurIPS): centre the columns, scale each matrix to unit Frobenius norm,
// zero-pad the narrower one to max(p, q) columns, then
//   theta(X, Y) = arccos( max over orthogonal Q of <X, Y Q>_F ) = arccos( ||X^T Y||_* ),
// the nuclear norm (sum of singular values) clamped to [0, 1] before the arccos. Padding
// adds zero rows or columns to X^T Y and does not change its singular values, so none is
// materialised. A metric on [0, pi/2]: 0 for Y = a X Q + 1 b^T, symmetric, and it satisfies
// the triangle inequality. Near 0, arccos(1 - d) ~ sqrt(2 d), so a rounding error d ~ 1e-16
// in the nuclear norm shows as ~1e-8 in the angle.
// Needs n >= 2 and a non-constant X and Y.
absl::StatusOr<double> ProcrustesAngularDistance(const Eigen::MatrixXd& x,
                                                 const Eigen::MatrixXd& y);

// Representational similarity analysis (Kriegeskorte et al. 2008, "Representational
// Similarity Analysis", Front. Syst. Neurosci.): with D_X(i, j) = ||x_i - x_j||_2 (Euclidean,
// not squared), the n (n - 1) / 2 entries i < j of D_X and of D_Y are correlated:
//   rsa_pearson  = Pearson r(a, b) = <a - mean a, b - mean b> / (||a - mean a|| ||b - mean b||)
//   rsa_spearman = Pearson r of the ranks of a and b, tied values getting the average of
//                  their 1-based ranks.
// In [-1, 1]. Needs n >= 3, and two distinct distances among each matrix's pairs.
absl::StatusOr<double> RsaPearson(const Eigen::MatrixXd& x, const Eigen::MatrixXd& y);
absl::StatusOr<double> RsaSpearman(const Eigen::MatrixXd& x, const Eigen::MatrixXd& y);

// Mutual k-nearest-neighbour alignment (Huh et al. 2024, "The Platonic Representation
// Hypothesis", ICML):
//   N_X(i) = the k examples j != i nearest to i by ||x_i - x_j||_2, ties broken by smaller j;
//   score  = (1/n) sum_i |N_X(i) intersect N_Y(i)| / k, in [0, 1].
// Huh et al. rank neighbours by inner products of unit-normalised features; for rows of unit
// length that is the same ranking as Euclidean distance. k must be in [1, n - 1].
absl::StatusOr<double> MutualKnnAlignment(const Eigen::MatrixXd& x, const Eigen::MatrixXd& y,
                                          int k);

// The six measures. SimilarityMeasureName gives their names: "cka_debiased", "cka_biased",
// "procrustes_angular", "rsa_pearson", "rsa_spearman", "mutual_knn".
enum class SimilarityMeasure {
  kCkaDebiased,
  kCkaBiased,
  kProcrustesAngular,
  kRsaPearson,
  kRsaSpearman,
  kMutualKnn,
};
inline constexpr std::array<SimilarityMeasure, 6> kAllSimilarityMeasures = {
    SimilarityMeasure::kCkaDebiased,       SimilarityMeasure::kCkaBiased,
    SimilarityMeasure::kProcrustesAngular, SimilarityMeasure::kRsaPearson,
    SimilarityMeasure::kRsaSpearman,       SimilarityMeasure::kMutualKnn};

absl::string_view SimilarityMeasureName(SimilarityMeasure measure);
// NotFound for an unknown name, listing the known ones.
absl::StatusOr<SimilarityMeasure> ParseSimilarityMeasure(absl::string_view name);

struct SimilarityOptions {
  int knn_k = 10;  // mutual_knn's k; 10 is the default of Huh et al.'s released code
};

absl::StatusOr<double> ComputeSimilarity(SimilarityMeasure measure, const Eigen::MatrixXd& x,
                                         const Eigen::MatrixXd& y,
                                         const SimilarityOptions& options = {});
// By name: NotFound for an unknown name, then as above.
absl::StatusOr<double> ComputeSimilarity(absl::string_view measure, const Eigen::MatrixXd& x,
                                         const Eigen::MatrixXd& y,
                                         const SimilarityOptions& options = {});

// Permutation baseline: the measure's distribution when the pairing of examples is broken.
// Each of num_permutations rounds draws a uniform permutation pi of 0..n-1 (Fisher-Yates
// from the identity with core/rng.h, whose stream is fixed by the seed on every platform)
// and evaluates measure(X, Y_pi), where row i of Y_pi is row pi(i) of Y. Returns the mean
// and the sample standard deviation (denominator num_permutations - 1) of the values.
// The same (inputs, num_permutations, seed) give the same result. InvalidArgument when
// num_permutations < 2 or the inputs fail CheckRepresentations; the first error of the
// measure is returned as is.
using SimilarityFunction =
    std::function<absl::StatusOr<double>(const Eigen::MatrixXd& x, const Eigen::MatrixXd& y)>;
struct PermutationBaseline {
  double mean = 0;
  double stddev = 0;
};
absl::StatusOr<PermutationBaseline> ComputePermutationBaseline(const SimilarityFunction& measure,
                                                               const Eigen::MatrixXd& x,
                                                               const Eigen::MatrixXd& y,
                                                               int num_permutations, uint64_t seed);

}  // namespace replearn

#endif  // REPLEARN_METRICS_SIMILARITY_H_
