#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/file_util.h"
#include "datasets/dataset.h"
#include "datasets/test_files.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace replearn {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

DatasetSpec Parse(const std::string& text) {
  DatasetSpec spec;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &spec)) << text;
  return spec;
}

// Gzip IDX files as Debian ships them: 1 x 3 images, byte k of image i = 50 i + k.
std::string FashionDir(const std::string& name) {
  const std::string dir = FreshTestDir(name);
  const auto bytes = [](int n) {
    std::vector<uint8_t> b;
    for (int i = 0; i < n; ++i)
      for (int k = 0; k < 3; ++k) b.push_back(static_cast<uint8_t>(50 * i + k));
    return b;
  };
  WriteIdxSplit(dir, "train", 1, 3, bytes(5), {9, 0, 6, 0, 2}, /*gzip=*/true);
  WriteIdxSplit(dir, "t10k", 1, 3, bytes(2), {6, 9}, /*gzip=*/true);
  return dir;
}

TEST(FashionMnist, ReadsGzipIdxWithFashionMnistsNormalisation) {
  const std::string dir = FashionDir("fashion_all");
  const auto data = CreateDataset(Parse(absl::StrCat("fashion_mnist { dir: '", dir, "' }")), {});
  ASSERT_TRUE(data.ok()) << data.status();
  ASSERT_EQ(data->size(), 5);
  ASSERT_EQ(data->test_size(), 2);
  ASSERT_EQ(data->input_dim(), 3);
  ASSERT_EQ(data->output_dim(), 10);
  // Image 3, pixel 2 is byte 152; defaults mean 0.2860, std 0.3530.
  EXPECT_FLOAT_EQ(data->x(3, 2), static_cast<float>((152.0 / 255.0 - 0.2860) / 0.3530));
  EXPECT_FLOAT_EQ(data->x_test(1, 0), static_cast<float>((50.0 / 255.0 - 0.2860) / 0.3530));
  EXPECT_THAT(data->labels, ElementsAre(9, 0, 6, 0, 2));
  EXPECT_THAT(data->test_labels, ElementsAre(6, 9));
  EXPECT_EQ(data->y(0, 9), 1.0f);
  EXPECT_EQ(data->y.row(0).sum(), 1.0f);
}

TEST(FashionMnist, ClassSubsetOneHotAndLimit) {
  const std::string dir = FashionDir("fashion_subset");
  const auto data =
      CreateDataset(Parse(absl::StrCat("fashion_mnist { dir: '", dir,
                                       "' classes: [6, 0] max_train: 2 mean: 0 std: 1 }")),
                    DatasetContext{5});
  ASSERT_TRUE(data.ok()) << data.status();
  // Train images with class 6 or 0: 1 (0), 2 (6), 3 (0); two of them, in file order.
  ASSERT_EQ(data->size(), 2);
  ASSERT_EQ(data->output_dim(), 2);
  const int first = static_cast<int>(std::lround(data->x(0, 0) * 255 / 50));
  const int second = static_cast<int>(std::lround(data->x(1, 0) * 255 / 50));
  EXPECT_LT(first, second);
  const int class_of[] = {9, 0, 6, 0, 2};
  for (const auto& [row, image] : {std::pair{0, first}, std::pair{1, second}}) {
    ASSERT_TRUE(image >= 1 && image <= 3) << image;
    const int index = class_of[image] == 6 ? 0 : 1;
    EXPECT_EQ(data->labels[row], index);
    EXPECT_EQ(data->y(row, index), 1.0f);
    EXPECT_EQ(data->y(row, 1 - index), 0.0f);
  }
  EXPECT_THAT(data->test_labels, ElementsAre(0));  // test images: 6, 9
}

TEST(FashionMnist, MissingFolderSaysToRunSetup) {
  const auto data = CreateDataset(Parse("fashion_mnist { dir: '/nonexistent/fashion' }"), {});
  EXPECT_EQ(data.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(data.status().ToString(),
              HasSubstr("dataset.fashion_mnist.dir = /nonexistent/fashion: no such directory"));
  EXPECT_THAT(data.status().ToString(), HasSubstr("tools/setup.sh"));
  EXPECT_THAT(data.status().ToString(), HasSubstr("dataset-fashion-mnist"));
}

TEST(FashionMnist, MissingFileIsNotFoundNamingFieldAndPaths) {
  const std::string dir = FashionDir("fashion_missing_file");
  ASSERT_EQ(std::remove(JoinPath(dir, "t10k-labels-idx1-ubyte.gz").c_str()), 0);
  const auto data = CreateDataset(Parse(absl::StrCat("fashion_mnist { dir: '", dir, "' }")), {});
  EXPECT_EQ(data.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(data.status().ToString(),
              HasSubstr(absl::StrCat("dataset.fashion_mnist.dir = ", dir)));
  EXPECT_THAT(data.status().ToString(), HasSubstr(JoinPath(dir, "t10k-labels-idx1-ubyte.gz")));
}

TEST(FashionMnist, RejectsBadOptionsNamingEachField) {
  const auto data = CreateDataset(
      Parse("fashion_mnist { dir: '/nonexistent' std: -1 classes: [10] max_test: -1 }"), {});
  EXPECT_EQ(data.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(data.status().ToString(), HasSubstr("dataset.fashion_mnist.std = -1; must be > 0"));
  EXPECT_THAT(data.status().ToString(),
              HasSubstr("dataset.fashion_mnist.classes[0] = 10; must be in 0 .. 9"));
  EXPECT_THAT(data.status().ToString(),
              HasSubstr("dataset.fashion_mnist.max_test = -1; must be >= 0"));
  EXPECT_THAT(data.status().ToString(),
              HasSubstr("dataset.fashion_mnist.dir = /nonexistent: no such directory"));
}

TEST(FashionMnist, DefaultFolderIsDebians) {
  EXPECT_EQ(FashionMnistDataSpec().dir(), "/usr/share/datasets/fashion-mnist");
}

}  // namespace
}  // namespace replearn
