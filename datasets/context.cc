// The paper's context-dependent ("orthogonal") task; the construction is documented at
// ContextDataSpec in proto/experiment.proto. Example spec:
//   dataset { context { grid_size: 30 blob_width: 1.0 image_size: 5 } }
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "datasets/dataset.h"

namespace replearn {
namespace {

// -1 + 2 k / (n - 1) for k = 0 .. n - 1 (numpy's linspace(-1, 1, n)).
std::vector<double> Linspace(int n) {
  std::vector<double> v(n);
  for (int k = 0; k < n; ++k) v[k] = -1.0 + 2.0 * k / (n - 1);
  return v;
}

absl::StatusOr<Dataset> CreateContext(const DatasetSpec& spec, const DatasetContext&) {
  const ContextDataSpec& cs = spec.context();
  std::string problems;
  if (cs.grid_size() < 2) {
    absl::StrAppend(&problems, "dataset.context.grid_size = ", cs.grid_size(), "; must be >= 2. ");
  }
  if (!(cs.blob_width() > 0) || !std::isfinite(cs.blob_width())) {
    absl::StrAppend(&problems, "dataset.context.blob_width = ", cs.blob_width(),
                    "; must be > 0 and finite. ");
  }
  if (cs.image_size() < 2) {
    absl::StrAppend(&problems, "dataset.context.image_size = ", cs.image_size(),
                    "; must be >= 2. ");
  }
  // In double: the product of two int32 squares overflows int64.
  const double values = 2.0 * cs.grid_size() * cs.grid_size() *
                        (static_cast<double>(cs.image_size()) * cs.image_size() + 2);
  constexpr int64_t kMaxValues = int64_t{1} << 28;  // 1 GiB of float inputs
  if (problems.empty() && values > kMaxValues) {
    absl::StrAppend(&problems, "dataset.context.grid_size = ", cs.grid_size(),
                    " and dataset.context.image_size = ", cs.image_size(), " make 2 x ",
                    cs.grid_size(), "^2 examples of ", cs.image_size(),
                    "^2 + 2 inputs = ", absl::StrFormat("%.0f", values),
                    " values; must be <= ", kMaxValues, " (1 GiB). ");
  }
  if (!problems.empty()) {
    problems.pop_back();
    return absl::InvalidArgumentError(problems);
  }
  const int grid = cs.grid_size();
  const int side = cs.image_size();
  const int pixels = side * side;
  const std::vector<double> centres = Linspace(grid);
  const std::vector<double> u = Linspace(side);
  const double two_var = 2.0 * cs.blob_width() * cs.blob_width();

  Dataset data;
  data.x.setZero(2 * grid * grid, pixels + 2);
  data.y.resize(2 * grid * grid, 1);
  std::vector<double> blob(pixels);
  for (int i = 0; i < grid; ++i) {
    for (int j = 0; j < grid; ++j) {
      const double cx = centres[i], cy = centres[j];
      for (int r = 0; r < side; ++r) {
        for (int c = 0; c < side; ++c) {
          blob[r * side + c] = (u[c] - cx) * (u[c] - cx) + (u[r] - cy) * (u[r] - cy);
        }
      }
      // Shifting by the nearest pixel's distance cancels in the normalisation and keeps a
      // narrow blob from underflowing to 0 / 0.
      const double d2_min = *std::min_element(blob.begin(), blob.end());
      double sum = 0;
      for (double& b : blob) {
        b = std::exp(-(b - d2_min) / two_var);
        sum += b;
      }
      for (int ctx = 0; ctx < 2; ++ctx) {
        const int row = ctx * grid * grid + i * grid + j;
        for (int k = 0; k < pixels; ++k) data.x(row, k) = static_cast<float>(blob[k] / sum);
        data.x(row, pixels + ctx) = 1.0f;
        data.y(row, 0) = static_cast<float>(ctx == 0 ? cx : cy);
      }
    }
  }
  return data;
}

}  // namespace

REGISTER_DATASET("context", CreateContext);

}  // namespace replearn
