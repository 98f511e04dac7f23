// Sweeps: many trials of one spec, expanded from its `sweep { }` section
// (proto/experiment.proto, SweepSpec), run on a thread pool, resumable and shardable.
//
// Expansion. Trials are the Cartesian product of the axes in the listed order (the first
// axis varies slowest) times `sweep.trials` seeds per point (the seed index varies
// fastest), so trial index = ((v_0 * n_1 + v_1) * n_2 + ...) * trials + k. Each axis value
// is applied with ApplyOverride("<path>=<value>"), the same parser as --set. Seed index
// k = 0 keeps training.seed (as set after the axes are applied), so with trials: 1 every point
// is exactly what `replearn run --set=<path>=<value>` trains; k >= 1 uses
// Rng::DeriveSeed(training.seed, k). Trial i has the id "t" + i zero-padded to 4 digits
// (more when there are >= 10000 trials) and the folder "<id>_<field>=<value>..._s<k>"
// (the last path segment of each axis, the value with characters outside [A-Za-z0-9.+-]
// replaced by '_'; "_s<k>" only when trials > 1). Both depend only on the spec, never on
// sharding or threads. A trial's spec is the sweep's spec with the axis values and seed set,
// no `sweep`, no output.dir, and name "<name>/<folder>" (so `replearn run` on it defaults
// to runs/<name>/<folder>/, the trial's place in a default sweep folder).
//
// Sweep folder (`out_dir`):
//   sweep.pbtxt          the sweep spec with overrides applied; a rerun must match it
//   <folder>/            one run folder per trial (experiments/run.h); done when it holds a
//                        completed run of the trial's spec (ReadCompletedRun); error.txt holds
//                        the message of a failed attempt
//   index.csv            one row per trial (unsharded sweep, or `replearn merge`)
//   index.shard_<i>_of_<N>.csv   the rows of shard i (a sharded sweep)
// index.csv columns: trial, folder, one column per axis named by its path (the value as
// written in the spec), seed, then the RunSummaryProto fields marked with an index_column
// (proto/summary.proto): status, steps, final_loss, eta_h, eta_y, normalised_loss, r2_h, r2_y,
// r2_w, h_final, h_final_predicted. Their values are the trial's summary.json values (empty
// when absent: no fit, or not finite). status is the summary's (finished, converged,
// diverged); "failed" when the last attempt returned an error; "pending" when the trial has
// not completed. Rows are in trial order and hold nothing that depends on timing, so the
// index after a resume or a merge of shards is byte-identical to an uninterrupted run's.
#ifndef REPLEARN_EXPERIMENTS_SWEEP_H_
#define REPLEARN_EXPERIMENTS_SWEEP_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "experiments/run.h"
#include "proto/experiment.pb.h"

namespace replearn {

struct SweepTrial {
  int index = 0;                    // position in expansion order
  std::string id;                   // "t0007"
  std::string folder;               // "t0007_gain=1.1_s1"
  std::vector<std::string> values;  // one per axis, as written in the spec
  int seed_index = 0;
  uint64_t seed = 0;
  Experiment spec;  // the resolved single-run spec
};

struct SweepPlan {
  Experiment spec;                      // the sweep spec (with `sweep`), as sweep.pbtxt holds it
  std::vector<std::string> axis_paths;  // index.csv column names, in axis order
  std::vector<SweepTrial> trials;       // in index order
};

// At most this many trials per sweep (a guard against a runaway product of axes).
inline constexpr int64_t kMaxSweepTrials = 1000000;

// Expands spec.sweep into trials. Checks, all reported at once with the axis and path named
// ("sweep.axis.1 (architecture.mlp.gain): value \"abc\" is not a number"): a missing sweep
// section, an empty or repeated path, a path under sweep or naming `name` or output.dir
// (set by the sweep itself), an axis without values or with a value listed twice, a path
// that does not exist or a value its field cannot take, sweep.trials < 1, and more than
// kMaxSweepTrials trials. Does not build the trials (see ValidateSweep). A relative
// architecture.init_npz of a trial is resolved as ResolveInitNpz(working_dir, spec_path)
// does for `replearn run` (experiments/run.h).
absl::StatusOr<SweepPlan> ExpandSweep(const Experiment& spec, const std::string& working_dir = "",
                                      const std::string& spec_path = "");

// BuildTrial on every point of the plan (its seed-0 trial: the other seeds of a point differ
// only in training.seed, which every value of is valid). All problems at once, each line
// prefixed by the trial and its axis values: "t0003 (architecture.mlp.depth=0):
// architecture.mlp.depth = 0; must be >= 1".
absl::Status ValidateSweep(const SweepPlan& plan);

// A deterministic 1/count of the trials: those with index % count == index.
struct Shard {
  int index = 0;
  int count = 1;
  bool Contains(int trial_index) const { return trial_index % count == index; }
};

// Parses "i/N" with N >= 1 and 0 <= i < N.
absl::StatusOr<Shard> ParseShard(absl::string_view text);

// Shard as an absl flag type (ParseShard): ABSL_FLAG(replearn::Shard, shard, {}, "...").
bool AbslParseFlag(absl::string_view text, Shard* shard, std::string* error);
std::string AbslUnparseFlag(const Shard& shard);

struct SweepOptions {
  std::string out_dir;  // required
  int threads = 0;      // trials run at once; 0 = all cores
  Shard shard;
  bool progress = true;  // progress bar (TTY) or a plain line every 5 s on stderr
};

// What a sweep or merge found, counted over its trials (a shard's, or all for a merge).
struct SweepResult {
  int total = 0;    // trials covered
  int skipped = 0;  // already done before this run (sweep only)
  int ran = 0;      // attempted in this run (sweep only)
  int finished = 0, converged = 0, diverged = 0, failed = 0, pending = 0;
  std::vector<std::string> failures;  // "<folder>: <message>", this run's failed attempts
  std::string index_path;

  // Counts one trial of this status.
  void Count(RunStatus status);
};

// Runs the plan's trials of options.shard under options.out_dir. Before any trial runs it
// checks that out_dir does not hold a different sweep (its sweep.pbtxt must match) and that
// no trial folder holds a completed run of another spec. Done trials are skipped; the others
// run with RunAll (experiments/run.h) on `threads` threads, each from an emptied folder
// (fresh_folders). A trial that fails gets error.txt and the sweep goes on. Finally writes
// index.csv (unsharded) or index.shard_<i>_of_<N>.csv atomically. Call ValidateSweep first.
// Errors only for bad input or when the sweep folder cannot be written.
absl::StatusOr<SweepResult> RunSweep(const SweepPlan& plan, const SweepOptions& options);

// The index.csv text for `trial_indices` of the plan, from the trial folders under out_dir.
// A trial in `failed_now` that is not done is "failed" even without error.txt.
// `counts`, when given, receives total and the per-status counts (other fields unchanged).
absl::StatusOr<std::string> SweepIndexCsv(const SweepPlan& plan, const std::string& out_dir,
                                          const std::vector<int>& trial_indices,
                                          SweepResult* counts,
                                          const std::vector<int>& failed_now = {});

// Builds out_dir/index.csv over every trial of a sweep. Trial folders are taken from out_dir
// and then from each of `sources` (folders of shards run with different --out); a completed
// trial found only in a source is copied into out_dir (CopyRunFolder), so out_dir ends up
// as the unsharded sweep's folder. Every sweep.pbtxt found must be identical; with no
// sources, out_dir's own sweep.pbtxt is required.
absl::StatusOr<SweepResult> MergeSweep(const std::string& out_dir,
                                       const std::vector<std::string>& sources);

}  // namespace replearn

#endif  // REPLEARN_EXPERIMENTS_SWEEP_H_
