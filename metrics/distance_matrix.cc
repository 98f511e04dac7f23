// The distance_matrix probe. Example specs:
//   probe { distance_matrix { examples { count: 4 } layers: [10] steps: [100] at_end: true } }
//   probe { distance_matrix { examples { per_class: 10 } layers: [2] every: 1000 } }
#include "metrics/distance_matrix.h"

#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/csv.h"
#include "core/file_util.h"
#include "core/npy.h"
#include "core/status_macros.h"
#include "glog/logging.h"
#include "metrics/probe.h"
#include "metrics/probe_set.h"
#include "theory/closed_form.h"

namespace replearn {
namespace {

constexpr char kField[] = "probe.distance_matrix";

std::string MatrixCsv(const Eigen::MatrixXd& m) {
  std::string out;
  out.reserve(static_cast<size_t>(m.size()) * 14);
  for (int i = 0; i < m.rows(); ++i) {
    for (int j = 0; j < m.cols(); ++j) {
      absl::StrAppend(&out, j > 0 ? "," : "", std::isnan(m(i, j)) ? "nan" : FormatDouble(m(i, j)));
    }
    out.push_back('\n');
  }
  return out;
}

// Mean off-diagonal distance over all pairs, and over pairs with equal / different labels
// (NaN where there is no such pair).
struct PairMeans {
  double all = NAN, within = NAN, between = NAN;
};

PairMeans MeanDistances(const Eigen::MatrixXd& d, const std::vector<int>& labels) {
  double sums[3] = {0, 0, 0};
  int64_t counts[3] = {0, 0, 0};
  for (int i = 0; i < d.rows(); ++i) {
    for (int j = i + 1; j < d.cols(); ++j) {
      sums[0] += d(i, j);
      ++counts[0];
      if (!labels.empty()) {
        const int k = labels[i] == labels[j] ? 1 : 2;
        sums[k] += d(i, j);
        ++counts[k];
      }
    }
  }
  PairMeans m;
  if (counts[0] > 0) m.all = sums[0] / counts[0];
  if (counts[1] > 0) m.within = sums[1] / counts[1];
  if (counts[2] > 0) m.between = sums[2] / counts[2];
  return m;
}

class DistanceMatrixProbe final : public Probe {
 public:
  static absl::StatusOr<std::unique_ptr<Probe>> Create(const ProbeSpec& spec,
                                                       const ProbeBuildContext& ctx) {
    const DistanceMatrixProbeSpec& dm = spec.distance_matrix();
    std::vector<std::string> problems;
    auto set = ResolveProbeSet(dm.examples(), *ctx.data, absl::StrCat(kField, ".examples"));
    if (!set.ok()) problems.emplace_back(set.status().message());
    std::vector<int> layers = ResolveLayers(dm.layers(), ctx.net->num_hidden(),
                                            absl::StrCat(kField, ".layers"), problems);
    const StepSchedule schedule =
        StepSchedule::Create(dm.steps(), dm.every(), dm.at_end(), kField, problems);
    if (!(dm.eta_ratio() >= 0) || !std::isfinite(dm.eta_ratio())) {
      problems.push_back(absl::StrCat(kField, ".eta_ratio = ", dm.eta_ratio(),
                                      "; must be a finite eta_h / eta_y > 0, or 0 for no "
                                      "[FINAL] prediction"));
    }
    if (!problems.empty()) return absl::InvalidArgumentError(absl::StrJoin(problems, "\n"));
    auto probe = std::unique_ptr<DistanceMatrixProbe>(new DistanceMatrixProbe());
    probe->set_ = *std::move(set);
    probe->layers_ = std::move(layers);
    probe->schedule_ = schedule;
    probe->output_ = dm.output();
    probe->eta_ratio_ = dm.eta_ratio();
    return std::unique_ptr<Probe>(std::move(probe));
  }

  bool ObservesStep(int64_t step, int64_t last_step) const override {
    return schedule_.Observes(step, last_step);
  }

  absl::Status Observe(int64_t step, ProbeContext& ctx, CurveLog& log) override {
    const std::string& dir = ctx.out_dir;
    if (dir.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat(kField,
                       ": no run folder to write into (ProbeContext::out_dir is empty); run the "
                       "experiment with RunExperiment or set TrainOptions::out_dir"));
    }
    const int n = set_.size();
    if (step == 0) RETURN_IF_ERROR(WriteStart(dir));
    ASSIGN_OR_RETURN(const Architecture* net, ctx.EvalForward(set_.forward_x(), n));
    for (int layer : layers_) {
      const Tap tap = net->hidden(layer);
      Eigen::MatrixXd d = PairwiseDistances(tap.data, n, tap.dim);
      RETURN_IF_ERROR(WriteMatrixFiles(dir, DistanceMatrixStem(absl::StrCat(layer), step), d));
      const PairMeans m = MeanDistances(d, set_.labels);
      log.Add(step, layer, "dm_mean", m.all);
      if (std::isfinite(m.within)) log.Add(step, layer, "dm_within_class", m.within);
      if (std::isfinite(m.between)) log.Add(step, layer, "dm_between_class", m.between);
      if (step == 0) initial_hidden_[layer] = std::move(d);
    }
    if (output_ || step == 0) {
      Eigen::MatrixXd d = PairwiseDistances(net->output(), n, net->output_dim());
      RETURN_IF_ERROR(WriteMatrixFiles(dir, DistanceMatrixStem("output", step), d));
      if (output_) {
        const PairMeans m = MeanDistances(d, set_.labels);
        log.Add(step, -1, "dm_output_mean", m.all);
        if (std::isfinite(m.within)) log.Add(step, -1, "dm_output_within_class", m.within);
        if (std::isfinite(m.between)) log.Add(step, -1, "dm_output_between_class", m.between);
      }
      if (step == 0 && eta_ratio_ > 0) {
        for (int layer : layers_) {
          RETURN_IF_ERROR(WriteMatrixFiles(
              dir, PredictedDistanceMatrixStem(absl::StrCat(layer)),
              PredictFinalDistances(initial_hidden_[layer], d, dx_, dy_star_, eta_ratio_)));
        }
      }
    }
    return absl::OkStatus();
  }

 private:
  DistanceMatrixProbe() = default;

  // The input and target matrices and the example list.
  absl::Status WriteStart(const std::string& dir) {
    const int n = set_.size();
    dx_ = PairwiseDistances(set_.x.data(), n, static_cast<int>(set_.x.cols()));
    dy_star_ = PairwiseDistances(set_.y.data(), n, static_cast<int>(set_.y.cols()));
    RETURN_IF_ERROR(WriteMatrixFiles(dir, "distance_matrix_input", dx_));
    RETURN_IF_ERROR(WriteMatrixFiles(dir, "distance_matrix_target", dy_star_));
    std::vector<std::string> header = {"position", "index"};
    if (!set_.labels.empty()) header.push_back("label");
    CsvWriter csv(header);
    for (int k = 0; k < n; ++k) {
      std::vector<std::string> row = {absl::StrCat(k), absl::StrCat(set_.indices[k])};
      if (!set_.labels.empty()) row.push_back(absl::StrCat(set_.labels[k]));
      csv.AddRow(row);
    }
    return WriteFileAtomically(JoinPath(dir, "distance_matrix_examples.csv"), csv.contents());
  }

  ProbeSet set_;
  std::vector<int> layers_;
  StepSchedule schedule_;
  bool output_ = true;
  double eta_ratio_ = 0;
  Eigen::MatrixXd dx_, dy_star_;
  std::map<int, Eigen::MatrixXd> initial_hidden_;
};

}  // namespace

std::string DistanceMatrixStem(absl::string_view layer_name, int64_t step) {
  return absl::StrCat("distance_matrix_", layer_name, "_step", step);
}

std::string PredictedDistanceMatrixStem(absl::string_view layer_name) {
  return absl::StrCat("distance_matrix_", layer_name, "_predicted");
}

absl::Status WriteMatrixFiles(const std::string& dir, const std::string& stem,
                              const Eigen::MatrixXd& matrix) {
  const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> c_order = matrix;
  RETURN_IF_ERROR(
      WriteNpy(JoinPath(dir, stem + ".npy"),
               NpyArray::Float64({c_order.rows(), c_order.cols()},
                                 {c_order.data(), static_cast<size_t>(c_order.size())})));
  return WriteFileAtomically(JoinPath(dir, stem + ".csv"), MatrixCsv(matrix));
}

absl::StatusOr<Eigen::MatrixXd> ReadMatrixNpy(const std::string& path) {
  ASSIGN_OR_RETURN(const NpyArray array, ReadNpy(path));
  if (array.shape.size() != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": shape ", ShapeString(array.shape), "; expected a 2-D matrix"));
  }
  const std::vector<double> values = array.ToDoubles();
  return Eigen::MatrixXd(
      Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
          values.data(), array.shape[0], array.shape[1]));
}

Eigen::MatrixXd PredictFinalDistances(const Eigen::MatrixXd& dh0, const Eigen::MatrixXd& dy0,
                                      const Eigen::MatrixXd& dx, const Eigen::MatrixXd& dy_star,
                                      double ratio) {
  const Eigen::Index n = dh0.rows();
  for (const Eigen::MatrixXd* m : {&dh0, &dy0, &dx, &dy_star}) {
    CHECK(m->rows() == n && m->cols() == n) << "distance matrices of different shapes";
  }
  Eigen::MatrixXd out = Eigen::MatrixXd::Zero(n, n);
  for (Eigen::Index i = 0; i < n; ++i) {
    for (Eigen::Index j = 0; j < n; ++j) {
      if (i == j) continue;
      out(i, j) = dx(i, j) == 0
                      ? dh0(i, j)
                      : FinalDistance(dh0(i, j), dy0(i, j), dx(i, j), dy_star(i, j), ratio);
    }
  }
  return out;
}

absl::StatusOr<Eigen::MatrixXd> PredictFinalFromRun(const std::string& dir, int layer,
                                                    double ratio) {
  if (!(ratio > 0) || !std::isfinite(ratio)) {
    return absl::InvalidArgumentError(
        absl::StrCat("eta_h / eta_y = ", ratio, "; [FINAL] needs a finite ratio > 0"));
  }
  const std::string name = absl::StrCat(layer);
  Eigen::MatrixXd m[4];
  const std::string stems[4] = {DistanceMatrixStem(name, 0), DistanceMatrixStem("output", 0),
                                "distance_matrix_input", "distance_matrix_target"};
  for (int k = 0; k < 4; ++k) {
    ASSIGN_OR_RETURN(m[k], ReadMatrixNpy(JoinPath(dir, stems[k] + ".npy")));
    if (m[k].rows() != m[0].rows() || m[k].cols() != m[0].rows()) {
      return absl::InvalidArgumentError(absl::StrCat(
          JoinPath(dir, stems[k] + ".npy"), ": shape [", m[k].rows(), ", ", m[k].cols(),
          "]; expected [", m[0].rows(), ", ", m[0].rows(), "] as ", stems[0], ".npy"));
    }
  }
  Eigen::MatrixXd predicted = PredictFinalDistances(m[0], m[1], m[2], m[3], ratio);
  RETURN_IF_ERROR(WriteMatrixFiles(dir, PredictedDistanceMatrixStem(name), predicted));
  return predicted;
}

REGISTER_PROBE("distance_matrix", DistanceMatrixProbe::Create);

}  // namespace replearn
