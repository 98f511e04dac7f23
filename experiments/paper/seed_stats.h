// Statistics of one universality row over several seeds (experiments/paper/universality.h).
//
// A row runs at seeds 0..N-1 (seed index k: k = 0 keeps the spec's training.seed, k >= 1
// uses Rng::DeriveSeed(training.seed, k), as sweeps do). Per seed we keep the outcome of the
// run (SeedOutcome); SummariseSeeds reduces them to medians and interquartile ranges.
//
// Definitions:
//   converged       the run completed and its final training loss is below
//                   kConvergedLoss (1e-6; the default row ends near 1e-12, a row still on
//                   the rich plateau near dy2 / 8 = 0.0625).
//   h_final_error   |h_final_predicted - h_final| / h_final: the [FINAL] prediction from the
//                   fitted rates against the measured final distance (docs/theory.md
//                   section 4).
//   plateau_steps   the first recorded step at which the output difference y reaches half
//                   the target distance (y >= dy2 / 2): how long the run sat on the rich
//                   plateau before its transition; -1 when it never got there.
//   quartiles       linear interpolation between order statistics (numpy's default
//                   percentile method): position q * (n - 1) in the sorted values.
// The fit figures (normalised loss, rates, h_final_error) are taken over converged seeds
// with a fit; plateau_steps over every completed seed that left the plateau.
#ifndef REPLEARN_EXPERIMENTS_PAPER_SEED_STATS_H_
#define REPLEARN_EXPERIMENTS_PAPER_SEED_STATS_H_

#include <cstdint>
#include <vector>

namespace replearn {

inline constexpr double kConvergedLoss = 1e-6;

struct SeedOutcome {
  int seed_index = 0;
  bool completed = false;  // the run finished (its summary was read)
  double final_loss = 0;
  bool fitted = false;
  double normalised_loss = 0, eta_h = 0, eta_y = 0;
  double h_final = 0, h_final_predicted = 0;
  int64_t plateau_steps = -1;
};

// Median and quartiles of n values; all NaN when n == 0.
struct Spread {
  int n = 0;
  double q25 = 0, median = 0, q75 = 0;
};

Spread Quartiles(std::vector<double> values);

struct RowSeedStats {
  int seeds = 0;      // outcomes given
  int converged = 0;  // of them converged (see above)
  double converged_fraction = 0;
  Spread normalised_loss, eta_h, eta_y, h_final_error, plateau_steps;
  // Seed indices among converged, fitted seeds: lowest and highest normalised loss, and the
  // median one (for an even count the lower of the two middle ones); -1 when there is none.
  int best_seed = -1, worst_seed = -1, median_seed = -1;
  int left_plateau = 0;  // completed seeds with plateau_steps >= 0
};

bool Converged(const SeedOutcome& outcome);

RowSeedStats SummariseSeeds(const std::vector<SeedOutcome>& outcomes);

// The first t[i] with y[i] >= dy2 / 2, or -1 (t and y of equal length).
int64_t PlateauSteps(const std::vector<double>& t, const std::vector<double>& y, double dy2);

}  // namespace replearn

#endif  // REPLEARN_EXPERIMENTS_PAPER_SEED_STATS_H_
