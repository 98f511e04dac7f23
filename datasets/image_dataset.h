// Shared parts of the MNIST-style image-classification datasets (mnist, fashion_mnist):
// option checks, class selection, seeded subsets, normalisation, targets, and loading a
// folder of IDX files.
//
// Inputs: one row per image, its pixels in file order (row-major), each
//   x = (p - mean) / std,
// with p the pixel intensity in [0, 1]: an IDX byte / 255, or a JSON digit value as stored.
// Classes: `classes` selects the classes and orders them (empty = all, ascending). An
// image's class index is the position of its class in that order, so with all classes it
// is the class itself. Targets: with one_hot, the row e_{class index} of width
// |classes| (10 when all are used); otherwise one column holding the class index.
// Dataset.labels and test_labels hold the class indices.
#ifndef REPLEARN_DATASETS_IMAGE_DATASET_H_
#define REPLEARN_DATASETS_IMAGE_DATASET_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/rng.h"
#include "datasets/dataset.h"

namespace replearn {

struct ImageOptions {
  std::string field;     // the options' spec path for messages, e.g. "dataset.mnist"
  int num_classes = 10;  // classes of the data set; labels must be below this
  double mean = 0.0;
  double std = 1.0;
  bool one_hot = true;
  std::vector<int> classes;  // empty = all
  int64_t max_train = 0;     // 0 = all
  int64_t max_test = 0;      // 0 = all
};

// Every problem with mean, std, classes, max_train and max_test at once, as one
// InvalidArgumentError naming each field ("dataset.mnist.std = 0; must be > 0").
absl::Status ValidateImageOptions(const ImageOptions& options);

// The classes in target order: options.classes, or 0 .. num_classes - 1 when it is empty.
std::vector<int> SelectedClasses(const ImageOptions& options);

// For each class c in 0 .. num_classes - 1, its class index; -1 when c is not selected.
std::vector<int> ClassIndexTable(const ImageOptions& options);

// k of `indices` drawn uniformly without replacement (a partial Fisher-Yates shuffle
// driven by rng), returned in their original order; all of them when k == 0 or
// k >= indices.size().
std::vector<int64_t> RandomSubset(const std::vector<int64_t>& indices, int64_t k, Rng& rng);

// x gets one normalised row per entry of `indices`, image indices into a pixel array of
// pixels_per_image values per image: p = byte / 255 for uint8 data, p = value for floats.
void FillImageRows(const uint8_t* bytes, int pixels_per_image, const std::vector<int64_t>& indices,
                   const ImageOptions& options, MatrixRM* x);
void FillImageRows(const float* values, int pixels_per_image, const std::vector<int64_t>& indices,
                   const ImageOptions& options, MatrixRM* x);

// y for the given class indices: one-hot rows of width |SelectedClasses| or one column.
void FillTargets(const std::vector<int>& class_indices, const ImageOptions& options, MatrixRM* y);

// OkStatus when `dir` is a directory; else NotFoundError
// "<field>.dir = <dir>: no such directory; <hint>".
absl::Status CheckDataDir(const ImageOptions& options, const std::string& dir,
                          absl::string_view hint);

// The dataset in an IDX folder: train-images-idx3-ubyte, train-labels-idx1-ubyte,
// t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, each plain or `.gz`. Training rows
// are the training files' images of the selected classes in file order; when max_train >
// 0 and more remain, a seeded random subset of max_train of them (RandomSubset, stream 1
// of `seed`), still in file order. The t10k files give the test split the same way
// (max_test, stream 2). Errors are prefixed "<field>.dir = <dir>: " and name the file.
absl::StatusOr<Dataset> LoadIdxImageDataset(const std::string& dir, const ImageOptions& options,
                                            uint64_t seed);

}  // namespace replearn

#endif  // REPLEARN_DATASETS_IMAGE_DATASET_H_
