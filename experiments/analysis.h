// The theory analysis of a run folder: fit the effective theory (theory/fit.h) to every
// selected layer of curves.csv and write
//   fit.csv               one row per layer (theory/curves_io.h has the columns)
//   theory_curves.csv     the fitted curves, in the curves.csv format
//   alternatives.csv      with alternatives on: the same fit for each wrong dynamics,
//                         header variant,layer,eta_h,eta_y,sse,normalised_loss,r2_h,r2_y,r2_w
// Both `replearn run` (after training) and `replearn fit` (on any curves.csv) use it, so
// theory only ever reads recorded curves.
#ifndef REPLEARN_EXPERIMENTS_ANALYSIS_H_
#define REPLEARN_EXPERIMENTS_ANALYSIS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "theory/fit.h"

namespace replearn {

struct AnalysisOptions {
  std::string curves_path;  // curves.csv to read
  std::string out_dir;      // where the outputs go
  double dx2 = 0;           // ||x2 - x1||^2 of the probed pair, > 0
  double dy2 = 0;           // ||y2* - y1*||^2, >= 0
  std::vector<int> layers;  // layers to fit; empty = every recorded layer
  int tracked_layer = -1;   // layer reported in the summary; -1 = middle of the fitted ones
  bool alternatives = false;
  int threads = 0;  // 0 = all cores
};

struct Analysis {
  std::vector<int> layers;      // fitted layers
  std::vector<FitResult> fits;  // fits[k] of layers[k]
  int tracked_layer = -1;       // a member of layers
  size_t tracked_index = 0;     // its index in layers / fits
  const FitResult& tracked() const { return fits[tracked_index]; }
  std::vector<double> h_final_measured;  // last recorded h, per fitted layer
  // Per variant (kTrue excluded) the normalised loss at the tracked layer.
  std::vector<std::pair<std::string, double>> alternative_losses;
};

absl::StatusOr<Analysis> AnalyseCurves(const AnalysisOptions& options);

}  // namespace replearn

#endif  // REPLEARN_EXPERIMENTS_ANALYSIS_H_
