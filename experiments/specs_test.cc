// Loads and fully validates (builds every component of) every spec under
// experiments/specs/, so a spec that rots fails CI.
#include <string>
#include <vector>

#include "experiments/loader.h"
#include "experiments/trial.h"
#include "gtest/gtest.h"

namespace replearn {
namespace {

std::vector<std::string>* spec_paths = nullptr;

TEST(Specs, EveryCheckedInSpecBuilds) {
  ASSERT_NE(spec_paths, nullptr);
  const std::vector<std::string>& paths = *spec_paths;
  ASSERT_FALSE(paths.empty());
  for (const std::string& path : paths) {
    SCOPED_TRACE(path);
    const auto spec = LoadExperiment(path);
    ASSERT_TRUE(spec.ok()) << spec.status();
    const auto trial = BuildTrial(*spec);
    EXPECT_TRUE(trial.ok()) << trial.status();
  }
}

}  // namespace
}  // namespace replearn

// The spec paths come as arguments ($(locations :specs)).
int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  replearn::spec_paths = new std::vector<std::string>(argv + 1, argv + argc);
  return RUN_ALL_TESTS();
}
