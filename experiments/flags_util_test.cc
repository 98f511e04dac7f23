#include "experiments/flags_util.h"

#include <cstdlib>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace replearn {
namespace {

using ::testing::HasSubstr;

TEST(UserPath, ResolvesRelativePathsAgainstTheBazelRunDirectory) {
  ::setenv("BUILD_WORKING_DIRECTORY", "/home/me/project", 1);
  EXPECT_EQ(UserPath("runs/x"), "/home/me/project/runs/x");
  EXPECT_EQ(UserPath("/abs/x"), "/abs/x");
  EXPECT_EQ(UserPath(""), "");
  ::unsetenv("BUILD_WORKING_DIRECTORY");
  EXPECT_EQ(UserPath("runs/x"), "runs/x");
}

TEST(CheckThreads, AcceptsZeroAndPositiveCounts) {
  EXPECT_TRUE(CheckThreads(0).ok());
  EXPECT_TRUE(CheckThreads(8).ok());
  const absl::Status s = CheckThreads(-1);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "--threads = \"-1\"; must be an integer >= 0 (0 = all cores)");
}

constexpr char kSpec[] = "experiments/specs/two_point_default.pbtxt";

TEST(LoadSpecWithOverrides, AppliesTheOverridesInOrder) {
  const auto spec =
      LoadSpecWithOverrides(kSpec, {"training.seed=7", "training.seed=9", "training.steps=5"});
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->training().seed(), 9u);
  EXPECT_EQ(spec->training().steps(), 5);
}

TEST(LoadSpecWithOverrides, NamesTheFileOfABadOverride) {
  const auto spec = LoadSpecWithOverrides(kSpec, {"training.no_such_field=1"});
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(spec.status().message(), HasSubstr(kSpec));
  EXPECT_THAT(spec.status().message(), HasSubstr("no_such_field"));
}

}  // namespace
}  // namespace replearn
