#include "datasets/image_dataset.h"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/status_macros.h"
#include "datasets/idx.h"

namespace replearn {
namespace {

constexpr uint64_t kTrainSubsetStream = 1;
constexpr uint64_t kTestSubsetStream = 2;

absl::Status WithPrefix(const absl::Status& status, absl::string_view prefix) {
  return absl::Status(status.code(), absl::StrCat(prefix, status.message()));
}

template <typename T>
void FillRows(const T* data, double scale, int pixels_per_image,
              const std::vector<int64_t>& indices, const ImageOptions& options, MatrixRM* x) {
  x->resize(static_cast<Eigen::Index>(indices.size()), pixels_per_image);
  const double inv_std = 1.0 / options.std;
  for (size_t row = 0; row < indices.size(); ++row) {
    const T* image = data + indices[row] * pixels_per_image;
    float* out = x->row(static_cast<Eigen::Index>(row)).data();
    for (int k = 0; k < pixels_per_image; ++k) {
      out[k] = static_cast<float>((static_cast<double>(image[k]) * scale - options.mean) * inv_std);
    }
  }
}

struct Split {
  MatrixRM x, y;
  std::vector<int> labels;
};

// One IDX split (images + labels files) -> the selected, subsampled rows. `shape` is empty
// (rows 0) for the training split, which must keep at least one image, and records its
// image size; the test split must have the same.
absl::StatusOr<Split> LoadIdxSplit(const std::string& dir, absl::string_view prefix,
                                   const ImageOptions& options, int64_t max, Rng& rng,
                                   IdxImages* shape) {
  ASSIGN_OR_RETURN(const std::string images_path,
                   FindIdxFile(dir, absl::StrCat(prefix, "-images-idx3-ubyte")));
  ASSIGN_OR_RETURN(const std::string labels_path,
                   FindIdxFile(dir, absl::StrCat(prefix, "-labels-idx1-ubyte")));
  ASSIGN_OR_RETURN(IdxLabelledImages data, ReadIdxLabelledImages(images_path, labels_path));
  if (shape->rows > 0 && (data.images.rows != shape->rows || data.images.cols != shape->cols)) {
    return absl::InvalidArgumentError(
        absl::StrCat(images_path, ": images of ", data.images.rows, " x ", data.images.cols,
                     "; expected the training images' ", shape->rows, " x ", shape->cols));
  }
  const std::vector<int> table = ClassIndexTable(options);
  std::vector<int64_t> selected;
  for (size_t i = 0; i < data.labels.size(); ++i) {
    const int label = data.labels[i];
    if (label >= options.num_classes) {
      return absl::InvalidArgumentError(absl::StrCat(labels_path, ": label ", label, " of example ",
                                                     i, "; expected 0 .. ",
                                                     options.num_classes - 1));
    }
    if (table[label] >= 0) selected.push_back(static_cast<int64_t>(i));
  }
  if (shape->rows == 0 && selected.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        images_path, ": no images of classes [", absl::StrJoin(SelectedClasses(options), ", "),
        "] among its ", data.images.count, "; expected at least one to train on"));
  }
  const std::vector<int64_t> chosen = RandomSubset(selected, max, rng);
  Split split;
  FillImageRows(data.images.pixels.data(), data.images.pixels_per_image(), chosen, options,
                &split.x);
  for (const int64_t i : chosen) split.labels.push_back(table[data.labels[i]]);
  FillTargets(split.labels, options, &split.y);
  if (shape->rows == 0) {
    shape->rows = data.images.rows;
    shape->cols = data.images.cols;
  }
  return split;
}

}  // namespace

absl::Status ValidateImageOptions(const ImageOptions& o) {
  std::string problems;
  if (!std::isfinite(o.mean)) {
    absl::StrAppend(&problems, o.field, ".mean = ", o.mean, "; must be finite. ");
  }
  if (!(o.std > 0) || !std::isfinite(o.std)) {
    absl::StrAppend(&problems, o.field, ".std = ", o.std, "; must be > 0 and finite. ");
  }
  std::vector<int> first_seen(o.num_classes, -1);
  for (size_t i = 0; i < o.classes.size(); ++i) {
    const int c = o.classes[i];
    if (c < 0 || c >= o.num_classes) {
      absl::StrAppend(&problems, o.field, ".classes[", i, "] = ", c, "; must be in 0 .. ",
                      o.num_classes - 1, ". ");
    } else if (first_seen[c] >= 0) {
      absl::StrAppend(&problems, o.field, ".classes[", i, "] = ", c, " repeats classes[",
                      first_seen[c], "]; each class may appear once. ");
    } else {
      first_seen[c] = static_cast<int>(i);
    }
  }
  if (o.max_train < 0) {
    absl::StrAppend(&problems, o.field, ".max_train = ", o.max_train, "; must be >= 0 (0 = all). ");
  }
  if (o.max_test < 0) {
    absl::StrAppend(&problems, o.field, ".max_test = ", o.max_test, "; must be >= 0 (0 = all). ");
  }
  if (problems.empty()) return absl::OkStatus();
  problems.pop_back();
  return absl::InvalidArgumentError(problems);
}

std::vector<int> SelectedClasses(const ImageOptions& options) {
  if (!options.classes.empty()) return options.classes;
  std::vector<int> all(options.num_classes);
  for (int c = 0; c < options.num_classes; ++c) all[c] = c;
  return all;
}

std::vector<int> ClassIndexTable(const ImageOptions& options) {
  std::vector<int> table(options.num_classes, -1);
  const std::vector<int> selected = SelectedClasses(options);
  for (size_t i = 0; i < selected.size(); ++i) table[selected[i]] = static_cast<int>(i);
  return table;
}

std::vector<int64_t> RandomSubset(const std::vector<int64_t>& indices, int64_t k, Rng& rng) {
  const int64_t n = static_cast<int64_t>(indices.size());
  if (k == 0 || k >= n) return indices;
  // Partial Fisher-Yates over positions; sorting the chosen positions restores the order.
  std::vector<int64_t> positions(n);
  for (int64_t i = 0; i < n; ++i) positions[i] = i;
  for (int64_t i = 0; i < k; ++i) {
    const int64_t j = i + static_cast<int64_t>(rng.UniformInt(static_cast<uint64_t>(n - i)));
    std::swap(positions[i], positions[j]);
  }
  positions.resize(k);
  std::sort(positions.begin(), positions.end());
  std::vector<int64_t> out(k);
  for (int64_t i = 0; i < k; ++i) out[i] = indices[positions[i]];
  return out;
}

void FillImageRows(const uint8_t* bytes, int pixels_per_image, const std::vector<int64_t>& indices,
                   const ImageOptions& options, MatrixRM* x) {
  FillRows(bytes, 1.0 / 255.0, pixels_per_image, indices, options, x);
}

void FillImageRows(const float* values, int pixels_per_image, const std::vector<int64_t>& indices,
                   const ImageOptions& options, MatrixRM* x) {
  FillRows(values, 1.0, pixels_per_image, indices, options, x);
}

void FillTargets(const std::vector<int>& class_indices, const ImageOptions& options, MatrixRM* y) {
  const Eigen::Index n = static_cast<Eigen::Index>(class_indices.size());
  if (options.one_hot) {
    y->setZero(n, static_cast<Eigen::Index>(SelectedClasses(options).size()));
    for (Eigen::Index i = 0; i < n; ++i) (*y)(i, class_indices[i]) = 1.0f;
  } else {
    y->resize(n, 1);
    for (Eigen::Index i = 0; i < n; ++i) (*y)(i, 0) = static_cast<float>(class_indices[i]);
  }
}

absl::Status CheckDataDir(const ImageOptions& options, const std::string& dir,
                          absl::string_view hint) {
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return absl::OkStatus();
  return absl::NotFoundError(
      absl::StrCat(options.field, ".dir = ", dir, ": no such directory; ", hint));
}

absl::StatusOr<Dataset> LoadIdxImageDataset(const std::string& dir, const ImageOptions& options,
                                            uint64_t seed) {
  const std::string prefix = absl::StrCat(options.field, ".dir = ", dir, ": ");
  IdxImages shape;
  Rng train_rng(Rng::DeriveSeed(seed, kTrainSubsetStream));
  absl::StatusOr<Split> train =
      LoadIdxSplit(dir, "train", options, options.max_train, train_rng, &shape);
  if (!train.ok()) return WithPrefix(train.status(), prefix);
  Rng test_rng(Rng::DeriveSeed(seed, kTestSubsetStream));
  absl::StatusOr<Split> test =
      LoadIdxSplit(dir, "t10k", options, options.max_test, test_rng, &shape);
  if (!test.ok()) return WithPrefix(test.status(), prefix);
  Dataset data;
  data.x = std::move(train->x);
  data.y = std::move(train->y);
  data.labels = std::move(train->labels);
  if (!test->labels.empty()) {
    data.x_test = std::move(test->x);
    data.y_test = std::move(test->y);
    data.test_labels = std::move(test->labels);
  }
  return data;
}

}  // namespace replearn
