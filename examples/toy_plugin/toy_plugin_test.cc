// A plugin defined entirely in this folder runs a whole experiment (training, the
// two-point probe, the theory fit, the run folder) through the same code paths as the
// built-in architectures; nothing outside examples/toy_plugin/ names it.
#include <cmath>
#include <cstdlib>
#include <string>

#include "absl/status/status.h"
#include "architectures/architecture.h"
#include "core/csv.h"
#include "core/file_util.h"
#include "examples/toy_plugin/toy.pb.h"
#include "experiments/loader.h"
#include "experiments/run.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace toy {
namespace {

using ::testing::HasSubstr;

TEST(ToyPlugin, IsRegisteredByLinkingItsLibrary) {
  const auto names = replearn::ArchitectureRegistry().Names();
  EXPECT_THAT(names, ::testing::Contains("toy"));
}

TEST(ToyPlugin, RunsTheTwoPointExperimentWithTheTheoryFit) {
  auto spec = replearn::LoadExperiment("examples/toy_plugin/toy.pbtxt");
  ASSERT_TRUE(spec.ok()) << spec.status();
  ASSERT_TRUE(spec->architecture().HasExtension(toy));
  // --set reaches the plugin's own options through the extension's field name.
  ASSERT_TRUE(replearn::ApplyOverride(*spec, "architecture.toy.width=48").ok());
  EXPECT_EQ(spec->architecture().GetExtension(toy).width(), 48);

  const std::string dir = replearn::JoinPath(std::getenv("TEST_TMPDIR"), "toy");
  const auto s = replearn::RunExperiment(*spec, replearn::RunOptions{dir, false});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->status, "finished");
  EXPECT_EQ(s->steps, 3000);
  // The probe recorded the toy's tap through the generic interface: h, y, w for layer 0.
  const auto curves = replearn::ReadCsvFile(replearn::JoinPath(dir, "curves.csv"));
  ASSERT_TRUE(curves.ok()) << curves.status();
  int h_rows = 0;
  for (const auto& row : curves->rows) {
    h_rows += row[curves->Column("quantity")] == "h" && row[curves->Column("layer")] == "0";
  }
  EXPECT_EQ(h_rows, 301);  // steps 0, 10, ..., 3000
  EXPECT_LT(s->final_loss, 1e-4);
  EXPECT_EQ(s->tracked_layer, 0);
  ASSERT_TRUE(s->fitted);
  EXPECT_GT(s->h0, 0);
  EXPECT_TRUE(std::isfinite(s->eta_h));
  EXPECT_TRUE(std::isfinite(s->normalised_loss));
  EXPECT_TRUE(replearn::FileExists(replearn::JoinPath(dir, "fit.csv")));
  EXPECT_TRUE(replearn::FileExists(replearn::JoinPath(dir, "summary.json")));
  // The run folder's spec.pbtxt names the plugin and reloads.
  const auto reloaded = replearn::LoadExperiment(replearn::JoinPath(dir, "spec.pbtxt"));
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  EXPECT_EQ(reloaded->architecture().GetExtension(toy).width(), 48);
}

TEST(ToyPlugin, BadOptionsAreRejectedNamingTheField) {
  auto spec = replearn::LoadExperiment("examples/toy_plugin/toy.pbtxt");
  ASSERT_TRUE(spec.ok()) << spec.status();
  ASSERT_TRUE(replearn::ApplyOverride(*spec, "architecture.toy.scale=-1").ok());
  const auto s = replearn::RunExperiment(
      *spec, replearn::RunOptions{replearn::JoinPath(std::getenv("TEST_TMPDIR"), "bad"), false});
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.status().message()),
              HasSubstr("architecture.toy.scale = -1; must be > 0"));
}

}  // namespace
}  // namespace toy
