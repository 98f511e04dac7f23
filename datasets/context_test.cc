#include <cmath>
#include <string>

#include "datasets/dataset.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace replearn {
namespace {

using ::testing::HasSubstr;

constexpr double kF32Tol = 1e-6;

DatasetSpec Parse(const std::string& text) {
  DatasetSpec spec;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &spec)) << text;
  return spec;
}

TEST(Context, DefaultsAreThePapers27InputsAnd1800Examples) {
  const auto data = CreateDataset(Parse("context {}"), {});
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->input_dim(), 27);
  EXPECT_EQ(data->output_dim(), 1);
  EXPECT_EQ(data->size(), 2 * 30 * 30);
  EXPECT_EQ(data->test_size(), 0);
  EXPECT_TRUE(data->labels.empty());
}

TEST(Context, ContextUnitsAreOneHotAndTargetsAreTheBlobCoordinate) {
  const int grid = 30;
  const auto data = CreateDataset(Parse("context {}"), {});
  ASSERT_TRUE(data.ok()) << data.status();
  for (int ctx = 0; ctx < 2; ++ctx) {
    for (int i = 0; i < grid; ++i) {
      for (int j = 0; j < grid; ++j) {
        const int row = ctx * grid * grid + i * grid + j;
        EXPECT_EQ(data->x(row, 25), ctx == 0 ? 1.0f : 0.0f) << row;
        EXPECT_EQ(data->x(row, 26), ctx == 1 ? 1.0f : 0.0f) << row;
        const double cx = -1.0 + 2.0 * i / 29, cy = -1.0 + 2.0 * j / 29;
        EXPECT_NEAR(data->y(row, 0), ctx == 0 ? cx : cy, kF32Tol) << row;
      }
    }
  }
  // Both contexts show the same image.
  EXPECT_EQ(data->x.topLeftCorner(900, 25), data->x.bottomLeftCorner(900, 25));
}

TEST(Context, PixelsAreTheNormalisedGaussianAtThePixelCoordinates) {
  // image_size 5: pixel coordinates -1, -0.5, 0, 0.5, 1; grid 3: centres -1, 0, 1.
  const auto data =
      CreateDataset(Parse("context { grid_size: 3 image_size: 5 blob_width: 0.5 }"), {});
  ASSERT_TRUE(data.ok()) << data.status();
  ASSERT_EQ(data->size(), 18);
  ASSERT_EQ(data->input_dim(), 27);
  const double u[5] = {-1, -0.5, 0, 0.5, 1};
  const double c[3] = {-1, 0, 1};
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) {
      const int row = i * 3 + j;  // context 1
      double z = 0;
      for (int r = 0; r < 5; ++r)
        for (int col = 0; col < 5; ++col)
          z += std::exp(-(std::pow(u[col] - c[i], 2) + std::pow(u[r] - c[j], 2)) / (2 * 0.25));
      double sum = 0;
      for (int r = 0; r < 5; ++r) {
        for (int col = 0; col < 5; ++col) {
          const double g =
              std::exp(-(std::pow(u[col] - c[i], 2) + std::pow(u[r] - c[j], 2)) / 0.5) / z;
          EXPECT_NEAR(data->x(row, r * 5 + col), g, kF32Tol) << row << " " << r << " " << col;
          sum += data->x(row, r * 5 + col);
        }
      }
      EXPECT_NEAR(sum, 1.0, 1e-5) << row;
    }
  }
  // Centre (x, y) = (1, -1): the peak is at column 4 (x = 1) of row 0 (y = -1).
  const int row = 2 * 3 + 0;
  Eigen::Index peak = -1;
  data->x.row(row).head(25).maxCoeff(&peak);
  EXPECT_EQ(peak, 0 * 5 + 4);
  EXPECT_FLOAT_EQ(data->y(row, 0), 1.0f);       // context 1: x
  EXPECT_FLOAT_EQ(data->y(9 + row, 0), -1.0f);  // context 2: y
}

TEST(Context, PeakSitsAtTheNearestPixelOfEveryCentre) {
  const auto data = CreateDataset(Parse("context {}"), {});
  ASSERT_TRUE(data.ok()) << data.status();
  for (int i = 0; i < 30; ++i) {
    for (int j = 0; j < 30; ++j) {
      const double cx = -1.0 + 2.0 * i / 29, cy = -1.0 + 2.0 * j / 29;
      // Nearest pixel index on the 5-pixel axis u = -1 + k / 2.
      const long col = std::lround((cx + 1) * 2), r = std::lround((cy + 1) * 2);
      Eigen::Index peak = -1;
      const float max = data->x.row(i * 30 + j).head(25).maxCoeff(&peak);
      // On exact ties (a centre midway between pixels) any of the tied pixels is the peak.
      EXPECT_NEAR(data->x(i * 30 + j, r * 5 + col), max, 1e-7) << i << " " << j;
    }
  }
}

TEST(Context, NarrowBlobsDoNotUnderflow) {
  const auto data = CreateDataset(Parse("context { grid_size: 4 blob_width: 1e-3 }"), {});
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_TRUE(data->x.allFinite());
  for (int row = 0; row < data->size(); ++row) {
    EXPECT_NEAR(data->x.row(row).head(25).sum(), 1.0, 1e-6) << row;
  }
}

TEST(Context, RejectsBadOptionsNamingEachField) {
  const auto data =
      CreateDataset(Parse("context { grid_size: 1 blob_width: 0 image_size: 1 }"), {});
  EXPECT_EQ(data.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(data.status().ToString(), HasSubstr("dataset.context.grid_size = 1; must be >= 2"));
  EXPECT_THAT(data.status().ToString(), HasSubstr("dataset.context.blob_width = 0; must be > 0"));
  EXPECT_THAT(data.status().ToString(), HasSubstr("dataset.context.image_size = 1; must be >= 2"));
  EXPECT_THAT(CreateDataset(Parse("context { grid_size: 100000 }"), {}).status().ToString(),
              HasSubstr("must be <= 268435456"));
}

}  // namespace
}  // namespace replearn
