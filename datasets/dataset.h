// The dataset plugin interface. A dataset is a set of examples held in memory as f32
// row-major matrices: inputs x [n, input_dim] and targets y [n, output_dim].
//
// Adding a plugin: an options message as an arm of DatasetSpec.kind in
// experiments/experiment.proto, one .cc with REGISTER_DATASET("arm_name", Factory) in an
// alwayslink cc_library, and that library in //datasets:all.
#ifndef REPLEARN_DATASETS_DATASET_H_
#define REPLEARN_DATASETS_DATASET_H_

#include <cstdint>
#include <functional>
#include <string>

#include "Eigen/Core"
#include "absl/status/statusor.h"
#include "core/registry.h"
#include "experiments/experiment.pb.h"

namespace replearn {

using MatrixRM = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

struct Dataset {
  MatrixRM x;  // [n, input_dim]
  MatrixRM y;  // [n, output_dim]
  int size() const { return static_cast<int>(x.rows()); }
  int input_dim() const { return static_cast<int>(x.cols()); }
  int output_dim() const { return static_cast<int>(y.cols()); }
};

struct DatasetContext {
  uint64_t seed = 0;  // for datasets with random parts (splits, noise)
};

using DatasetFactory =
    std::function<absl::StatusOr<Dataset>(const DatasetSpec&, const DatasetContext&)>;

Registry<DatasetFactory>& DatasetRegistry();

// Builds the dataset of spec's oneof arm; errors as CreateArchitecture's.
absl::StatusOr<Dataset> CreateDataset(const DatasetSpec& spec, const DatasetContext& ctx);

}  // namespace replearn

#define REGISTER_DATASET(name, factory) \
  REPLEARN_REGISTER(::replearn::DatasetRegistry, name, factory)

#endif  // REPLEARN_DATASETS_DATASET_H_
