#include "datasets/dataset.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/oneof.h"
#include "core/status_macros.h"

namespace replearn {

Registry<DatasetFactory>& DatasetRegistry() {
  static auto* registry = new Registry<DatasetFactory>("dataset");
  return *registry;
}

absl::StatusOr<Dataset> CreateDataset(const DatasetSpec& spec, const DatasetContext& ctx) {
  const std::string arm = SetOneofArm(spec);
  if (arm.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("dataset: no dataset set; expected one of [",
                     absl::StrJoin(OneofArms(DatasetSpec::descriptor()), ", "), "]"));
  }
  ASSIGN_OR_RETURN(const DatasetFactory* factory, DatasetRegistry().Find(arm));
  ASSIGN_OR_RETURN(Dataset data, (*factory)(spec, ctx));
  if (data.size() == 0 || data.y.rows() != data.x.rows()) {
    return absl::InternalError(absl::StrCat("dataset.", arm, ": plugin returned ", data.x.rows(),
                                            " inputs and ", data.y.rows(), " targets"));
  }
  const bool has_test = data.x_test.size() > 0 || data.y_test.size() > 0;
  if (has_test && (data.x_test.rows() != data.y_test.rows() ||
                   data.x_test.cols() != data.x.cols() || data.y_test.cols() != data.y.cols())) {
    return absl::InternalError(
        absl::StrCat("dataset.", arm, ": plugin returned test inputs [", data.x_test.rows(), ", ",
                     data.x_test.cols(), "] and test targets [", data.y_test.rows(), ", ",
                     data.y_test.cols(), "] for training data [", data.x.rows(), ", ",
                     data.x.cols(), "] -> [", data.y.rows(), ", ", data.y.cols(), "]"));
  }
  if (!data.labels.empty() && static_cast<int>(data.labels.size()) != data.size()) {
    return absl::InternalError(absl::StrCat("dataset.", arm, ": plugin returned ",
                                            data.labels.size(), " labels for ", data.size(),
                                            " examples"));
  }
  if (static_cast<int>(data.test_labels.size()) != (data.labels.empty() ? 0 : data.test_size())) {
    return absl::InternalError(absl::StrCat(
        "dataset.", arm, ": plugin returned ", data.test_labels.size(), " test labels for ",
        data.test_size(), " test examples and ", data.labels.size(), " training labels"));
  }
  return data;
}

}  // namespace replearn
