// The dataset plugin interface. A dataset is a set of examples held in memory as f32
// row-major matrices: inputs x [n, input_dim] and targets y [n, output_dim].
//
// Plugins, their options and where their data lives: datasets/README.md.
// Adding a plugin: an options message as an arm of DatasetSpec.kind in
// proto/experiment.proto, one .cc with REGISTER_DATASET("arm_name", Factory) in an
// alwayslink cc_library, and that library in //datasets:all.
#ifndef REPLEARN_DATASETS_DATASET_H_
#define REPLEARN_DATASETS_DATASET_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "Eigen/Core"
#include "absl/status/statusor.h"
#include "core/registry.h"
#include "proto/experiment.pb.h"

namespace replearn {

using MatrixRM = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

struct Dataset {
  MatrixRM x;  // [n, input_dim], the training inputs
  MatrixRM y;  // [n, output_dim], the training targets
  // Held-out examples, never trained on: [n_test, input_dim] and [n_test, output_dim].
  // 0 x 0 when the dataset has no test split (two_point, xor, context).
  MatrixRM x_test;
  MatrixRM y_test;
  // Class index of each row of x and of x_test, in 0 .. num_classes - 1. With one-hot
  // targets the index is the column of the 1: y(i, labels[i]) = 1. Empty for datasets
  // without classes (two_point, context); otherwise labels.size() == size() and
  // test_labels.size() == test_size().
  std::vector<int> labels;
  std::vector<int> test_labels;
  int size() const { return static_cast<int>(x.rows()); }
  int test_size() const { return static_cast<int>(x_test.rows()); }
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
