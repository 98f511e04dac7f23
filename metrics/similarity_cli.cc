// Prints every similarity measure (metrics/similarity.h) of two representations stored as
// 2-D float32/float64 .npy files with one row per example:
//   similarity_cli X.npy Y.npy [k]
// One line per measure, "<name> <value>" with 17 significant digits, in
// kAllSimilarityMeasures order; k is mutual_knn's (default 10). On an error it prints the
// message to stderr and exits 1. The numpy oracle test (similarity_oracle_test.py) drives it.
#include <cstdio>
#include <string>
#include <vector>

#include "Eigen/Core"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/npy.h"
#include "core/status_macros.h"
#include "metrics/similarity.h"

namespace replearn {
namespace {

absl::StatusOr<Eigen::MatrixXd> ReadMatrix(const std::string& path) {
  ASSIGN_OR_RETURN(const NpyArray array, ReadNpy(path));
  if (array.shape.size() != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": shape ", ShapeString(array.shape),
                     "; expected a 2-D matrix (examples x features)"));
  }
  const std::vector<double> values = array.ToDoubles();
  return Eigen::MatrixXd(
      Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
          values.data(), array.shape[0], array.shape[1]));
}

absl::Status Run(int argc, char** argv) {
  if (argc != 3 && argc != 4) {
    return absl::InvalidArgumentError("usage: similarity_cli X.npy Y.npy [k]");
  }
  SimilarityOptions options;
  if (argc == 4 && !absl::SimpleAtoi(argv[3], &options.knn_k)) {
    return absl::InvalidArgumentError(absl::StrCat("k = \"", argv[3], "\"; expected an integer"));
  }
  ASSIGN_OR_RETURN(const Eigen::MatrixXd x, ReadMatrix(argv[1]));
  ASSIGN_OR_RETURN(const Eigen::MatrixXd y, ReadMatrix(argv[2]));
  for (SimilarityMeasure measure : kAllSimilarityMeasures) {
    ASSIGN_OR_RETURN(const double value, ComputeSimilarity(measure, x, y, options));
    const std::string name(SimilarityMeasureName(measure));
    std::printf("%s %.17g\n", name.c_str(), value);
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace replearn

int main(int argc, char** argv) {
  const absl::Status status = replearn::Run(argc, argv);
  if (!status.ok()) {
    std::fprintf(stderr, "similarity_cli: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
