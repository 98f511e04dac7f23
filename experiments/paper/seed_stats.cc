#include "experiments/paper/seed_stats.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

namespace replearn {

Spread Quartiles(std::vector<double> values) {
  Spread s;
  s.n = static_cast<int>(values.size());
  if (values.empty()) {
    s.q25 = s.median = s.q75 = std::numeric_limits<double>::quiet_NaN();
    return s;
  }
  std::sort(values.begin(), values.end());
  auto at = [&](double q) {
    const double pos = q * (values.size() - 1);
    const size_t lo = static_cast<size_t>(std::floor(pos));
    const size_t hi = std::min(lo + 1, values.size() - 1);
    return values[lo] + (pos - lo) * (values[hi] - values[lo]);
  };
  s.q25 = at(0.25);
  s.median = at(0.5);
  s.q75 = at(0.75);
  return s;
}

bool Converged(const SeedOutcome& outcome) {
  return outcome.completed && std::isfinite(outcome.final_loss) &&
         outcome.final_loss < kConvergedLoss;
}

RowSeedStats SummariseSeeds(const std::vector<SeedOutcome>& outcomes) {
  RowSeedStats stats;
  stats.seeds = static_cast<int>(outcomes.size());
  std::vector<double> loss, eta_h, eta_y, h_error, plateau;
  std::vector<std::pair<double, int>> ranked;  // (normalised loss, seed index)
  for (const SeedOutcome& o : outcomes) {
    if (o.completed && o.plateau_steps >= 0) {
      ++stats.left_plateau;
      plateau.push_back(static_cast<double>(o.plateau_steps));
    }
    if (!Converged(o)) continue;
    ++stats.converged;
    if (!o.fitted || !std::isfinite(o.normalised_loss)) continue;
    loss.push_back(o.normalised_loss);
    eta_h.push_back(o.eta_h);
    eta_y.push_back(o.eta_y);
    if (o.h_final > 0 && std::isfinite(o.h_final_predicted)) {
      h_error.push_back(std::abs(o.h_final_predicted - o.h_final) / o.h_final);
    }
    ranked.emplace_back(o.normalised_loss, o.seed_index);
  }
  stats.converged_fraction = outcomes.empty()
                                 ? std::numeric_limits<double>::quiet_NaN()
                                 : static_cast<double>(stats.converged) / outcomes.size();
  stats.normalised_loss = Quartiles(loss);
  stats.eta_h = Quartiles(eta_h);
  stats.eta_y = Quartiles(eta_y);
  stats.h_final_error = Quartiles(h_error);
  stats.plateau_steps = Quartiles(plateau);
  if (!ranked.empty()) {
    std::sort(ranked.begin(), ranked.end());  // ties: lower seed index first
    stats.best_seed = ranked.front().second;
    stats.worst_seed = ranked.back().second;
    stats.median_seed = ranked[(ranked.size() - 1) / 2].second;
  }
  return stats;
}

int64_t PlateauSteps(const std::vector<double>& t, const std::vector<double>& y, double dy2) {
  for (size_t i = 0; i < t.size() && i < y.size(); ++i) {
    if (y[i] >= dy2 / 2) return static_cast<int64_t>(t[i]);
  }
  return -1;
}

}  // namespace replearn
