// The probe registry and ProbeSpec.kind agree: every arm has a factory linked into
// //metrics:all and every registered factory has an arm.
#include "core/oneof.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "metrics/probe.h"

namespace replearn {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAreArray;

TEST(ProbeRegistry, EveryOneofArmHasAFactoryAndViceVersa) {
  EXPECT_THAT(ProbeRegistry().Names(),
              UnorderedElementsAreArray(OneofArms(ProbeSpec::descriptor())));
}

TEST(ProbeRegistry, RejectsASpecWithoutKindListingTheArms) {
  const auto probe = CreateProbe(ProbeSpec(), ProbeBuildContext());
  EXPECT_EQ(probe.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(probe.status().message(), HasSubstr("distance_matrix"));
  EXPECT_THAT(probe.status().message(), HasSubstr("mds"));
}

}  // namespace
}  // namespace replearn
