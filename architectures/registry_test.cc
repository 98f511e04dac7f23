#include <algorithm>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "architectures/architecture.h"
#include "core/oneof.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace replearn {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

TEST(ArchitectureRegistry, EveryOneofArmHasAFactoryAndEveryFactoryAnArm) {
  std::vector<std::string> arms = OneofArms(ArchitectureSpec::descriptor());
  std::vector<std::string> names = ArchitectureRegistry().Names();
  std::sort(arms.begin(), arms.end());
  std::sort(names.begin(), names.end());
  EXPECT_FALSE(arms.empty());
  EXPECT_EQ(arms, names) << "arms of ArchitectureSpec.kind vs registered architectures; a "
                            "missing name usually means a plugin library without alwayslink "
                            "or missing from //architectures:all";
}

TEST(ArchitectureRegistry, UnknownNameIsNotFoundListingRegisteredNames) {
  const auto factory = ArchitectureRegistry().Find("transformer");
  EXPECT_EQ(factory.status().code(), absl::StatusCode::kNotFound);
  std::string registered;
  for (const std::string& name : ArchitectureRegistry().Names()) {
    registered += (registered.empty() ? "" : ", ") + name;
  }
  EXPECT_THAT(std::string(factory.status().message()),
              AllOf(HasSubstr("unknown architecture \"transformer\""),
                    HasSubstr("registered: [" + registered + "]"), HasSubstr("mlp")));
}

TEST(ArchitectureRegistry, SpecWithoutArchitectureIsInvalidArgument) {
  const auto net = CreateArchitecture(ArchitectureSpec(), BuildContext());
  EXPECT_EQ(net.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(net.status().message()), HasSubstr("expected one of [mlp"));
}

}  // namespace
}  // namespace replearn
