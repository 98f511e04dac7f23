// Running one experiment end to end: build and validate, train, write the run folder.
//
// Run folder (every file written atomically):
//   spec.pbtxt    the fully resolved spec (overrides applied)
//   curves.csv    step,layer,quantity,value (see metrics/curve_log.h)
//   fit.csv, theory_curves.csv, alternatives.csv   the theory fit (experiments/analysis.h)
//   curves.{png,svg}, depth.{png,svg}              figures (experiments/figures.h)
//   weights_init.npz, weights_final.npz             with output.save_weights: the parameters
//                 before the first and after the last update (architecture.init_npz layout)
//   summary.json  status, steps, final_loss, seed, wall_seconds and key figures;
//                 written last, so its presence means the run completed
#ifndef REPLEARN_EXPERIMENTS_RUN_H_
#define REPLEARN_EXPERIMENTS_RUN_H_

#include <cmath>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/experiment.pb.h"
#include "experiments/trial.h"

namespace replearn {

struct RunOptions {
  std::string out_dir;  // required
  bool progress = true;
  // Threads of the theory fit after training; 0 = all cores. Runners that train several
  // runs at once set 1 so their fits do not oversubscribe the cores.
  int fit_threads = 0;
};

struct RunSummary {
  std::string out_dir;
  std::string status;
  int64_t steps = 0;
  double final_loss = 0;
  // Held-out split and training-set accuracy (TrainResult); NaN when not measured.
  double test_loss = std::nan(""), test_accuracy = std::nan(""), train_accuracy = std::nan("");
  int64_t diverged_step = -1;
  double wall_seconds = 0;   // whole run: build, train, write
  double train_seconds = 0;  // the training loop alone (steps and probes)
  int tracked_layer = 0;
  double h0 = 0, y0 = 0, w0 = 0, h_final = 0;  // NaN when not recorded
  // Theory fit at the tracked layer (theory.enabled and the run did not diverge).
  bool fitted = false;
  double eta_h = 0, eta_y = 0, eta_ybar = 0, normalised_loss = 0;
  double r2_h = 0, r2_y = 0, r2_w = 0, r2_loss = 0, h_final_predicted = 0;
  std::vector<std::pair<std::string, double>> alternative_losses;
};

// Runs specs[k] into dirs[k] (same sizes) on `threads` worker threads (0 = all cores),
// several runs at once; each run keeps its own training.threads, and its theory fit uses one
// thread when more than one run is in flight. With `progress`, one line per finished run on
// stderr ("[3/19 42s] relu: finished after 6000 steps, loss 1.05e-12, fit loss 0.0259 (10.7 s)").
// Returns every run's summary or error, in the order of `specs`; a failed run does not stop
// the others.
// With `resume`, a folder that already holds a completed run (summary.json) of exactly
// specs[k] (its spec.pbtxt equals the spec's text) is kept and its summary read back instead
// of training again, so a killed multi-run experiment picks up where it stopped.
std::vector<absl::StatusOr<RunSummary>> RunExperiments(const std::vector<Experiment>& specs,
                                                       const std::vector<std::string>& dirs,
                                                       int threads, bool progress,
                                                       bool resume = false);

// Reads the flat JSON object SummaryJson writes: string values unescaped, numbers and
// literals as their text, null as "". InvalidArgument naming `source` and the byte offset
// for anything else.
absl::StatusOr<std::map<std::string, std::string>> ParseSummaryJson(absl::string_view text,
                                                                    const std::string& source);

// The RunSummary of a completed run folder, from its summary.json (fields absent there are
// NaN; `fitted` when the tracked layer's fit is present).
absl::StatusOr<RunSummary> ReadRunSummary(const std::string& dir);

// The tracked layer of a spec for a network with `num_hidden` hidden layers.
int TrackedLayer(const Experiment& spec, int num_hidden);

absl::StatusOr<RunSummary> RunExperiment(const Experiment& spec, const RunOptions& options);

// Resolves a relative architecture.init_npz in place: it is looked for in `working_dir`
// (where the user started the command; "" = the current directory), then in the folder of
// `spec_path`, and the first place where the file exists is stored in the spec as an absolute
// path (so the run's spec.pbtxt reruns from anywhere). Absolute paths, and relative ones found
// in neither place (BuildTrial then reports them), are left unchanged.
void ResolveInitNpz(const std::string& working_dir, const std::string& spec_path, Experiment& spec);

// summary.json text for a run.
std::string SummaryJson(const Experiment& spec, const RunSummary& summary);

}  // namespace replearn

#endif  // REPLEARN_EXPERIMENTS_RUN_H_
