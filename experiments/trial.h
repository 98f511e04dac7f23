// A trial: one fully resolved spec with every component built and validated, and the
// training loop that runs it.
#ifndef REPLEARN_EXPERIMENTS_TRIAL_H_
#define REPLEARN_EXPERIMENTS_TRIAL_H_

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "architectures/architecture.h"
#include "datasets/dataset.h"
#include "metrics/curve_log.h"
#include "metrics/probe.h"
#include "proto/experiment.pb.h"
#include "proto/summary.pb.h"

namespace replearn {

// The most oneDNN/OpenMP threads one trial may ask for (training.threads); far above any
// useful count here, far below what makes the OpenMP runtime fail to start.
inline constexpr int kMaxTrainingThreads = 256;

// Components keep pointers to each other (probes read the dataset), so each lives on
// the heap and a Trial can be moved.
struct Trial {
  Experiment spec;
  std::unique_ptr<Dataset> data;
  std::unique_ptr<Architecture> net;
  std::vector<std::unique_ptr<Probe>> probes;
};

// Builds the dataset, the network and every probe and checks every training field before
// any training step. All problems are reported at once, one per line, each naming its
// field path ("training.learning_rate = -0.1; must be > 0").
absl::StatusOr<Trial> BuildTrial(const Experiment& spec);

struct TrainOptions {
  bool progress = true;  // progress bar / periodic lines on stderr
  std::string label;     // shown in progress lines; default the experiment name
  std::string out_dir;   // the run folder, handed to probes (ProbeContext::out_dir)
};

struct TrainResult {
  // FINISHED: all training.steps updates applied; CONVERGED: stopped early because the loss
  // fell below training.stop_loss; DIVERGED: the loss or output became NaN/Inf.
  RunSummaryProto::Status status = RunSummaryProto::STATUS_UNSPECIFIED;
  int64_t steps = 0;  // updates applied
  // Training loss at the last measurement (before no update); for networks whose training
  // forward differs (dropout), the loss of an eval-mode forward at that point instead.
  double final_loss = 0;
  int64_t diverged_step = -1;
  // Datasets with a held-out split: the last evaluation (NaN when none ran or, for the
  // accuracy, when the dataset has no labels).
  double test_loss = std::numeric_limits<double>::quiet_NaN();
  double test_accuracy = std::numeric_limits<double>::quiet_NaN();
  // Minibatch or dropout training of a labelled dataset: eval-mode accuracy on the whole
  // training set at the end.
  double train_accuracy = std::numeric_limits<double>::quiet_NaN();
  double wall_seconds = 0;  // training loop only
  CurveLog curves;
};

// Updates the run will apply: training.steps, or with training.epochs > 0 that many
// epochs of ceil(num_examples / batch_size) minibatches.
int64_t TrainingSteps(const TrainingSpec& training, int num_examples);

// Training with the spec's optimiser, full batch or in minibatches (training.batch_size).
// At step s = 0, 1, ..., at epoch starts the held-out split is evaluated (see
// training.eval_every_epochs), the probes that observe s record the network (before update
// s+1), then the loss is computed on the step's batch and, unless the run ends at s, one
// update is applied. The run ends at s = TrainingSteps(), when the loss is below
// training.stop_loss, or when it is not finite.
absl::StatusOr<TrainResult> Train(Trial& trial, const TrainOptions& options);

}  // namespace replearn

#endif  // REPLEARN_EXPERIMENTS_TRIAL_H_
