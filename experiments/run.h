// Running one experiment end to end: build and validate, train, write the run folder.
//
// Run folder (every file written atomically):
//   spec.pbtxt    the fully resolved spec (overrides applied)
//   curves.csv    step,layer,quantity,value (see metrics/curve_log.h)
//   summary.json  status, steps, final_loss, seed, wall_seconds and key figures;
//                 written last, so its presence means the run completed
#ifndef REPLEARN_EXPERIMENTS_RUN_H_
#define REPLEARN_EXPERIMENTS_RUN_H_

#include <string>

#include "absl/status/statusor.h"
#include "experiments/experiment.pb.h"
#include "experiments/trial.h"

namespace replearn {

struct RunOptions {
  std::string out_dir;  // required
  bool progress = true;
};

struct RunSummary {
  std::string out_dir;
  std::string status;
  int64_t steps = 0;
  double final_loss = 0;
  int64_t diverged_step = -1;
  double wall_seconds = 0;   // whole run: build, train, write
  double train_seconds = 0;  // the training loop alone (steps and probes)
  int tracked_layer = 0;
  double h0 = 0, y0 = 0, w0 = 0, h_final = 0;  // NaN when not recorded
};

// The tracked layer of a spec for a network with `num_hidden` hidden layers.
int TrackedLayer(const Experiment& spec, int num_hidden);

absl::StatusOr<RunSummary> RunExperiment(const Experiment& spec, const RunOptions& options);

// summary.json text for a run.
std::string SummaryJson(const Experiment& spec, const RunSummary& summary);

}  // namespace replearn

#endif  // REPLEARN_EXPERIMENTS_RUN_H_
