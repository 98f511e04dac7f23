// The statistics of the final-distance experiment on constructed runs with known answers: the
// drop rule of the rate average, the grid, and the [FINAL] comparison (prediction per point,
// Pearson's r, R^2, largest ratio).
#include "experiments/paper/final_distance.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"
#include "theory/closed_form.h"

namespace replearn {
namespace {

constexpr double kTol = 1e-12;

RunSummary RateRun(double final_loss, double eta_h, double eta_y, bool fitted = true) {
  RunSummary s;
  s.status = "finished";
  s.final_loss = final_loss;
  s.fitted = fitted;
  s.eta_h = eta_h;
  s.eta_y = eta_y;
  return s;
}

TEST(AverageRates, DropsRunsAboveTheLossLimitUnfittedOrWithoutPositiveRates) {
  const std::vector<RunSummary> runs = {
      RateRun(1e-12, 0.001, 0.04),                   // kept
      RateRun(2e-2, 10.0, 10.0),                     // final loss > 1e-2: dropped
      RateRun(kKeepLoss, 0.003, 0.02),               // exactly at the limit: kept
      RateRun(1e-12, 10.0, 10.0, /*fitted=*/false),  // no fit: dropped
      RateRun(1e-12, -0.001, 0.04),                  // eta_h <= 0: dropped
      RateRun(1e-12, 0.001, 0.0),                    // eta_y <= 0: dropped
      RateRun(NAN, 10.0, 10.0),                      // diverged (NaN loss): dropped
  };
  const RateAverage rates = AverageRates(runs);
  EXPECT_EQ(rates.kept, 2);
  EXPECT_EQ(rates.keep, (std::vector<bool>{true, false, true, false, false, false, false}));
  EXPECT_NEAR(rates.eta_h, 0.002, kTol);
  EXPECT_NEAR(rates.eta_y, 0.03, kTol);
}

TEST(AverageRates, IsNaNWhenNoRunIsKept) {
  const RateAverage rates = AverageRates({RateRun(0.5, 1, 1)});
  EXPECT_EQ(rates.kept, 0);
  EXPECT_TRUE(std::isnan(rates.eta_h));
  EXPECT_TRUE(std::isnan(rates.eta_y));
}

TEST(GridPoints, SpansTheInputAndTargetDistancesIMajor) {
  const std::vector<GridPoint> points = GridPoints(3);
  ASSERT_EQ(points.size(), 9u);
  EXPECT_EQ(points[0].name, "dx0.50_dy0.00");
  EXPECT_EQ(points[1].name, "dx0.50_dy0.50");
  EXPECT_EQ(points[5].name, "dx1.00_dy1.00");
  EXPECT_EQ(points[8].name, "dx1.50_dy1.00");
  EXPECT_NEAR(points[5].dx2, 1.0, kTol);
  EXPECT_NEAR(points[5].dy2, 1.0, kTol);
  EXPECT_NEAR(points[7].dx2, 2.25, kTol);
  EXPECT_NEAR(points[7].dy2, 0.25, kTol);
}

RunSummary GridRun(const std::string& status, double h0, double y0, double h_final) {
  RunSummary s;
  s.status = status;
  s.h0 = h0;
  s.y0 = y0;
  s.h_final = h_final;
  return s;
}

TEST(CompareGrid, PredictsEachPointWithFinalH) {
  // docs/theory.md [FINAL] for h0 = 1, y0 = 0, dx2 = dy2 = 1, ratio 1: A_high = 1, A_low = 1,
  // h(inf) = 1/2 + sqrt(1/4 + 1), the golden ratio.
  const std::vector<GridPoint> points = {{"a", 1.0, 1.0}, {"b", 2.25, 0.25}};
  const std::vector<RunSummary> runs = {GridRun("converged", 1.0, 0.0, 1.0),
                                        GridRun("converged", 0.7, 0.1, 1.0)};
  const GridComparison grid = CompareGrid(points, runs, 1.0);
  ASSERT_EQ(grid.predicted.size(), 2u);
  EXPECT_NEAR(grid.predicted[0], (1 + std::sqrt(5.0)) / 2, kTol);
  EXPECT_EQ(grid.predicted[1], FinalH(0.7, 0.1, 2.25, 0.25, 1.0));
  EXPECT_NEAR(grid.ratio[0], 2 / (1 + std::sqrt(5.0)), kTol);
  // Only the ratio eta_h / eta_y enters.
  EXPECT_EQ(CompareGrid(points, runs, 0.3).predicted[1], FinalH(0.7, 0.1, 2.25, 0.25, 0.3));
}

TEST(CompareGrid, StatisticsOverConvergedPointsWithKnownAnswers) {
  const std::vector<GridPoint> points = GridPoints(2);  // (dx2, dy2) = (.25,0) (.25,1) (2.25,0) ..
  const double ratio = 0.02;
  const double h0[] = {0.8, 1.1, 1.5, 2.0};
  const double y0 = 0.05;
  std::vector<double> predicted;
  for (int k = 0; k < 4; ++k) {
    predicted.push_back(FinalH(h0[k], y0, points[k].dx2, points[k].dy2, ratio));
  }
  // Measured = predicted times 1, 2, 1/4 (so the largest ratio is 4); the fourth point did not
  // converge and is left out whatever it measured.
  const std::vector<RunSummary> runs = {
      GridRun("converged", h0[0], y0, 1.0 * predicted[0]),
      GridRun("converged", h0[1], y0, 2.0 * predicted[1]),
      GridRun("converged", h0[2], y0, 0.25 * predicted[2]),
      GridRun("finished", h0[3], y0, 100 * predicted[3]),
  };
  const GridComparison grid = CompareGrid(points, runs, ratio);
  EXPECT_EQ(grid.converged, 3);
  EXPECT_EQ(grid.used, (std::vector<bool>{true, true, true, false}));
  for (int k = 0; k < 4; ++k) EXPECT_EQ(grid.predicted[k], predicted[k]) << k;
  EXPECT_NEAR(grid.ratio[3], 100, 1e-9);
  EXPECT_NEAR(grid.max_ratio, 4.0, 1e-9);
  // Pearson's r and R^2 from their definitions over the three used points.
  const double m[] = {predicted[0], 2 * predicted[1], 0.25 * predicted[2]};
  const double* p = predicted.data();
  const double mm = (m[0] + m[1] + m[2]) / 3, mp = (p[0] + p[1] + p[2]) / 3;
  double smp = 0, smm = 0, spp = 0, res = 0;
  for (int k = 0; k < 3; ++k) {
    smp += (m[k] - mm) * (p[k] - mp);
    smm += (m[k] - mm) * (m[k] - mm);
    spp += (p[k] - mp) * (p[k] - mp);
    res += (m[k] - p[k]) * (m[k] - p[k]);
  }
  EXPECT_NEAR(grid.pearson_r, smp / std::sqrt(smm * spp), 1e-12);
  EXPECT_NEAR(grid.r2, 1 - res / smm, 1e-12);
}

TEST(CompareGrid, PerfectPredictionsGiveROneAndRatioOne) {
  const std::vector<GridPoint> points = GridPoints(2);
  std::vector<RunSummary> runs;
  for (int k = 0; k < 4; ++k) {
    const double h0 = 0.5 + 0.4 * k;
    runs.push_back(
        GridRun("converged", h0, 0.0, FinalH(h0, 0.0, points[k].dx2, points[k].dy2, 0.5)));
  }
  const GridComparison grid = CompareGrid(points, runs, 0.5);
  EXPECT_EQ(grid.converged, 4);
  EXPECT_NEAR(grid.pearson_r, 1.0, 1e-12);
  EXPECT_NEAR(grid.r2, 1.0, 1e-12);
  EXPECT_NEAR(grid.max_ratio, 1.0, 1e-12);
}

TEST(CompareGrid, NoConvergedPointLeavesTheStatisticsNaN) {
  const std::vector<GridPoint> points = GridPoints(2);
  const std::vector<RunSummary> runs(4, GridRun("finished", 1.0, 0.0, 1.0));
  const GridComparison grid = CompareGrid(points, runs, 0.5);
  EXPECT_EQ(grid.converged, 0);
  EXPECT_TRUE(std::isnan(grid.pearson_r));
  EXPECT_TRUE(std::isnan(grid.r2));
  EXPECT_TRUE(std::isnan(grid.max_ratio));
}

TEST(RunFinalDistance, RejectsTooFewRunsOrGridPoints) {
  FinalDistanceOptions options;
  options.out_dir = "unused";
  options.runs = 0;
  EXPECT_EQ(RunFinalDistance(options).status().message(), "--runs = 0; must be >= 1");
  options.runs = 1;
  options.grid = 1;
  EXPECT_EQ(RunFinalDistance(options).status().message(), "--grid = 1; must be >= 2");
}

}  // namespace
}  // namespace replearn
