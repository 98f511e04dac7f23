#include "datasets/dataset.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace replearn {
namespace {

using ::testing::ElementsAre;

TEST(Xor, IsTheFourPointsWithTheirXorTargets) {
  DatasetSpec spec;
  spec.mutable_xor_();
  const auto data = CreateDataset(spec, {});
  ASSERT_TRUE(data.ok()) << data.status();
  ASSERT_EQ(data->size(), 4);
  ASSERT_EQ(data->input_dim(), 2);
  ASSERT_EQ(data->output_dim(), 1);
  const float inputs[4][2] = {{0, 0}, {0, 1}, {1, 0}, {1, 1}};
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(data->x(i, 0), inputs[i][0]) << i;
    EXPECT_EQ(data->x(i, 1), inputs[i][1]) << i;
    // The target is a XOR b, computed here from the inputs.
    const int a = static_cast<int>(inputs[i][0]), b = static_cast<int>(inputs[i][1]);
    EXPECT_EQ(data->y(i, 0), static_cast<float>(a ^ b)) << i;
  }
  EXPECT_THAT(data->labels, ElementsAre(0, 1, 1, 0));
  EXPECT_EQ(data->test_size(), 0);
  EXPECT_TRUE(data->test_labels.empty());
}

}  // namespace
}  // namespace replearn
