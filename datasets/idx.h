// Reader for the IDX files of MNIST and Fashion-MNIST (LeCun et al.'s format).
//
// Layout, every integer a big-endian uint32:
//   images: magic 0x00000803 (uint8 data, 3 dimensions), n, rows, cols, then n * rows * cols
//           bytes, image after image, each row-major: pixel (r, c) of image i is byte
//           16 + i * rows * cols + r * cols + c.
//   labels: magic 0x00000801 (uint8 data, 1 dimension), n, then n bytes.
// The file must be exactly that long. A file that starts with the gzip signature 1f 8b (as
// the `.gz` files of the official distribution and of Debian's dataset-fashion-mnist do)
// is decompressed with zlib first; a name ending in `.gz` must hold gzip data.
//
// Errors name the file and say what was expected: NotFoundError when it cannot be opened,
// InvalidArgumentError for a wrong magic number (expected and found, in hex), a file
// shorter or longer than its header says (expected and found bytes), zero rows or columns,
// bad gzip data, and label and image counts that differ.
#ifndef REPLEARN_DATASETS_IDX_H_
#define REPLEARN_DATASETS_IDX_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace replearn {

inline constexpr uint32_t kIdxImagesMagic = 0x00000803;
inline constexpr uint32_t kIdxLabelsMagic = 0x00000801;

struct IdxImages {
  int count = 0;
  int rows = 0;
  int cols = 0;
  std::vector<uint8_t> pixels;  // count * rows * cols bytes, in file order
  int pixels_per_image() const { return rows * cols; }
};

absl::StatusOr<IdxImages> ReadIdxImages(const std::string& path);
absl::StatusOr<std::vector<uint8_t>> ReadIdxLabels(const std::string& path);

struct IdxLabelledImages {
  IdxImages images;
  std::vector<uint8_t> labels;  // labels[i] belongs to image i
};

// Both files, checked to hold the same number of examples.
absl::StatusOr<IdxLabelledImages> ReadIdxLabelledImages(const std::string& images_path,
                                                        const std::string& labels_path);

// The path of `name` in `dir`, or of `name`.gz when only that exists (the plain file wins
// when both do). NotFoundError naming both paths when neither exists.
absl::StatusOr<std::string> FindIdxFile(const std::string& dir, const std::string& name);

}  // namespace replearn

#endif  // REPLEARN_DATASETS_IDX_H_
