// replearn: run experiments from text specs.
//
//   replearn run --spec=FILE [--out=DIR] [--set=PATH=VALUE]... [--quiet]
//   replearn sweep --spec=FILE [--out=DIR] [--set=PATH=VALUE]... [--threads=N]
//                  [--shard=I/N] [--quiet]
//   replearn merge --out=DIR [SHARD_DIR]...
//
// Relative paths resolve against the directory `bazel run` was started from
// (BUILD_WORKING_DIRECTORY) when set. Exit codes: 0 ok, 1 bad input or failure,
// 3 the run (or a trial of a sweep) diverged (outputs are still written), 4 trials of a
// sweep failed or (merge) are not complete; rerunning the sweep retries them.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/file_util.h"
#include "experiments/analysis.h"
#include "experiments/figures.h"
#include "experiments/loader.h"
#include "experiments/run.h"
#include "experiments/sweep.h"

namespace replearn {
namespace {

constexpr char kUsage[] = R"(usage: replearn <command> [flags]

commands:
  run     train one experiment and write its run folder
          --spec=FILE        experiment spec (text-format replearn.Experiment; required)
          --out=DIR          run folder (default: output.dir of the spec, else runs/<name>/)
          --set=PATH=VALUE   override a spec field, repeatable, e.g.
                             --set=training.steps=100 --set=architecture.mlp.width=64
          --quiet            no progress output
          A spec with a sweep { } section is refused: use `replearn sweep`.
  sweep   train every trial of the spec's sweep { } section (README.md "Sweeps"); each trial
          gets a run folder under DIR, and DIR/index.csv one row per trial
          --spec=FILE        spec with a sweep { axis { path: .. values: [..] } trials: N }
          --out=DIR          sweep folder (default: output.dir of the spec, else runs/<name>/)
          --set=PATH=VALUE   override a spec field before expansion (also sweep.*), repeatable
          --threads=N        trials run at once (default 0: all cores); each trial uses
                             training.threads (default 1)
          --shard=I/N        run only the trials with index % N == I and write
                             DIR/index.shard_I_of_N.csv (Slurm arrays: experiments/slurm/)
          --quiet            no progress output
          Trials with a summary.json are skipped, so rerunning resumes a killed sweep.
          Exit 0 all trials done, 1 bad input (nothing ran), 3 some trial diverged,
          4 some trial failed (its error.txt says why; rerun to retry it).
  merge   build DIR/index.csv of a sweep from its trial folders: those under DIR and, when
          given, under each SHARD_DIR (shards run with different --out; completed trials are
          copied into DIR)
          --out=DIR          sweep folder (required)
          Exit 0 every trial done, 3 some trial diverged, 4 some trial pending or failed.
  fit     fit the effective theory to a recorded curves.csv (ours, or exported from
          another framework in the same format)
          --curves=FILE      curves.csv: step,layer,quantity,value (required)
          --dx2=X            squared input distance of the probed pair (required, > 0)
          --dy2=Y            squared target distance (required, >= 0)
          --out=DIR          output folder for fit.csv, theory_curves.csv, figures (required)
          --layers=L1,L2,..  layers to fit (default: every layer with h rows)
          --tracked_layer=N  layer drawn and printed (default: middle fitted layer)
          --alternatives     also fit the alternative (wrong) dynamics (alternatives.csv)
          --threads=N        fitting threads (default: all cores)
  help    show this text

Relative paths resolve against the directory bazel run was started from.
)";

std::string ResolvePath(const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  const char* wd = std::getenv("BUILD_WORKING_DIRECTORY");
  if (wd != nullptr && *wd != '\0') {
    const std::string candidate = JoinPath(wd, path);
    // Spec files packaged as runfiles of a bazel run target are relative to the runfiles
    // directory (the current one), not the user's.
    if (FileExists(candidate) || !FileExists(path)) return candidate;
  }
  return path;
}

std::string ResolveOutPath(const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  const char* wd = std::getenv("BUILD_WORKING_DIRECTORY");
  return (wd != nullptr && *wd != '\0') ? JoinPath(wd, path) : path;
}

std::string Figure(double v) { return std::isfinite(v) ? absl::StrFormat("%.4g", v) : "n/a"; }

int Run(const std::vector<std::string>& args) {
  std::string spec_path, out;
  std::vector<std::string> sets;
  bool quiet = false;
  for (const std::string& arg : args) {
    absl::string_view v = arg;
    if (absl::ConsumePrefix(&v, "--spec=")) {
      spec_path = std::string(v);
    } else if (absl::ConsumePrefix(&v, "--out=")) {
      out = std::string(v);
    } else if (absl::ConsumePrefix(&v, "--set=")) {
      sets.emplace_back(v);
    } else if (arg == "--quiet") {
      quiet = true;
    } else {
      std::fprintf(stderr, "replearn run: unknown argument \"%s\"\n\n%s", arg.c_str(), kUsage);
      return 1;
    }
  }
  if (spec_path.empty()) {
    std::fprintf(stderr, "replearn run: --spec=FILE is required\n\n%s", kUsage);
    return 1;
  }
  auto spec = LoadExperiment(ResolvePath(spec_path));
  if (!spec.ok()) {
    std::fprintf(stderr, "replearn: %s\n", std::string(spec.status().message()).c_str());
    return 1;
  }
  if (const absl::Status s = ApplyOverrides(*spec, sets); !s.ok()) {
    std::fprintf(stderr, "replearn: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  if (spec->has_sweep()) {
    std::fprintf(stderr,
                 "replearn run: %s has a sweep { } section; run it with replearn sweep "
                 "--spec=%s, or rerun one trial with replearn run --spec=<sweep "
                 "folder>/<trial>/spec.pbtxt\n",
                 spec_path.c_str(), spec_path.c_str());
    return 1;
  }
  const char* wd = std::getenv("BUILD_WORKING_DIRECTORY");
  ResolveInitNpz(wd != nullptr ? wd : "", ResolvePath(spec_path), *spec);
  if (out.empty()) out = spec->output().dir();
  if (out.empty()) out = JoinPath("runs", spec->name());
  RunOptions options;
  options.out_dir = ResolveOutPath(out);
  options.progress = !quiet;
  auto summary = RunExperiment(*spec, options);
  if (!summary.ok()) {
    std::fprintf(stderr, "replearn: %s\n", std::string(summary.status().message()).c_str());
    return 1;
  }
  const RunSummary& s = *summary;
  std::printf(
      "%s: %s\n"
      "  layer %d at step 0:  h0 = %s  y0 = %s  w0 = %s\n"
      "  after %lld steps:    loss = %s  h = %s\n"
      "  wall time %.2f s; output in %s\n",
      spec->name().c_str(), s.status.c_str(), s.tracked_layer, Figure(s.h0).c_str(),
      Figure(s.y0).c_str(), Figure(s.w0).c_str(), static_cast<long long>(s.steps),
      Figure(s.final_loss).c_str(), Figure(s.h_final).c_str(), s.wall_seconds, s.out_dir.c_str());
  if (std::isfinite(s.test_accuracy) || std::isfinite(s.test_loss)) {
    std::printf("  held-out split: test loss = %s  test accuracy = %s  (train accuracy %s)\n",
                Figure(s.test_loss).c_str(), Figure(s.test_accuracy).c_str(),
                Figure(s.train_accuracy).c_str());
  }
  if (s.fitted) {
    std::printf(
        "  theory fit at layer %d: eta_h = %s  eta_y = %s  eta_ybar = %s\n"
        "    normalised loss = %s  R^2 h/y/w/loss = %s / %s / %s / %s\n"
        "    [FINAL] predicted h = %s (measured %s)\n",
        s.tracked_layer, Figure(s.eta_h).c_str(), Figure(s.eta_y).c_str(),
        Figure(s.eta_ybar).c_str(), Figure(s.normalised_loss).c_str(), Figure(s.r2_h).c_str(),
        Figure(s.r2_y).c_str(), Figure(s.r2_w).c_str(), Figure(s.r2_loss).c_str(),
        Figure(s.h_final_predicted).c_str(), Figure(s.h_final).c_str());
    for (const auto& [variant, loss] : s.alternative_losses) {
      std::printf("    alternative %-24s normalised loss = %s\n", variant.c_str(),
                  Figure(loss).c_str());
    }
  }
  if (s.status == "diverged") {
    std::fprintf(stderr,
                 "replearn: training diverged at step %lld (loss is not finite); lower "
                 "training.learning_rate or the init gain\n",
                 static_cast<long long>(s.diverged_step));
    return 3;
  }
  return 0;
}

int Sweep(const std::vector<std::string>& args) {
  std::string spec_path, out;
  std::vector<std::string> sets;
  SweepOptions options;
  for (const std::string& arg : args) {
    absl::string_view v = arg;
    if (absl::ConsumePrefix(&v, "--spec=")) {
      spec_path = std::string(v);
    } else if (absl::ConsumePrefix(&v, "--out=")) {
      out = std::string(v);
    } else if (absl::ConsumePrefix(&v, "--set=")) {
      sets.emplace_back(v);
    } else if (absl::ConsumePrefix(&v, "--threads=")) {
      if (!absl::SimpleAtoi(v, &options.threads) || options.threads < 0) {
        std::fprintf(stderr, "replearn sweep: --threads = \"%s\"; must be an integer >= 0\n",
                     std::string(v).c_str());
        return 1;
      }
    } else if (absl::ConsumePrefix(&v, "--shard=")) {
      const absl::StatusOr<Shard> shard = ParseShard(v);
      if (!shard.ok()) {
        std::fprintf(stderr, "replearn sweep: %s\n", std::string(shard.status().message()).c_str());
        return 1;
      }
      options.shard = *shard;
    } else if (arg == "--quiet") {
      options.progress = false;
    } else {
      std::fprintf(stderr, "replearn sweep: unknown argument \"%s\"\n\n%s", arg.c_str(), kUsage);
      return 1;
    }
  }
  if (spec_path.empty()) {
    std::fprintf(stderr, "replearn sweep: --spec=FILE is required\n\n%s", kUsage);
    return 1;
  }
  const std::string resolved_spec = ResolvePath(spec_path);
  auto spec = LoadExperiment(resolved_spec);
  if (!spec.ok()) {
    std::fprintf(stderr, "replearn: %s\n", std::string(spec.status().message()).c_str());
    return 1;
  }
  if (const absl::Status s = ApplyOverrides(*spec, sets); !s.ok()) {
    std::fprintf(stderr, "replearn: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  const char* wd_env = std::getenv("BUILD_WORKING_DIRECTORY");
  const std::string wd = wd_env != nullptr ? wd_env : "";
  ResolveInitNpz(wd, resolved_spec, *spec);
  const absl::StatusOr<SweepPlan> plan = ExpandSweep(*spec, wd, resolved_spec);
  if (!plan.ok()) {
    std::fprintf(stderr, "replearn: %s: %s\n", spec_path.c_str(),
                 std::string(plan.status().message()).c_str());
    return 1;
  }
  if (const absl::Status s = ValidateSweep(*plan); !s.ok()) {
    std::fprintf(stderr, "replearn: %s: %s\n", spec_path.c_str(), std::string(s.message()).c_str());
    return 1;
  }
  if (out.empty()) out = spec->output().dir();
  if (out.empty()) out = JoinPath("runs", spec->name());
  options.out_dir = ResolveOutPath(out);
  const absl::StatusOr<SweepResult> result = RunSweep(*plan, options);
  if (!result.ok()) {
    std::fprintf(stderr, "replearn: %s\n", std::string(result.status().message()).c_str());
    return 1;
  }
  const SweepResult& r = *result;
  std::string scope = absl::StrCat(plan->trials.size(), " trials");
  if (options.shard.count > 1) {
    absl::StrAppend(&scope, ", shard ", options.shard.index, "/", options.shard.count, ": ",
                    r.total);
  }
  std::printf(
      "sweep %s: %s; %d done before, %d run now\n"
      "  %d finished, %d converged, %d diverged, %d failed\n"
      "  index: %s\n",
      spec->name().c_str(), scope.c_str(), r.skipped, r.ran, r.finished, r.converged, r.diverged,
      r.failed, r.index_path.c_str());
  for (const std::string& failure : r.failures) {
    std::fprintf(stderr, "replearn sweep: trial %s\n", failure.c_str());
  }
  if (r.failed > 0) {
    std::fprintf(stderr,
                 "replearn sweep: %d trials failed (error.txt in their folders); rerun the same "
                 "command to retry them\n",
                 r.failed);
    return 4;
  }
  if (r.diverged > 0) {
    std::fprintf(stderr, "replearn sweep: %d trials diverged (status in the index)\n", r.diverged);
    return 3;
  }
  return 0;
}

int Merge(const std::vector<std::string>& args) {
  std::string out;
  std::vector<std::string> sources;
  for (const std::string& arg : args) {
    absl::string_view v = arg;
    if (absl::ConsumePrefix(&v, "--out=")) {
      out = ResolveOutPath(std::string(v));
    } else if (absl::StartsWith(arg, "-")) {
      std::fprintf(stderr, "replearn merge: unknown argument \"%s\"\n\n%s", arg.c_str(), kUsage);
      return 1;
    } else {
      sources.push_back(ResolveOutPath(arg));
    }
  }
  if (out.empty()) {
    std::fprintf(stderr, "replearn merge: --out=DIR is required\n\n%s", kUsage);
    return 1;
  }
  const absl::StatusOr<SweepResult> result = MergeSweep(out, sources);
  if (!result.ok()) {
    std::fprintf(stderr, "replearn merge: %s\n", std::string(result.status().message()).c_str());
    return 1;
  }
  const SweepResult& r = *result;
  std::printf(
      "merge: %d trials: %d finished, %d converged, %d diverged, %d failed, %d pending\n"
      "  index: %s\n",
      r.total, r.finished, r.converged, r.diverged, r.failed, r.pending, r.index_path.c_str());
  if (r.failed > 0 || r.pending > 0) {
    std::fprintf(stderr,
                 "replearn merge: %d trials failed and %d are pending; rerun the sweep (or its "
                 "shards) to complete them, then merge again\n",
                 r.failed, r.pending);
    return 4;
  }
  return r.diverged > 0 ? 3 : 0;
}

bool ParseNumber(absl::string_view flag, absl::string_view text, double* out) {
  if (absl::SimpleAtod(text, out) && std::isfinite(*out)) return true;
  std::fprintf(stderr, "replearn fit: %s = \"%s\" is not a number\n", std::string(flag).c_str(),
               std::string(text).c_str());
  return false;
}

int Fit(const std::vector<std::string>& args) {
  AnalysisOptions a;
  bool have_dx2 = false, have_dy2 = false;
  for (const std::string& arg : args) {
    absl::string_view v = arg;
    if (absl::ConsumePrefix(&v, "--curves=")) {
      a.curves_path = ResolvePath(std::string(v));
    } else if (absl::ConsumePrefix(&v, "--out=")) {
      a.out_dir = ResolveOutPath(std::string(v));
    } else if (absl::ConsumePrefix(&v, "--dx2=")) {
      if (!ParseNumber("--dx2", v, &a.dx2)) return 1;
      have_dx2 = true;
    } else if (absl::ConsumePrefix(&v, "--dy2=")) {
      if (!ParseNumber("--dy2", v, &a.dy2)) return 1;
      have_dy2 = true;
    } else if (absl::ConsumePrefix(&v, "--layers=")) {
      for (absl::string_view item : absl::StrSplit(v, ',', absl::SkipWhitespace())) {
        int layer;
        if (!absl::SimpleAtoi(item, &layer) || layer < 0) {
          std::fprintf(stderr, "replearn fit: --layers: \"%s\" is not a layer index (>= 0)\n",
                       std::string(item).c_str());
          return 1;
        }
        a.layers.push_back(layer);
      }
    } else if (absl::ConsumePrefix(&v, "--tracked_layer=")) {
      if (!absl::SimpleAtoi(v, &a.tracked_layer)) {
        std::fprintf(stderr, "replearn fit: --tracked_layer = \"%s\" is not an integer\n",
                     std::string(v).c_str());
        return 1;
      }
    } else if (absl::ConsumePrefix(&v, "--threads=")) {
      if (!absl::SimpleAtoi(v, &a.threads) || a.threads < 0) {
        std::fprintf(stderr, "replearn fit: --threads = \"%s\" must be an integer >= 0\n",
                     std::string(v).c_str());
        return 1;
      }
    } else if (arg == "--alternatives") {
      a.alternatives = true;
    } else {
      std::fprintf(stderr, "replearn fit: unknown argument \"%s\"\n\n%s", arg.c_str(), kUsage);
      return 1;
    }
  }
  if (a.curves_path.empty() || a.out_dir.empty() || !have_dx2 || !have_dy2) {
    std::fprintf(stderr, "replearn fit: --curves, --dx2, --dy2 and --out are required\n\n%s",
                 kUsage);
    return 1;
  }
  auto analysis = AnalyseCurves(a);
  if (!analysis.ok()) {
    std::fprintf(stderr, "replearn fit: %s\n", std::string(analysis.status().message()).c_str());
    return 1;
  }
  std::printf("%6s %12s %12s %12s %12s %8s %8s %8s %12s %12s\n", "layer", "eta_h", "eta_y",
              "eta_ybar", "norm_loss", "R2_h", "R2_y", "R2_w", "h_final_pred", "h_final_meas");
  for (size_t k = 0; k < analysis->layers.size(); ++k) {
    const FitResult& f = analysis->fits[k];
    std::printf("%6d %12.4g %12.4g %12.4g %12.4g %8.4f %8.4f %8.4f %12.4g %12.4g\n",
                analysis->layers[k], f.eta_h, f.eta_y, f.eta_ybar, f.normalised_loss, f.r2_h,
                f.r2_y, f.r2_w, f.h_final_predicted, analysis->h_final_measured[k]);
  }
  for (const auto& [variant, loss] : analysis->alternative_losses) {
    std::printf("alternative %-24s normalised loss at layer %d = %.4g\n", variant.c_str(),
                analysis->tracked_layer, loss);
  }
  if (GnuplotAvailable()) {
    const absl::Status fig =
        RenderFigures(a.out_dir, a.curves_path, analysis->tracked_layer, "replearn fit");
    if (!fig.ok()) {
      std::fprintf(stderr, "replearn fit: figures not drawn: %s\n",
                   std::string(fig.message()).c_str());
    }
  }
  std::printf("output in %s\n", a.out_dir.c_str());
  return 0;
}

}  // namespace

int ReplearnMain(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "help" || std::string(argv[1]) == "--help") {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 1 : 0;
  }
  const std::string command = argv[1];
  const std::vector<std::string> args(argv + 2, argv + argc);
  if (command == "run") return Run(args);
  if (command == "fit") return Fit(args);
  if (command == "sweep") return Sweep(args);
  if (command == "merge") return Merge(args);
  std::fprintf(stderr, "replearn: unknown command \"%s\"\n\n%s", command.c_str(), kUsage);
  return 1;
}

}  // namespace replearn

int main(int argc, char** argv) { return replearn::ReplearnMain(argc, argv); }
