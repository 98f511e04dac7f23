// The paper's default two-point experiment at full size (6000 steps of the 20 x 500
// leaky-ReLU net, about 15 s): the run starts rich, converges, and the effective theory
// fits it (docs/theory.md section 8, check 6; sections 4 and 6).
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>

#include "core/csv.h"
#include "core/file_util.h"
#include "experiments/loader.h"
#include "experiments/run.h"
#include "gtest/gtest.h"

namespace replearn {
namespace {

TEST(DefaultRun, RichStartConvergesAndTheTheoryFits) {
  auto spec = LoadExperiment("experiments/specs/two_point_default.pbtxt");
  ASSERT_TRUE(spec.ok()) << spec.status();
  ASSERT_TRUE(ApplyOverrides(*spec, {"theory.alternatives=true", "output.figures=false"}).ok());
  const std::string dir = JoinPath(std::getenv("TEST_TMPDIR"), "default");
  const auto s = RunExperiment(*spec, RunOptions{dir, false});
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->tracked_layer, 10);
  // Rich start, zero loss, final distance near the rich-limit prediction (~0.1).
  EXPECT_GT(s->h0, 1e-4);
  EXPECT_LT(s->h0, 1e-2);
  EXPECT_LT(s->y0, 1e-6);
  EXPECT_LT(s->final_loss, 1e-6);
  EXPECT_GT(s->h_final, 0.05);
  EXPECT_LT(s->h_final, 0.2);
  // The fitted [ODE] at layer 10.
  ASSERT_TRUE(s->fitted);
  EXPECT_LE(s->normalised_loss, 0.05);
  EXPECT_GE(s->r2_h, 0.98);
  EXPECT_GE(s->r2_y, 0.98);
  EXPECT_GE(s->r2_w, 0.9);
  EXPECT_GE(s->r2_loss, 0.98);
  EXPECT_LE(std::abs(s->h_final_predicted / s->h_final - 1), 0.08);
  // Every wrong dynamics fits clearly worse.
  ASSERT_EQ(s->alternative_losses.size(), 4u);
  for (const auto& [variant, loss] : s->alternative_losses) {
    EXPECT_GT(loss, 1.5 * s->normalised_loss) << variant;
  }
  // Depth: the best layer fits at least 10x better than layer 0 and lies in layers 9-17.
  const auto fit = ReadCsvFile(JoinPath(dir, "fit.csv"));
  ASSERT_TRUE(fit.ok()) << fit.status();
  ASSERT_EQ(fit->rows.size(), 20u);
  const int col = fit->Column("normalised_loss");
  int best = 0;
  for (int l = 0; l < 20; ++l) {
    if (std::stod(fit->rows[l][col]) < std::stod(fit->rows[best][col])) best = l;
  }
  EXPECT_LE(std::stod(fit->rows[best][col]), 0.1 * std::stod(fit->rows[0][col]));
  EXPECT_GE(best, 9);
  EXPECT_LE(best, 17);
}

}  // namespace
}  // namespace replearn
