#include <cmath>

#include "core/oneof.h"
#include "datasets/dataset.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace replearn {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAreArray;

DatasetSpec Parse(const std::string& text) {
  DatasetSpec spec;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &spec));
  return spec;
}

TEST(TwoPoint, MatchesThePapersPointsAndDistances) {
  for (const auto& [din, dout] : {std::pair{1, 1}, std::pair{4, 3}, std::pair{9, 2}}) {
    const double dx2 = 1.7, dy2 = 0.3;
    DatasetSpec spec;
    auto* tp = spec.mutable_two_point();
    tp->set_dx2(dx2);
    tp->set_dy2(dy2);
    tp->set_input_dim(din);
    tp->set_output_dim(dout);
    const auto data = CreateDataset(spec, {});
    ASSERT_TRUE(data.ok()) << data.status();
    ASSERT_EQ(data->size(), 2);
    ASSERT_EQ(data->input_dim(), din);
    ASSERT_EQ(data->output_dim(), dout);
    EXPECT_FLOAT_EQ(data->x(0, din - 1), static_cast<float>(-1 / std::sqrt(din)));
    EXPECT_FLOAT_EQ(data->y(0, 0), static_cast<float>(0.6 / std::sqrt(dout)));
    const double measured_dx2 = (data->x.row(1) - data->x.row(0)).cast<double>().squaredNorm();
    const double measured_dy2 = (data->y.row(1) - data->y.row(0)).cast<double>().squaredNorm();
    constexpr double kF32RelTol = 1e-6;
    EXPECT_NEAR(measured_dx2, dx2, kF32RelTol * dx2);
    EXPECT_NEAR(measured_dy2, dy2, kF32RelTol * 4 * dout);
  }
}

TEST(TwoPoint, DefaultsAreThePapers) {
  const auto data = CreateDataset(Parse("two_point {}"), {});
  ASSERT_TRUE(data.ok());
  EXPECT_FLOAT_EQ(data->x(0, 0), -1.0f);
  EXPECT_FLOAT_EQ(data->x(1, 0), 0.0f);
  EXPECT_FLOAT_EQ(data->y(0, 0), 0.6f);
  EXPECT_FLOAT_EQ(data->y(1, 0), static_cast<float>(0.6 + std::sqrt(0.5)));
}

TEST(TwoPoint, RejectsBadFieldsNamingEachOne) {
  const auto data = CreateDataset(Parse("two_point { dx2: -1 dy2: -2 input_dim: 0 }"), {});
  EXPECT_EQ(data.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(data.status().message(), HasSubstr("dataset.two_point.dx2 = -1"));
  EXPECT_THAT(data.status().message(), HasSubstr("dataset.two_point.dy2 = -2"));
  EXPECT_THAT(data.status().message(), HasSubstr("dataset.two_point.input_dim = 0"));
}

TEST(DatasetRegistry, EveryOneofArmHasAFactoryAndViceVersa) {
  EXPECT_THAT(DatasetRegistry().Names(),
              UnorderedElementsAreArray(OneofArms(DatasetSpec::descriptor())));
  EXPECT_EQ(CreateDataset(DatasetSpec(), {}).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace replearn
