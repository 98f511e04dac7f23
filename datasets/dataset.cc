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
  return data;
}

}  // namespace replearn
