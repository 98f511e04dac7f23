// The paper's two-point dataset (docs/theory.md section 7). Example spec:
//   dataset { two_point { dx2: 1.0 dy2: 0.5 input_dim: 1 output_dim: 1 } }
#include <cmath>

#include "absl/strings/str_cat.h"
#include "datasets/dataset.h"

namespace replearn {
namespace {

absl::StatusOr<Dataset> CreateTwoPoint(const DatasetSpec& spec, const DatasetContext&) {
  const TwoPointDataSpec& tp = spec.two_point();
  std::string problems;
  if (!(tp.dx2() > 0) || !std::isfinite(tp.dx2())) {
    absl::StrAppend(&problems, "dataset.two_point.dx2 = ", tp.dx2(), "; must be > 0. ");
  }
  if (!(tp.dy2() >= 0) || !std::isfinite(tp.dy2())) {
    absl::StrAppend(&problems, "dataset.two_point.dy2 = ", tp.dy2(), "; must be >= 0. ");
  }
  // Two points of a larger dimension would only test the machine's memory: the first dense
  // layer alone would hold kMaxDim x width parameters.
  constexpr int kMaxDim = 1 << 24;
  if (tp.input_dim() < 1 || tp.input_dim() > kMaxDim) {
    absl::StrAppend(&problems, "dataset.two_point.input_dim = ", tp.input_dim(), "; must be in 1..",
                    kMaxDim, ". ");
  }
  if (tp.output_dim() < 1 || tp.output_dim() > kMaxDim) {
    absl::StrAppend(&problems, "dataset.two_point.output_dim = ", tp.output_dim(),
                    "; must be in 1..", kMaxDim, ". ");
  }
  if (!problems.empty()) {
    problems.pop_back();
    return absl::InvalidArgumentError(problems);
  }
  const double sx = std::sqrt(static_cast<double>(tp.input_dim()));
  const double sy = std::sqrt(static_cast<double>(tp.output_dim()));
  Dataset data;
  data.x.resize(2, tp.input_dim());
  data.y.resize(2, tp.output_dim());
  data.x.row(0).setConstant(static_cast<float>(-1.0 / sx));
  data.x.row(1).setConstant(static_cast<float>((-1.0 + std::sqrt(tp.dx2())) / sx));
  data.y.row(0).setConstant(static_cast<float>(0.6 / sy));
  data.y.row(1).setConstant(static_cast<float>((0.6 + std::sqrt(tp.dy2())) / sy));
  return data;
}

}  // namespace

REGISTER_DATASET("two_point", CreateTwoPoint);

}  // namespace replearn
