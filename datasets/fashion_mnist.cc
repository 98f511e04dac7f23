// Fashion-MNIST from the IDX files of Debian's dataset-fashion-mnist; options at
// FashionMnistDataSpec in proto/experiment.proto. Example spec:
//   dataset { fashion_mnist { classes: [0, 6] max_train: 2000 } }
#include <string>

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "datasets/dataset.h"
#include "datasets/image_dataset.h"

namespace replearn {
namespace {

absl::StatusOr<Dataset> CreateFashionMnist(const DatasetSpec& spec, const DatasetContext& ctx) {
  const FashionMnistDataSpec& f = spec.fashion_mnist();
  ImageOptions options;
  options.field = "dataset.fashion_mnist";
  options.mean = f.mean();
  options.std = f.std();
  options.one_hot = f.one_hot();
  options.classes.assign(f.classes().begin(), f.classes().end());
  options.max_train = f.max_train();
  options.max_test = f.max_test();
  const std::string& dir = f.dir();
  const absl::Status dir_status = CheckDataDir(
      options, dir,
      dir == FashionMnistDataSpec().dir()
          ? "run tools/setup.sh, which installs Debian's dataset-fashion-mnist there"
          : absl::StrCat("expected a folder of Fashion-MNIST IDX files (tools/setup.sh installs ",
                         "Debian's dataset-fashion-mnist into ", FashionMnistDataSpec().dir(),
                         ")"));
  if (const absl::Status status = ValidateImageOptions(options); !status.ok()) {
    // Every problem at once: the folder too.
    return absl::InvalidArgumentError(
        dir_status.ok() ? std::string(status.message())
                        : absl::StrCat(status.message(), " ", dir_status.message()));
  }
  RETURN_IF_ERROR(dir_status);
  return LoadIdxImageDataset(dir, options, ctx.seed);
}

}  // namespace

REGISTER_DATASET("fashion_mnist", CreateFashionMnist);

}  // namespace replearn
