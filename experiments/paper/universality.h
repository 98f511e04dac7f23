// The universality suite (docs/theory.md section 7): one spec per architecture row in
// experiments/paper/specs/universality/, all run with the theory fit at each row's tracked
// layer, summarised in one table and one grid figure.
//
// Output folder:
//   <row>/                       each row's run folder (experiments/run.h)
//   universality.csv             row,final_loss,normalised_loss,eta_h,eta_y,r2_h,r2_y,r2_w,
//                                wall_seconds (fit figures empty when a row was not fitted)
//   universality.{png,svg}       per row: h, y and w measured (solid) and fitted (dashed),
//                                each divided by its largest measured value
//   gain_sweep.csv, gain_sweep.{png,svg}   when the suite has MLP rows "default" and
//                                "gain_*": fit loss, h0 and final h (measured and [FINAL])
//                                against the init gain, rich to lazy
//   summary.json                 rows, failed, and per row status, final_loss,
//                                normalised_loss, r2_h/y/w; written last
#ifndef REPLEARN_EXPERIMENTS_UNIVERSALITY_H_
#define REPLEARN_EXPERIMENTS_UNIVERSALITY_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "experiments/run.h"
#include "proto/experiment.pb.h"

namespace replearn {

struct SuiteRow {
  std::string name;  // the spec file's stem, e.g. "gain_1.1"
  Experiment spec;
};

struct SuiteOptions {
  std::vector<std::string> rows;  // run only these (by name); empty = all
  std::vector<std::string> sets;  // --set overrides applied to every row
  // Reduced-size check: 50 steps, and width 32 where the row's architecture has a `width`
  // option and accepts it (rows whose validation rejects the small width keep their own).
  bool smoke = false;
  int threads = 0;  // rows run at once; 0 = all cores
  bool progress = true;
  bool figures = true;
  bool resume = false;  // keep rows already completed in the output folder
};

// Loads every *.pbtxt of `dir` (ordered as docs/theory.md's table, unknown names after, sorted),
// keeps options.rows, applies the overrides and the smoke reduction, and validates every
// row (BuildTrial) before returning. All problems at once, each naming its file.
absl::StatusOr<std::vector<SuiteRow>> LoadSuite(const std::string& dir,
                                                const SuiteOptions& options);

struct SuiteResult {
  std::vector<RunSummary> summaries;  // by row, in suite order
  int failed = 0;                     // rows that did not produce a run folder
  std::vector<std::string> errors;    // one per failed row
};

// Runs the rows on `threads` worker threads (0 = all cores; each trial keeps its own
// training.threads), each into <out_dir>/<row name>/, printing a line per finished row when
// `progress`. A row that fails is recorded (status "failed") and the others go on.
// With `resume`, rows whose folder already holds a completed run of the same spec are kept
// (RunExperiments).
SuiteResult RunRows(const std::vector<SuiteRow>& rows, const std::string& out_dir, int threads,
                    bool progress, bool resume = false);

// RunRows, then universality.csv and the figure.
absl::StatusOr<SuiteResult> RunSuite(const std::vector<SuiteRow>& rows, const std::string& out_dir,
                                     const SuiteOptions& options);

// universality.csv text for rows and their summaries.
std::string SuiteCsv(const std::vector<SuiteRow>& rows, const std::vector<RunSummary>& summaries);

}  // namespace replearn

#endif  // REPLEARN_EXPERIMENTS_UNIVERSALITY_H_
