#include "datasets/test_files.h"

#include <zlib.h>

#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/file_util.h"
#include "gtest/gtest.h"

namespace replearn {
namespace {

void AppendBigEndian32(uint32_t v, std::string* out) {
  for (const int shift : {24, 16, 8, 0}) out->push_back(static_cast<char>((v >> shift) & 0xFF));
}

}  // namespace

std::string FreshTestDir(absl::string_view name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string dir = JoinPath(tmp != nullptr ? tmp : "/tmp", name);
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  const absl::Status status = MakeDirs(dir);
  if (!status.ok()) ADD_FAILURE() << status;
  return dir;
}

std::string IdxImagesBytes(uint32_t n, uint32_t rows, uint32_t cols,
                           const std::vector<uint8_t>& pixels) {
  std::string out;
  AppendBigEndian32(0x00000803, &out);
  AppendBigEndian32(n, &out);
  AppendBigEndian32(rows, &out);
  AppendBigEndian32(cols, &out);
  out.append(pixels.begin(), pixels.end());
  return out;
}

std::string IdxLabelsBytes(const std::vector<uint8_t>& labels) {
  std::string out;
  AppendBigEndian32(0x00000801, &out);
  AppendBigEndian32(static_cast<uint32_t>(labels.size()), &out);
  out.append(labels.begin(), labels.end());
  return out;
}

std::string GzipBytes(absl::string_view data) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    ADD_FAILURE() << "deflateInit2 failed";
    return "";
  }
  std::string out(deflateBound(&zs, data.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(&out[0]);
  zs.avail_out = static_cast<uInt>(out.size());
  if (deflate(&zs, Z_FINISH) != Z_STREAM_END) ADD_FAILURE() << "deflate did not finish";
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

void WriteTestFile(const std::string& path, absl::string_view bytes) {
  const absl::Status status = WriteFileAtomically(path, bytes);
  if (!status.ok()) ADD_FAILURE() << status;
}

void WriteIdxSplit(const std::string& dir, absl::string_view prefix, uint32_t rows, uint32_t cols,
                   const std::vector<uint8_t>& pixels, const std::vector<uint8_t>& labels,
                   bool gzip) {
  ASSERT_EQ(pixels.size(), labels.size() * rows * cols);
  std::string images = IdxImagesBytes(static_cast<uint32_t>(labels.size()), rows, cols, pixels);
  std::string label_bytes = IdxLabelsBytes(labels);
  const char* suffix = gzip ? ".gz" : "";
  if (gzip) {
    images = GzipBytes(images);
    label_bytes = GzipBytes(label_bytes);
  }
  WriteTestFile(JoinPath(dir, absl::StrCat(prefix, "-images-idx3-ubyte", suffix)), images);
  WriteTestFile(JoinPath(dir, absl::StrCat(prefix, "-labels-idx1-ubyte", suffix)), label_bytes);
}

void WriteDigitJson(const std::string& digits_dir, int digit, const std::vector<float>& values) {
  std::string text = "{ \"data\": [";
  for (size_t i = 0; i < values.size(); ++i) {
    absl::StrAppend(&text, i == 0 ? "" : ",", absl::StrFormat("%.9g", values[i]));
  }
  text += "]}\n";
  WriteTestFile(JoinPath(digits_dir, absl::StrCat(digit, ".json")), text);
}

}  // namespace replearn
