#include "metrics/similarity.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "Eigen/QR"
#include "Eigen/SVD"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/rng.h"
#include "core/status_macros.h"

namespace replearn {
namespace {

constexpr char kCkaBiased[] = "cka_biased";
constexpr char kCkaDebiased[] = "cka_debiased";
constexpr char kProcrustes[] = "procrustes_angular";
constexpr char kRsaPearson[] = "rsa_pearson";
constexpr char kRsaSpearman[] = "rsa_spearman";
constexpr char kMutualKnn[] = "mutual_knn";

// See LinearCkaDebiased in the header.
constexpr double kHsicRelTol = 1e-10;

absl::Status Check(absl::string_view measure, const Eigen::MatrixXd& x, const Eigen::MatrixXd& y) {
  const absl::Status status = CheckRepresentations(x, y);
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(measure, ": ", status.message()));
}

std::string Shape(const Eigen::MatrixXd& m) { return absl::StrCat(m.rows(), " x ", m.cols()); }

absl::Status CheckFinite(absl::string_view name, const Eigen::MatrixXd& m) {
  if (m.allFinite()) return absl::OkStatus();
  for (Eigen::Index j = 0; j < m.cols(); ++j) {
    for (Eigen::Index i = 0; i < m.rows(); ++i) {
      if (!std::isfinite(m(i, j))) {
        return absl::InvalidArgumentError(
            absl::StrCat(name, "(", i, ", ", j, ") = ", m(i, j), "; every value must be finite"));
      }
    }
  }
  return absl::OkStatus();
}

// Column j of m minus its mean, or exactly 0 for a constant column (its computed mean can be
// off by an ulp, which would leave a constant residue that the measures would read as
// signal). Returns whether the column varies.
bool CentreColumn(const Eigen::MatrixXd& m, Eigen::Index j, Eigen::Ref<Eigen::VectorXd> out) {
  if (m.col(j).minCoeff() == m.col(j).maxCoeff()) {
    out.setZero();
    return false;
  }
  out = m.col(j).array() - m.col(j).mean();
  return true;
}

absl::Status ConstantError(absl::string_view measure, absl::string_view name,
                           const Eigen::MatrixXd& m) {
  return absl::InvalidArgumentError(
      absl::StrCat(measure, ": every feature of ", name, " (", Shape(m),
                   ") is constant over the examples; the measure is undefined for a "
                   "representation without variance"));
}

// The centred columns scaled to unit Frobenius norm: every measure using them is invariant to
// both, and O(1) entries keep later sums away from overflow and underflow. InvalidArgument
// when every column is constant.
absl::StatusOr<Eigen::MatrixXd> CentreAndNormalise(absl::string_view measure,
                                                   absl::string_view name,
                                                   const Eigen::MatrixXd& m) {
  Eigen::MatrixXd c(m.rows(), m.cols());
  bool any_varies = false;
  for (Eigen::Index j = 0; j < m.cols(); ++j) any_varies |= CentreColumn(m, j, c.col(j));
  if (!any_varies) return ConstantError(measure, name, m);
  c /= c.norm();
  return c;
}

// Gram matrix Xc Xc^T of the centred columns (as CentreColumn), and ||Xc||_F^2.
struct CentredGram {
  Eigen::MatrixXd k;
  double squared_norm = 0;
};

// Accumulated over blocks of 64 columns: Eigen's product over all p columns at once allocates
// packing buffers above glibc's mmap threshold on every call, and their page faults made
// linear CKA on 100 x 500 features 5x slower (benchmarks/RESULTS.md).
absl::StatusOr<CentredGram> CentreAndGram(absl::string_view measure, absl::string_view name,
                                          const Eigen::MatrixXd& m) {
  constexpr Eigen::Index kBlock = 64;
  const Eigen::Index n = m.rows();
  CentredGram g{Eigen::MatrixXd::Zero(n, n), 0.0};
  Eigen::MatrixXd block(n, std::min(kBlock, m.cols()));
  bool any_varies = false;
  for (Eigen::Index j0 = 0; j0 < m.cols(); j0 += kBlock) {
    const Eigen::Index width = std::min(kBlock, m.cols() - j0);
    for (Eigen::Index j = 0; j < width; ++j) any_varies |= CentreColumn(m, j0 + j, block.col(j));
    g.squared_norm += block.leftCols(width).squaredNorm();
    g.k.selfadjointView<Eigen::Lower>().rankUpdate(block.leftCols(width));
  }
  if (!any_varies) return ConstantError(measure, name, m);
  Eigen::MatrixXd full = g.k.selfadjointView<Eigen::Lower>();
  g.k = std::move(full);
  return g;
}

// HSIC_u of the header for Gram matrices whose diagonals are already 0.
double HsicUnbiased(const Eigen::MatrixXd& k, const Eigen::MatrixXd& l) {
  const double n = static_cast<double>(k.rows());
  const double trace_kl = (k.array() * l.array()).sum();  // tr(K L) for symmetric K, L
  const double kl_ones = k.rowwise().sum().dot(l.rowwise().sum());
  return (trace_kl + k.sum() * l.sum() / ((n - 1) * (n - 2)) - 2 / (n - 2) * kl_ones) /
         (n * (n - 3));
}

// Euclidean distances between the rows, computed as differences (not from a Gram matrix),
// so that equal distances in exact arithmetic tie exactly for the ranks and neighbour lists.
Eigen::MatrixXd PairwiseDistances(const Eigen::MatrixXd& m) {
  const Eigen::MatrixXd rows = m.transpose();  // examples as contiguous columns
  const Eigen::Index n = m.rows();
  Eigen::MatrixXd d = Eigen::MatrixXd::Zero(n, n);
  for (Eigen::Index j = 0; j < n; ++j) {
    for (Eigen::Index i = j + 1; i < n; ++i) {
      d(i, j) = d(j, i) = (rows.col(i) - rows.col(j)).norm();
    }
  }
  return d;
}

// Entries i < j in row-major order.
Eigen::VectorXd UpperTriangle(const Eigen::MatrixXd& d) {
  const Eigen::Index n = d.rows();
  Eigen::VectorXd v(n * (n - 1) / 2);
  Eigen::Index k = 0;
  for (Eigen::Index i = 0; i < n; ++i) {
    for (Eigen::Index j = i + 1; j < n; ++j) v(k++) = d(i, j);
  }
  return v;
}

// 1-based ranks, ties sharing the average of their ranks.
Eigen::VectorXd AverageRanks(const Eigen::VectorXd& v) {
  std::vector<Eigen::Index> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&v](Eigen::Index a, Eigen::Index b) { return v(a) < v(b); });
  Eigen::VectorXd ranks(v.size());
  for (size_t start = 0; start < order.size();) {
    size_t end = start + 1;
    while (end < order.size() && v(order[end]) == v(order[start])) ++end;
    const double rank = 0.5 * static_cast<double>(start + 1 + end);  // mean of start+1 .. end
    for (size_t k = start; k < end; ++k) ranks(order[k]) = rank;
    start = end;
  }
  return ranks;
}

double Pearson(const Eigen::VectorXd& a, const Eigen::VectorXd& b) {
  const Eigen::VectorXd ac = a.array() - a.mean();
  const Eigen::VectorXd bc = b.array() - b.mean();
  return std::clamp(ac.dot(bc) / (ac.norm() * bc.norm()), -1.0, 1.0);
}

// The i < j distances of X and Y, or InvalidArgument when n < 3 or all of one matrix's
// distances are equal (no variance to correlate).
absl::StatusOr<std::pair<Eigen::VectorXd, Eigen::VectorXd>> DistancePairs(
    absl::string_view measure, const Eigen::MatrixXd& x, const Eigen::MatrixXd& y) {
  RETURN_IF_ERROR(Check(measure, x, y));
  if (x.rows() < 3) {
    return absl::InvalidArgumentError(absl::StrCat(
        measure, ": n = ", x.rows(), " examples; need n >= 3 for two or more distance pairs"));
  }
  std::pair<Eigen::VectorXd, Eigen::VectorXd> pairs = {UpperTriangle(PairwiseDistances(x)),
                                                       UpperTriangle(PairwiseDistances(y))};
  for (const auto& [name, v] : {std::pair{"X", &pairs.first}, std::pair{"Y", &pairs.second}}) {
    if (v->minCoeff() == v->maxCoeff()) {
      return absl::InvalidArgumentError(
          absl::StrCat(measure, ": all ", v->size(), " pairwise distances of ", name, " equal ",
                       (*v)(0), "; the correlation is undefined without variation"));
    }
  }
  return pairs;
}

// A factor F (min(p, n) x n) of M (n x p) with M^T = Q F for some Q with orthonormal columns:
// M^T itself when p <= n, else the R of the QR decomposition of M^T. Then
// A^T B = Q_A F_A F_B^T Q_B^T has the singular values of F_A F_B^T.
Eigen::MatrixXd ExampleSideFactor(const Eigen::MatrixXd& m) {
  const Eigen::Index n = m.rows();
  if (m.cols() <= n) return m.transpose();
  const Eigen::HouseholderQR<Eigen::MatrixXd> qr(m.transpose());  // M^T = Q R, R n x n
  return qr.matrixQR().topRows(n).triangularView<Eigen::Upper>();
}

}  // namespace

absl::Status CheckRepresentations(const Eigen::MatrixXd& x, const Eigen::MatrixXd& y) {
  if (x.rows() != y.rows()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "X is ", Shape(x), " and Y is ", Shape(y),
        "; both need one row per example, the same n rows (features are the columns)"));
  }
  for (const auto& [name, m] : {std::pair{"X", &x}, std::pair{"Y", &y}}) {
    if (m->size() == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          name, " is ", Shape(*m), "; need at least one example (row) and one feature (column)"));
    }
  }
  RETURN_IF_ERROR(CheckFinite("X", x));
  return CheckFinite("Y", y);
}

absl::StatusOr<double> LinearCkaBiased(const Eigen::MatrixXd& x, const Eigen::MatrixXd& y) {
  RETURN_IF_ERROR(Check(kCkaBiased, x, y));
  // H K H = Xc Xc^T: the centred Gram matrices come straight from the centred features.
  ASSIGN_OR_RETURN(const CentredGram k, CentreAndGram(kCkaBiased, "X", x));
  ASSIGN_OR_RETURN(const CentredGram l, CentreAndGram(kCkaBiased, "Y", y));
  const double kl = (k.k.array() * l.k.array()).sum();
  return std::clamp(kl / (k.k.norm() * l.k.norm()), 0.0, 1.0);
}

absl::StatusOr<double> LinearCkaDebiased(const Eigen::MatrixXd& x, const Eigen::MatrixXd& y) {
  RETURN_IF_ERROR(Check(kCkaDebiased, x, y));
  const Eigen::Index n = x.rows();
  if (n < 4) {
    return absl::InvalidArgumentError(absl::StrCat(
        kCkaDebiased, ": n = ", n, " examples; the unbiased HSIC estimator needs n >= 4"));
  }
  double self[2];
  Eigen::MatrixXd grams[2];
  const std::pair<const char*, const Eigen::MatrixXd*> inputs[2] = {{"X", &x}, {"Y", &y}};
  for (int s = 0; s < 2; ++s) {
    const auto [name, m] = inputs[s];
    ASSIGN_OR_RETURN(CentredGram g, CentreAndGram(kCkaDebiased, name, *m));
    grams[s] = std::move(g.k) / g.squared_norm;  // the Gram of Xc / ||Xc||_F
    grams[s].diagonal().setZero();
    self[s] = HsicUnbiased(grams[s], grams[s]);
    const double dn = static_cast<double>(n);
    if (!(self[s] > kHsicRelTol / (dn * (dn - 3)))) {
      // Back in the input's units: HSIC_u(K, K) scales with ||Xc||_F^4.
      const double scale = g.squared_norm * g.squared_norm;
      return absl::InvalidArgumentError(
          absl::StrCat(kCkaDebiased, ": HSIC_u(K, K) of ", name, " = ", self[s] * scale,
                       " <= ", kHsicRelTol * scale / (dn * (dn - 3)), " (0 up to rounding; n = ", n,
                       "); debiased CKA needs both self-similarities > 0. ", name,
                       " has the same representation for all examples or all but one, or too few "
                       "examples to estimate its variance"));
    }
  }
  return HsicUnbiased(grams[0], grams[1]) / (std::sqrt(self[0]) * std::sqrt(self[1]));
}

absl::StatusOr<double> ProcrustesAngularDistance(const Eigen::MatrixXd& x,
                                                 const Eigen::MatrixXd& y) {
  RETURN_IF_ERROR(Check(kProcrustes, x, y));
  ASSIGN_OR_RETURN(const Eigen::MatrixXd xc, CentreAndNormalise(kProcrustes, "X", x));
  ASSIGN_OR_RETURN(const Eigen::MatrixXd yc, CentreAndNormalise(kProcrustes, "Y", y));
  // The SVD then works on a matrix of at most n x n, whatever the widths p and q.
  const Eigen::MatrixXd cross = ExampleSideFactor(xc) * ExampleSideFactor(yc).transpose();
  const double nuclear = Eigen::BDCSVD<Eigen::MatrixXd>(cross).singularValues().sum();
  return std::acos(std::clamp(nuclear, 0.0, 1.0));
}

absl::StatusOr<double> RsaPearson(const Eigen::MatrixXd& x, const Eigen::MatrixXd& y) {
  ASSIGN_OR_RETURN(const auto pairs, DistancePairs(kRsaPearson, x, y));
  return Pearson(pairs.first, pairs.second);
}

absl::StatusOr<double> RsaSpearman(const Eigen::MatrixXd& x, const Eigen::MatrixXd& y) {
  ASSIGN_OR_RETURN(const auto pairs, DistancePairs(kRsaSpearman, x, y));
  return Pearson(AverageRanks(pairs.first), AverageRanks(pairs.second));
}

absl::StatusOr<double> MutualKnnAlignment(const Eigen::MatrixXd& x, const Eigen::MatrixXd& y,
                                          int k) {
  RETURN_IF_ERROR(Check(kMutualKnn, x, y));
  const Eigen::Index n = x.rows();
  if (k < 1 || k > n - 1) {
    return absl::InvalidArgumentError(absl::StrCat(kMutualKnn, ": k = ", k,
                                                   "; must be in [1, n - 1] = [1, ", n - 1,
                                                   "] for n = ", n, " examples"));
  }
  const Eigen::MatrixXd dx = PairwiseDistances(x);
  const Eigen::MatrixXd dy = PairwiseDistances(y);
  // The k nearest j != i of column i of d (d is symmetric), nearest first, ties by index.
  std::vector<Eigen::Index> candidates;
  auto nearest = [&candidates, n, k](const Eigen::MatrixXd& d, Eigen::Index i) {
    candidates.clear();
    for (Eigen::Index j = 0; j < n; ++j) {
      if (j != i) candidates.push_back(j);
    }
    const double* col = d.col(i).data();
    std::partial_sort(candidates.begin(), candidates.begin() + k, candidates.end(),
                      [col](Eigen::Index a, Eigen::Index b) {
                        return col[a] < col[b] || (col[a] == col[b] && a < b);
                      });
    candidates.resize(k);
  };
  std::vector<Eigen::Index> marked(n, -1);  // marked[j] == i: j is in N_X(i)
  int64_t shared = 0;
  for (Eigen::Index i = 0; i < n; ++i) {
    nearest(dx, i);
    for (Eigen::Index j : candidates) marked[j] = i;
    nearest(dy, i);
    for (Eigen::Index j : candidates) shared += marked[j] == i;
  }
  return static_cast<double>(shared) / (static_cast<double>(n) * k);
}

absl::string_view SimilarityMeasureName(SimilarityMeasure measure) {
  switch (measure) {
    case SimilarityMeasure::kCkaDebiased:
      return kCkaDebiased;
    case SimilarityMeasure::kCkaBiased:
      return kCkaBiased;
    case SimilarityMeasure::kProcrustesAngular:
      return kProcrustes;
    case SimilarityMeasure::kRsaPearson:
      return kRsaPearson;
    case SimilarityMeasure::kRsaSpearman:
      return kRsaSpearman;
    case SimilarityMeasure::kMutualKnn:
      return kMutualKnn;
  }
  return "unknown";
}

absl::StatusOr<SimilarityMeasure> ParseSimilarityMeasure(absl::string_view name) {
  std::vector<absl::string_view> known;
  for (SimilarityMeasure m : kAllSimilarityMeasures) {
    if (SimilarityMeasureName(m) == name) return m;
    known.push_back(SimilarityMeasureName(m));
  }
  return absl::NotFoundError(absl::StrCat("unknown similarity measure \"", name, "\"; known: [",
                                          absl::StrJoin(known, ", "), "]"));
}

absl::StatusOr<double> ComputeSimilarity(SimilarityMeasure measure, const Eigen::MatrixXd& x,
                                         const Eigen::MatrixXd& y,
                                         const SimilarityOptions& options) {
  switch (measure) {
    case SimilarityMeasure::kCkaDebiased:
      return LinearCkaDebiased(x, y);
    case SimilarityMeasure::kCkaBiased:
      return LinearCkaBiased(x, y);
    case SimilarityMeasure::kProcrustesAngular:
      return ProcrustesAngularDistance(x, y);
    case SimilarityMeasure::kRsaPearson:
      return RsaPearson(x, y);
    case SimilarityMeasure::kRsaSpearman:
      return RsaSpearman(x, y);
    case SimilarityMeasure::kMutualKnn:
      return MutualKnnAlignment(x, y, options.knn_k);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("similarity measure ", static_cast<int>(measure), " does not exist"));
}

absl::StatusOr<double> ComputeSimilarity(absl::string_view measure, const Eigen::MatrixXd& x,
                                         const Eigen::MatrixXd& y,
                                         const SimilarityOptions& options) {
  ASSIGN_OR_RETURN(const SimilarityMeasure m, ParseSimilarityMeasure(measure));
  return ComputeSimilarity(m, x, y, options);
}

absl::StatusOr<PermutationBaseline> ComputePermutationBaseline(const SimilarityFunction& measure,
                                                               const Eigen::MatrixXd& x,
                                                               const Eigen::MatrixXd& y,
                                                               int num_permutations,
                                                               uint64_t seed) {
  RETURN_IF_ERROR(CheckRepresentations(x, y));
  if (num_permutations < 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "num_permutations = ", num_permutations, "; must be >= 2 for a sample standard deviation"));
  }
  const Eigen::Index n = y.rows();
  Rng rng(seed);
  std::vector<Eigen::Index> perm(n);
  Eigen::MatrixXd shuffled(y.rows(), y.cols());
  std::vector<double> values;
  values.reserve(num_permutations);
  for (int r = 0; r < num_permutations; ++r) {
    std::iota(perm.begin(), perm.end(), 0);
    for (Eigen::Index i = n - 1; i > 0; --i) {
      std::swap(perm[i], perm[rng.UniformInt(static_cast<uint64_t>(i) + 1)]);
    }
    for (Eigen::Index i = 0; i < n; ++i) shuffled.row(i) = y.row(perm[i]);
    ASSIGN_OR_RETURN(const double value, measure(x, shuffled));
    values.push_back(value);
  }
  const double mean = std::accumulate(values.begin(), values.end(), 0.0) / num_permutations;
  double sum_sq = 0;
  for (double v : values) sum_sq += (v - mean) * (v - mean);
  return PermutationBaseline{mean, std::sqrt(sum_sq / (num_permutations - 1))};
}

}  // namespace replearn
