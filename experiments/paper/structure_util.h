// What the representation-structure experiments (xor, mnist_structure, context;
// docs/theory.md section 7) share: their options and their result. The statistics, figures,
// spec loading and JSON they use are the engine's (experiments/stats.h, figures.h,
// flags_util.h, json_util.h).
#ifndef REPLEARN_EXPERIMENTS_STRUCTURE_UTIL_H_
#define REPLEARN_EXPERIMENTS_STRUCTURE_UTIL_H_

#include <string>
#include <utility>
#include <vector>

namespace replearn {

struct StructureOptions {
  std::string out_dir;            // required
  std::string specs;              // spec folder or file; "" = the packaged default
  std::vector<std::string> sets;  // --set overrides applied to every run
  bool smoke = false;             // reduced size (seconds), for tests
  int threads = 0;                // runs trained at once; 0 = all cores
  int seeds = 0;                  // mnist_structure: networks averaged; 0 = its default
  bool progress = true;
  bool figures = true;
};

// An experiment's outcome: the headline numbers (also in summary.json) in print order.
struct StructureResult {
  std::vector<std::pair<std::string, double>> key_figures;
  double wall_seconds = 0;
};

}  // namespace replearn

#endif  // REPLEARN_EXPERIMENTS_STRUCTURE_UTIL_H_
