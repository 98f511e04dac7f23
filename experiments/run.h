// Running experiments end to end: build and validate, train, write the run folder; and the
// one runner that trains many runs at once, resumes and reports progress (RunAll), used by
// sweeps (experiments/sweep.h) and multi-run experiments (RunExperiments).
//
// Run folder (every file written atomically):
//   spec.pbtxt    the fully resolved spec (overrides applied)
//   curves.csv    step,layer,quantity,value (see metrics/curve_log.h)
//   fit.csv, theory_curves.csv, alternatives.csv   the theory fit (experiments/analysis.h)
//   curves.{png,svg}, depth.{png,svg}              figures (experiments/figures.h)
//   weights_init.npz, weights_final.npz             with output.save_weights: the parameters
//                 before the first and after the last update (architecture.init_npz layout)
//   summary.json  RunSummaryProto (proto/summary.proto) in protobuf's JSON mapping: status,
//                 steps, final_loss, seed, timings and key figures; written last, so a
//                 readable summary.json means the run completed
//   error.txt     only in folders of RunAll with fresh_folders: why the last attempt failed
#ifndef REPLEARN_EXPERIMENTS_RUN_H_
#define REPLEARN_EXPERIMENTS_RUN_H_

#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "experiments/trial.h"
#include "proto/experiment.pb.h"
#include "proto/summary.pb.h"

namespace replearn {

// How a run ended (proto/summary.proto): FINISHED, CONVERGED, DIVERGED; sweeps add FAILED
// and PENDING for trials without a completed folder.
using RunStatus = RunSummaryProto::Status;

// "finished", "converged", ...: the name summary.json and index.csv use.
absl::string_view RunStatusName(RunStatus status);

struct RunOptions {
  std::string out_dir;  // required
  bool progress = true;
  // Threads of the theory fit after training; 0 = all cores. Runners that train several
  // runs at once set 1 so their fits do not oversubscribe the cores.
  int fit_threads = 0;
};

// A completed run: its folder and its summary.json.
struct RunSummary {
  std::string out_dir;
  RunSummaryProto proto;  // what summary.json holds; absent fields were not measured

  // `proto` as plain fields, for code written before the message (experiments/paper/).
  // MakeRunSummary fills them from `proto`, with NaN for absent doubles (diverged_step -1),
  // and nothing here reads them; new code reads `proto`.
  std::string status;  // RunStatusName(proto.status())
  int64_t steps = 0;
  double final_loss = 0;
  double test_loss = std::nan(""), test_accuracy = std::nan(""), train_accuracy = std::nan("");
  int64_t diverged_step = -1;
  double wall_seconds = 0;
  double train_seconds = 0;
  int tracked_layer = 0;
  double h0 = 0, y0 = 0, w0 = 0, h_final = 0;
  bool fitted = false;  // proto.has_eta_h(): the theory fit at the tracked layer
  double eta_h = 0, eta_y = 0, eta_ybar = 0, normalised_loss = 0;
  double r2_h = 0, r2_y = 0, r2_w = 0, r2_loss = 0, h_final_predicted = 0;
  // (variant, normalised loss) of each normalised_loss_<variant> present, in field order.
  std::vector<std::pair<std::string, double>> alternative_losses;
};

// A RunSummary of `proto` with the plain fields filled in.
RunSummary MakeRunSummary(std::string out_dir, RunSummaryProto proto);

// (variant, loss) of every normalised_loss_<variant> field `summary` has, in field order.
std::vector<std::pair<std::string, double>> AlternativeLosses(const RunSummaryProto& summary);

// summary.json text: `summary` in protobuf's JSON mapping with field names as keys, one per
// line, and the doubles that are not finite left out (proto/summary.proto). Strings are
// escaped by the JSON printer; they must be UTF-8 (invalid bytes are dropped).
std::string RunSummaryJson(const RunSummaryProto& summary);

// Parses summary.json text; `source` (a path) starts error messages. Reads files of every
// replearn version: null values (older files wrote NaN and a missing diverged_step so) are
// absent, a numeric or string seed both read, and keys this message does not know (a newer
// writer's) are skipped. InvalidArgument for text that is not such JSON or has no status.
absl::StatusOr<RunSummaryProto> ParseRunSummaryJson(absl::string_view text,
                                                    absl::string_view source);

// The summary of `dir` from its summary.json: NotFound when there is none, InvalidArgument
// when it does not parse (ParseRunSummaryJson).
absl::StatusOr<RunSummary> ReadRunSummary(const std::string& dir);

// Whether `dir` holds a completed run of exactly `spec`, the one test every resume uses
// (RunAll, sweeps, merge): its summary.json reads (ReadRunSummary; an unreadable one means
// the run did not complete) and its spec.pbtxt equals ExperimentToText(spec). Returns the
// summary; the ReadRunSummary error when the run is not complete; FailedPrecondition when it
// is complete but of another spec.
absl::StatusOr<RunSummary> ReadCompletedRun(const std::string& dir, const Experiment& spec);

// Copies the files of a completed run folder into `to` (created), summary.json last, so the
// copy is complete exactly when it says so. Temporaries of interrupted writes are skipped.
absl::Status CopyRunFolder(const std::string& from, const std::string& to);

// The tracked layer of a spec for a network with `num_hidden` hidden layers.
int TrackedLayer(const Experiment& spec, int num_hidden);

// Trains `spec` into options.out_dir and writes the run folder. A diverged run is not an
// error: its summary says DIVERGED. Errors for a spec that does not build, a run longer than
// summary.json's int32 steps, and files that cannot be written.
absl::StatusOr<RunSummary> RunExperiment(const Experiment& spec, const RunOptions& options);

// Resolves a relative architecture.init_npz in place: it is looked for in `working_dir`
// (where the user started the command; "" = the current directory), then in the folder of
// `spec_path`, and the first place where the file exists is stored in the spec as an absolute
// path (so the run's spec.pbtxt reruns from anywhere). Absolute paths, and relative ones found
// in neither place (BuildTrial then reports them), are left unchanged.
void ResolveInitNpz(const std::string& working_dir, const std::string& spec_path, Experiment& spec);

// ---- Many runs at once.

struct RunJob {
  const Experiment* spec = nullptr;  // outlives the RunAll call
  std::string out_dir;
};

struct RunOutcome {
  absl::StatusOr<RunSummary> summary = absl::UnknownError("not run");
  bool reused = false;  // resume kept a completed folder; nothing was trained
};

// What RunnerOptions::progress receives.
struct RunnerProgress {
  int total = 0;                        // runs of the call
  int ended = 0;                        // runs ended so far, kept ones included
  int index = -1;                       // the run that just ended; -1 in a periodic call
  const RunOutcome* outcome = nullptr;  // its outcome (index >= 0)
  double elapsed_seconds = 0;
};

struct RunnerOptions {
  // Runs trained at once (0 = one per core). Each run keeps its training.threads; its theory
  // fit uses one thread when more than one run is in flight.
  int threads = 0;
  // Keep every folder that holds a completed run of its job's spec (ReadCompletedRun)
  // instead of training it again.
  bool resume = false;
  // Empty a folder (its files) before running into it, so no file of an interrupted or
  // failed attempt survives, and write error.txt there when the run fails. Sweeps do.
  bool fresh_folders = false;
  // Called on the calling thread, never concurrently: once per ended run (kept runs first,
  // in job order, then trained ones as they end) and about every 10 ms while runs are in
  // flight (index -1), so progress bars can refresh their ETA.
  std::function<void(const RunnerProgress&)> progress;
};

// Runs every job with RunExperiment on a thread pool (core/thread_pool.h) and returns the
// outcomes in job order. A failed run does not stop the others. Outcomes, and every file the
// runs write, do not depend on the number of threads or the order runs end in.
std::vector<RunOutcome> RunAll(const std::vector<RunJob>& jobs, const RunnerOptions& options);

// RunAll over specs[k] -> dirs[k] (same sizes) with `threads` and `resume`; with `progress`,
// one line per ended run on stderr ("[3/19 42s] relu: finished after 6000 steps, loss
// 1.05e-12, fit loss 0.0259 (10.7 s)"). Returns every run's summary or error, in order.
std::vector<absl::StatusOr<RunSummary>> RunExperiments(const std::vector<Experiment>& specs,
                                                       const std::vector<std::string>& dirs,
                                                       int threads, bool progress,
                                                       bool resume = false);

}  // namespace replearn

#endif  // REPLEARN_EXPERIMENTS_RUN_H_
