#include "experiments/paper/seed_stats.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"

namespace replearn {
namespace {

constexpr double kTol = 1e-12;

TEST(Quartiles, InterpolateLikeNumpysDefaultPercentile) {
  // numpy.percentile([7, 1, 3, 5], [25, 50, 75]) = [2.5, 4.0, 5.5]
  const Spread s = Quartiles({7, 1, 3, 5});
  EXPECT_EQ(s.n, 4);
  EXPECT_NEAR(s.q25, 2.5, kTol);
  EXPECT_NEAR(s.median, 4.0, kTol);
  EXPECT_NEAR(s.q75, 5.5, kTol);
  // numpy.percentile([10, 0, 20, 40, 30], [25, 50, 75]) = [10, 20, 30]
  const Spread odd = Quartiles({10, 0, 20, 40, 30});
  EXPECT_NEAR(odd.q25, 10, kTol);
  EXPECT_NEAR(odd.median, 20, kTol);
  EXPECT_NEAR(odd.q75, 30, kTol);
  const Spread one = Quartiles({3});
  EXPECT_EQ(one.q25, 3);
  EXPECT_EQ(one.q75, 3);
  const Spread none = Quartiles({});
  EXPECT_EQ(none.n, 0);
  EXPECT_TRUE(std::isnan(none.median));
}

SeedOutcome Outcome(int k, double final_loss, double fit_loss, double h, double h_pred,
                    int64_t plateau) {
  SeedOutcome o;
  o.seed_index = k;
  o.completed = true;
  o.final_loss = final_loss;
  o.fitted = true;
  o.normalised_loss = fit_loss;
  o.eta_h = 1e-3 * (k + 1);
  o.eta_y = 1e-2 * (k + 1);
  o.h_final = h;
  o.h_final_predicted = h_pred;
  o.plateau_steps = plateau;
  return o;
}

TEST(SummariseSeeds, OnlyConvergedFittedSeedsEnterTheFitStatistics) {
  std::vector<SeedOutcome> seeds = {
      Outcome(0, 1e-12, 0.04, 0.1, 0.11, 900),  // h error 0.1
      Outcome(1, 0.0625, 0.9, 0.1, 0.5, -1),    // on the plateau: not converged
      Outcome(2, 1e-9, 0.02, 0.2, 0.19, 1100),  // h error 0.05
      Outcome(3, 1e-7, 0.08, 0.1, 0.13, 1500),  // h error 0.3
  };
  seeds.push_back(SeedOutcome{});  // seed 4 failed: never completed
  seeds.back().seed_index = 4;
  const RowSeedStats s = SummariseSeeds(seeds);
  EXPECT_EQ(s.seeds, 5);
  EXPECT_EQ(s.converged, 3);
  EXPECT_NEAR(s.converged_fraction, 0.6, kTol);
  EXPECT_EQ(s.normalised_loss.n, 3);
  EXPECT_NEAR(s.normalised_loss.median, 0.04, kTol);
  EXPECT_NEAR(s.normalised_loss.q25, 0.03, kTol);  // between 0.02 and 0.04
  EXPECT_NEAR(s.normalised_loss.q75, 0.06, kTol);  // between 0.04 and 0.08
  EXPECT_NEAR(s.eta_h.median, 3e-3, kTol);         // seeds 0, 2, 3: 1e-3, 3e-3, 4e-3
  EXPECT_NEAR(s.h_final_error.median, 0.1, 1e-9);
  EXPECT_EQ(s.best_seed, 2);
  EXPECT_EQ(s.worst_seed, 3);
  EXPECT_EQ(s.median_seed, 0);
  EXPECT_EQ(s.left_plateau, 3);
  EXPECT_NEAR(s.plateau_steps.median, 1100, kTol);
}

TEST(SummariseSeeds, NoConvergedSeedLeavesTheFitStatisticsEmpty) {
  const RowSeedStats s = SummariseSeeds({Outcome(0, 0.0625, 0.8, 0.1, 0.2, -1)});
  EXPECT_EQ(s.converged, 0);
  EXPECT_EQ(s.converged_fraction, 0);
  EXPECT_TRUE(std::isnan(s.normalised_loss.median));
  EXPECT_EQ(s.best_seed, -1);
  EXPECT_EQ(s.left_plateau, 0);
}

TEST(SummariseSeeds, ConvergenceThresholdIsStrict) {
  EXPECT_TRUE(Converged(Outcome(0, 0.99e-6, 0, 1, 1, 0)));
  EXPECT_FALSE(Converged(Outcome(0, 1e-6, 0, 1, 1, 0)));
  EXPECT_FALSE(Converged(Outcome(0, std::nan(""), 0, 1, 1, 0)));
}

TEST(PlateauSteps, FirstStepWithHalfTheTargetDistance) {
  const std::vector<double> t = {0, 10, 20, 30};
  EXPECT_EQ(PlateauSteps(t, {1e-9, 0.1, 0.25, 0.5}, 0.5), 20);
  EXPECT_EQ(PlateauSteps(t, {1e-9, 0.1, 0.2, 0.24}, 0.5), -1);
}

}  // namespace
}  // namespace replearn
