// The mds probe. Example spec:
//   probe { mds { examples { per_class: 10 } layers: [2] dims: 2 steps: [0] at_end: true } }
#include "metrics/mds.h"

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "Eigen/Eigenvalues"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/csv.h"
#include "core/file_util.h"
#include "core/status_macros.h"
#include "metrics/probe.h"
#include "metrics/probe_set.h"

namespace replearn {
namespace {

constexpr char kField[] = "probe.mds";

class MdsProbe final : public Probe {
 public:
  static absl::StatusOr<std::unique_ptr<Probe>> Create(const ProbeSpec& spec,
                                                       const ProbeBuildContext& ctx) {
    const MdsProbeSpec& mds = spec.mds();
    std::vector<std::string> problems;
    auto set = ResolveProbeSet(mds.examples(), *ctx.data, absl::StrCat(kField, ".examples"));
    if (!set.ok()) problems.emplace_back(set.status().message());
    std::vector<int> layers = ResolveLayers(mds.layers(), ctx.net->num_hidden(),
                                            absl::StrCat(kField, ".layers"), problems);
    const StepSchedule schedule =
        StepSchedule::Create(mds.steps(), mds.every(), mds.at_end(), kField, problems);
    if (mds.dims() < 1 || (set.ok() && mds.dims() > set->size())) {
      problems.push_back(absl::StrCat(kField, ".dims = ", mds.dims(), "; must be in 1..",
                                      set.ok() ? absl::StrCat(set->size(), " (the examples)")
                                               : std::string("the number of examples")));
    }
    if (!problems.empty()) return absl::InvalidArgumentError(absl::StrJoin(problems, "\n"));
    auto probe = std::unique_ptr<MdsProbe>(new MdsProbe());
    probe->set_ = *std::move(set);
    probe->layers_ = std::move(layers);
    probe->schedule_ = schedule;
    probe->dims_ = mds.dims();
    return std::unique_ptr<Probe>(std::move(probe));
  }

  bool ObservesStep(int64_t step, int64_t last_step) const override {
    return schedule_.Observes(step, last_step);
  }

  absl::Status Observe(int64_t step, ProbeContext& ctx, CurveLog& log) override {
    if (ctx.out_dir.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat(kField,
                       ": no run folder to write into (ProbeContext::out_dir is empty); run the "
                       "experiment with RunExperiment or set TrainOptions::out_dir"));
    }
    const int n = set_.size();
    ASSIGN_OR_RETURN(const Architecture* net, ctx.EvalForward(set_.forward_x(), n));
    for (int layer : layers_) {
      const Tap tap = net->hidden(layer);
      ASSIGN_OR_RETURN(const MdsResult mds,
                       ClassicalMds(PairwiseDistances(tap.data, n, tap.dim), dims_));
      RETURN_IF_ERROR(WriteFileAtomically(
          JoinPath(ctx.out_dir, absl::StrCat("mds_", layer, "_step", step, ".csv")), Csv(mds)));
      if (std::isfinite(mds.explained)) log.Add(step, layer, "mds_explained", mds.explained);
    }
    return absl::OkStatus();
  }

 private:
  MdsProbe() = default;

  std::string Csv(const MdsResult& mds) const {
    const int out = static_cast<int>(set_.y.cols());
    std::vector<std::string> header = {"position", "index"};
    if (!set_.labels.empty()) header.push_back("label");
    for (int k = 0; k < out; ++k) {
      header.push_back(out == 1 ? std::string("target") : absl::StrCat("target_", k));
    }
    for (int k = 0; k < dims_; ++k) header.push_back(absl::StrCat("x", k + 1));
    CsvWriter csv(header);
    for (int i = 0; i < set_.size(); ++i) {
      std::vector<std::string> row = {absl::StrCat(i), absl::StrCat(set_.indices[i])};
      if (!set_.labels.empty()) row.push_back(absl::StrCat(set_.labels[i]));
      for (int k = 0; k < out; ++k) row.push_back(FormatDouble(set_.y(i, k)));
      for (int k = 0; k < dims_; ++k) row.push_back(FormatDouble(mds.coords(i, k)));
      csv.AddRow(row);
    }
    return csv.contents();
  }

  ProbeSet set_;
  std::vector<int> layers_;
  StepSchedule schedule_;
  int dims_ = 2;
};

}  // namespace

absl::StatusOr<MdsResult> ClassicalMds(const Eigen::MatrixXd& distances, int dims) {
  const Eigen::Index n = distances.rows();
  if (distances.cols() != n) {
    return absl::InvalidArgumentError(absl::StrCat("mds: distance matrix is ", n, " x ",
                                                   distances.cols(), "; expected a square one"));
  }
  if (!distances.allFinite()) {
    return absl::InvalidArgumentError("mds: the distance matrix has a non-finite entry");
  }
  if (dims < 1 || dims > n) {
    return absl::InvalidArgumentError(
        absl::StrCat("mds: dims = ", dims, "; must be in 1..", n, " (the points)"));
  }
  const Eigen::MatrixXd d2 = distances.array().square().matrix();
  // -1/2 J D^2 J without forming J: subtract row and column means, add the grand mean.
  const Eigen::VectorXd row_mean = d2.rowwise().mean();
  const Eigen::RowVectorXd col_mean = d2.colwise().mean();
  const double grand = d2.mean();
  Eigen::MatrixXd b = d2;
  b.colwise() -= row_mean;
  b.rowwise() -= col_mean;
  b.array() += grand;
  b *= -0.5;
  b = 0.5 * (b + b.transpose()).eval();  // exact symmetry for the solver
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver(b);
  if (solver.info() != Eigen::Success) {
    return absl::InternalError("mds: the eigen-decomposition did not converge");
  }
  MdsResult result;
  result.eigenvalues = solver.eigenvalues().reverse();  // ascending -> descending
  result.coords.resize(n, dims);
  double top = 0, positive = 0;
  for (Eigen::Index k = 0; k < n; ++k) {
    positive += std::max(result.eigenvalues(k), 0.0);
    if (k < dims) top += std::max(result.eigenvalues(k), 0.0);
  }
  for (int k = 0; k < dims; ++k) {
    Eigen::VectorXd v = solver.eigenvectors().col(n - 1 - k);
    Eigen::Index largest = 0;
    for (Eigen::Index i = 1; i < n; ++i) {
      if (std::abs(v(i)) > std::abs(v(largest))) largest = i;
    }
    if (v(largest) < 0) v = -v;
    result.coords.col(k) = std::sqrt(std::max(result.eigenvalues(k), 0.0)) * v;
  }
  result.explained = positive > 0 ? top / positive : NAN;
  return result;
}

REGISTER_PROBE("mds", MdsProbe::Create);

}  // namespace replearn
