// replearn: run experiments from text specs.
//
//   replearn run --spec=FILE [--out=DIR] [--set=PATH=VALUE]... [--quiet]
//   replearn sweep --spec=FILE [--out=DIR] [--set=PATH=VALUE]... [--threads=N]
//                  [--shard=I/N] [--quiet]
//   replearn merge --out=DIR [SHARD_DIR]...
//   replearn fit --curves=FILE --dx2=X --dy2=Y --out=DIR [--layers=..] [--tracked_layer=N]
//                [--alternatives] [--threads=N]
//   replearn help        (or --help): every command and flag
//
// Flags are absl flags (absl::ParseCommandLine), anywhere on the line; a flag that is not one
// of the command's is an error. Relative paths resolve against the directory `bazel run` was
// started from (BUILD_WORKING_DIRECTORY) when set. Exit codes: 0 ok, 1 bad input or failure,
// 3 the run (or a trial of a sweep) diverged (outputs are still written), 4 trials of a sweep
// failed or (merge) are not complete; rerunning the sweep retries them.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/file_util.h"
#include "core/thread_pool.h"
#include "experiments/analysis.h"
#include "experiments/figures.h"
#include "experiments/loader.h"
#include "experiments/run.h"
#include "experiments/sweep.h"

namespace {
// absl keeps only the last value of a flag given twice; --set is repeatable, so each value is
// collected as it is parsed. (OnUpdate also runs once when the flag is registered.)
bool collecting_sets = false;
std::vector<std::string>& SetValues() {
  static auto* values = new std::vector<std::string>;
  return *values;
}
}  // namespace

ABSL_FLAG(std::string, spec, "",
          "run, sweep: the experiment spec, a text-format replearn.Experiment (required)");
ABSL_FLAG(std::string, out, "",
          "run: the run folder; sweep: the sweep folder (both default to output.dir of the spec, "
          "else runs/<name>/); merge: the sweep folder to build index.csv in (required); fit: "
          "the folder for fit.csv, theory_curves.csv and figures (required)");
ABSL_FLAG(std::string, set, "",
          "run, sweep: PATH=VALUE overrides one spec field, repeatable, e.g. "
          "--set=training.steps=100 --set=architecture.mlp.width=64 "
          "--set=probe.two_point.layers=[0,10]; a sweep applies it before expansion (also "
          "sweep.*)")
    .OnUpdate([] {
      if (collecting_sets) SetValues().push_back(absl::GetFlag(FLAGS_set));
    });
ABSL_FLAG(bool, quiet, false, "run, sweep: no progress output");
ABSL_FLAG(replearn::ThreadCount, threads, {},
          "sweep: trials run at once (each trial keeps its training.threads); fit: fitting "
          "threads; 0 = all cores");
ABSL_FLAG(replearn::Shard, shard, {},
          "sweep: I/N runs only the trials with index % N == I and writes "
          "index.shard_I_of_N.csv (Slurm arrays: experiments/slurm/)");
ABSL_FLAG(std::string, curves, "",
          "fit: curves.csv (step,layer,quantity,value) to fit, ours or exported from another "
          "framework (required)");
ABSL_FLAG(std::optional<double>, dx2, std::nullopt,
          "fit: squared input distance of the probed pair (required, > 0)");
ABSL_FLAG(std::optional<double>, dy2, std::nullopt,
          "fit: squared target distance of the probed pair (required, >= 0)");
ABSL_FLAG(std::vector<std::string>, layers, {},
          "fit: comma-separated layers to fit (default: every layer with h rows)");
ABSL_FLAG(int, tracked_layer, -1, "fit: the layer drawn and printed (-1: middle fitted layer)");
ABSL_FLAG(bool, alternatives, false,
          "fit: also fit the alternative (wrong) dynamics (alternatives.csv)");

namespace replearn {
namespace {

struct Command {
  const char* name;
  const char* help;  // what it does and its exit codes
  std::vector<const char*> flags;
  bool takes_arguments;  // positional arguments after the flags
  int (*run)(const std::vector<std::string>& args);
};

int Run(const std::vector<std::string>& args);
int Sweep(const std::vector<std::string>& args);
int Merge(const std::vector<std::string>& args);
int Fit(const std::vector<std::string>& args);

const std::vector<Command>& Commands() {
  static const auto* commands = new std::vector<Command>{
      {"run",
       "train one experiment and write its run folder (a spec with a sweep { } section is "
       "refused: use `replearn sweep`). Exit 0 ok, 1 bad input or failure, 3 diverged.",
       {"spec", "out", "set", "quiet"},
       false,
       Run},
      {"sweep",
       "train every trial of the spec's sweep { } section (README.md \"Sweeps\"), each into a "
       "run folder under --out, and write --out/index.csv; trials already done are kept, so "
       "rerunning resumes a killed sweep. Exit 0 all trials done, 1 bad input (nothing ran), 3 "
       "some trial diverged, 4 some trial failed (its error.txt says why; rerun to retry it).",
       {"spec", "out", "set", "threads", "shard", "quiet"},
       false,
       Sweep},
      {"merge",
       "build --out/index.csv of a sweep from its trial folders: those under --out and under "
       "each SHARD_DIR argument (shards run with different --out; their completed trials are "
       "copied into --out). Exit 0 every trial done, 3 some trial diverged, 4 some trial "
       "pending or failed.",
       {"out"},
       true,
       Merge},
      {"fit",
       "fit the effective theory to a recorded curves.csv and write fit.csv, "
       "theory_curves.csv and figures.",
       {"curves", "dx2", "dy2", "out", "layers", "tracked_layer", "alternatives", "threads"},
       false,
       Fit},
  };
  return *commands;
}

// `text` after a `first`-column prefix, in lines of at most 100 columns, the continuation
// lines indented to `first`.
std::string Wrap(absl::string_view prefix, absl::string_view text, size_t first) {
  std::string out(prefix), line;
  out.resize(std::max(out.size(), first), ' ');
  size_t column = out.size();
  for (absl::string_view word : absl::StrSplit(text, ' ', absl::SkipEmpty())) {
    if (column > first && column + 1 + word.size() > 100) {
      absl::StrAppend(&out, "\n", std::string(first, ' '));
      column = first;
    } else if (column > first) {
      out.push_back(' ');
      ++column;
    }
    absl::StrAppend(&out, word);
    column += word.size();
  }
  return out + "\n";
}

// Every command and flag, the flags' meanings from their definitions above.
std::string Usage() {
  std::string text = "usage: replearn <command> [flags] [arguments]\n\ncommands:\n";
  std::vector<std::string> all_flags;
  for (const Command& c : Commands()) {
    std::string flags = "flags:";
    for (const char* flag : c.flags) {
      absl::StrAppend(&flags, " --", flag);
      if (std::find(all_flags.begin(), all_flags.end(), flag) == all_flags.end()) {
        all_flags.push_back(flag);
      }
    }
    if (c.takes_arguments) absl::StrAppend(&flags, " [SHARD_DIR]...");
    absl::StrAppend(&text, Wrap(absl::StrCat("  ", c.name), c.help, 10), Wrap("", flags, 10));
  }
  absl::StrAppend(&text, "  help    this text (also --help)\n\nflags:\n");
  for (const std::string& name : all_flags) {
    const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    std::string help = flag->Help();
    const std::string default_value = flag->DefaultValue();
    if (!default_value.empty() && default_value != "false") {
      absl::StrAppend(&help, " (default ", default_value, ")");
    }
    absl::StrAppend(&text, Wrap(absl::StrCat("  --", name), help, 18));
  }
  absl::StrAppend(&text,
                  "\nRelative paths resolve against the directory bazel run was started from.\n");
  return text;
}

int Fail(absl::string_view command, absl::string_view message) {
  std::fprintf(stderr, "replearn%s%s: %s\n", command.empty() ? "" : " ",
               std::string(command).c_str(), std::string(message).c_str());
  return 1;
}

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

std::string WorkingDirectory() {
  const char* wd = std::getenv("BUILD_WORKING_DIRECTORY");
  return wd != nullptr ? wd : "";
}

// --spec loaded, --set applied and architecture.init_npz resolved (run and sweep).
absl::StatusOr<Experiment> LoadSpec(const std::string& resolved_path) {
  absl::StatusOr<Experiment> spec = LoadExperiment(resolved_path);
  if (!spec.ok()) return spec.status();
  if (const absl::Status s = ApplyOverrides(*spec, SetValues()); !s.ok()) return s;
  ResolveInitNpz(WorkingDirectory(), resolved_path, *spec);
  return spec;
}

std::string OutDir(const Experiment& spec) {
  std::string out = absl::GetFlag(FLAGS_out);
  if (out.empty()) out = spec.output().dir();
  if (out.empty()) out = JoinPath("runs", spec.name());
  return ResolveOutPath(out);
}

// A summary figure: "%.4g", or "n/a" when the summary does not have it.
std::string Figure(bool has, double value) { return has ? absl::StrFormat("%.4g", value) : "n/a"; }

int Run(const std::vector<std::string>&) {
  const std::string spec_path = absl::GetFlag(FLAGS_spec);
  if (spec_path.empty()) return Fail("run", "--spec=FILE is required; see replearn help");
  const absl::StatusOr<Experiment> spec = LoadSpec(ResolvePath(spec_path));
  if (!spec.ok()) return Fail("", spec.status().message());
  if (spec->has_sweep()) {
    return Fail("run", absl::StrCat(spec_path,
                                    " has a sweep { } section; run it with replearn sweep --spec=",
                                    spec_path,
                                    ", or rerun one trial with replearn run --spec=<sweep "
                                    "folder>/<trial>/spec.pbtxt"));
  }
  RunOptions options;
  options.out_dir = OutDir(*spec);
  options.progress = !absl::GetFlag(FLAGS_quiet);
  const absl::StatusOr<RunSummary> summary = RunExperiment(*spec, options);
  if (!summary.ok()) return Fail("", summary.status().message());
  const RunSummaryProto& s = summary->proto;
  std::printf(
      "%s: %s\n"
      "  layer %d at step 0:  h0 = %s  y0 = %s  w0 = %s\n"
      "  after %d steps:    loss = %s  h = %s\n"
      "  wall time %.2f s; output in %s\n",
      spec->name().c_str(), std::string(RunStatusName(s.status())).c_str(), s.tracked_layer(),
      Figure(s.has_h0(), s.h0()).c_str(), Figure(s.has_y0(), s.y0()).c_str(),
      Figure(s.has_w0(), s.w0()).c_str(), s.steps(),
      Figure(s.has_final_loss(), s.final_loss()).c_str(),
      Figure(s.has_h_final(), s.h_final()).c_str(), s.wall_seconds(), summary->out_dir.c_str());
  if (s.has_test_accuracy() || s.has_test_loss()) {
    std::printf("  held-out split: test loss = %s  test accuracy = %s  (train accuracy %s)\n",
                Figure(s.has_test_loss(), s.test_loss()).c_str(),
                Figure(s.has_test_accuracy(), s.test_accuracy()).c_str(),
                Figure(s.has_train_accuracy(), s.train_accuracy()).c_str());
  }
  if (s.has_eta_h()) {
    std::printf(
        "  theory fit at layer %d: eta_h = %s  eta_y = %s  eta_ybar = %s\n"
        "    normalised loss = %s  R^2 h/y/w/loss = %s / %s / %s / %s\n"
        "    [FINAL] predicted h = %s (measured %s)\n",
        s.tracked_layer(), Figure(s.has_eta_h(), s.eta_h()).c_str(),
        Figure(s.has_eta_y(), s.eta_y()).c_str(), Figure(s.has_eta_ybar(), s.eta_ybar()).c_str(),
        Figure(s.has_normalised_loss(), s.normalised_loss()).c_str(),
        Figure(s.has_r2_h(), s.r2_h()).c_str(), Figure(s.has_r2_y(), s.r2_y()).c_str(),
        Figure(s.has_r2_w(), s.r2_w()).c_str(), Figure(s.has_r2_loss(), s.r2_loss()).c_str(),
        Figure(s.has_h_final_predicted(), s.h_final_predicted()).c_str(),
        Figure(s.has_h_final(), s.h_final()).c_str());
    for (const auto& [variant, loss] : AlternativeLosses(s)) {
      std::printf("    alternative %-24s normalised loss = %s\n", variant.c_str(),
                  Figure(true, loss).c_str());
    }
  }
  if (s.status() == RunSummaryProto::DIVERGED) {
    std::fprintf(stderr,
                 "replearn: training diverged at step %d (loss is not finite); lower "
                 "training.learning_rate or the init gain\n",
                 s.diverged_step());
    return 3;
  }
  return 0;
}

int Sweep(const std::vector<std::string>&) {
  const std::string spec_path = absl::GetFlag(FLAGS_spec);
  if (spec_path.empty()) return Fail("sweep", "--spec=FILE is required; see replearn help");
  const std::string resolved_spec = ResolvePath(spec_path);
  const absl::StatusOr<Experiment> spec = LoadSpec(resolved_spec);
  if (!spec.ok()) return Fail("", spec.status().message());
  const absl::StatusOr<SweepPlan> plan = ExpandSweep(*spec, WorkingDirectory(), resolved_spec);
  if (!plan.ok()) return Fail("", absl::StrCat(spec_path, ": ", plan.status().message()));
  if (const absl::Status s = ValidateSweep(*plan); !s.ok()) {
    return Fail("", absl::StrCat(spec_path, ": ", s.message()));
  }
  SweepOptions options;
  options.out_dir = OutDir(*spec);
  options.threads = absl::GetFlag(FLAGS_threads).value;
  options.shard = absl::GetFlag(FLAGS_shard);
  options.progress = !absl::GetFlag(FLAGS_quiet);
  const absl::StatusOr<SweepResult> result = RunSweep(*plan, options);
  if (!result.ok()) return Fail("", result.status().message());
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
  const std::string out = ResolveOutPath(absl::GetFlag(FLAGS_out));
  if (out.empty()) return Fail("merge", "--out=DIR is required; see replearn help");
  std::vector<std::string> sources;
  for (const std::string& arg : args) sources.push_back(ResolveOutPath(arg));
  const absl::StatusOr<SweepResult> result = MergeSweep(out, sources);
  if (!result.ok()) return Fail("merge", result.status().message());
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

int Fit(const std::vector<std::string>&) {
  AnalysisOptions a;
  a.curves_path = ResolvePath(absl::GetFlag(FLAGS_curves));
  a.out_dir = ResolveOutPath(absl::GetFlag(FLAGS_out));
  const std::optional<double> dx2 = absl::GetFlag(FLAGS_dx2), dy2 = absl::GetFlag(FLAGS_dy2);
  if (a.curves_path.empty() || a.out_dir.empty() || !dx2 || !dy2) {
    return Fail("fit", "--curves, --dx2, --dy2 and --out are required; see replearn help");
  }
  for (const auto& [flag, value] : {std::pair{"--dx2", *dx2}, std::pair{"--dy2", *dy2}}) {
    if (!std::isfinite(value)) return Fail("fit", absl::StrCat(flag, " = ", value, "; not finite"));
  }
  a.dx2 = *dx2;
  a.dy2 = *dy2;
  for (const std::string& item : absl::GetFlag(FLAGS_layers)) {
    int layer;
    if (!absl::SimpleAtoi(item, &layer) || layer < 0) {
      return Fail("fit", absl::StrCat("--layers: \"", item, "\" is not a layer index (>= 0)"));
    }
    a.layers.push_back(layer);
  }
  a.tracked_layer = absl::GetFlag(FLAGS_tracked_layer);
  a.alternatives = absl::GetFlag(FLAGS_alternatives);
  a.threads = absl::GetFlag(FLAGS_threads).value;
  const absl::StatusOr<Analysis> analysis = AnalyseCurves(a);
  if (!analysis.ok()) return Fail("fit", analysis.status().message());
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

// A flag given on the command line that `command` does not take (absl flags are global, so
// the parser accepts every command's flags). Such a flag differs from its default.
std::string ForeignFlag(const Command& command) {
  for (const Command& other : Commands()) {
    for (const char* name : other.flags) {
      if (std::find(command.flags.begin(), command.flags.end(), std::string(name)) !=
          command.flags.end()) {
        continue;
      }
      const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
      const bool given = std::string(name) == "set" ? !SetValues().empty()
                                                    : flag->CurrentValue() != flag->DefaultValue();
      if (given) return name;
    }
  }
  return "";
}

}  // namespace

int ReplearnMain(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "runs experiments from text specs; `replearn help` lists the "
      "commands and their flags");
  if (argc < 2) {
    std::fputs(Usage().c_str(), stderr);
    return 1;
  }
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") break;
    if (arg == "--help" || arg == "-help" || arg == "-h" || (i == 1 && arg == "help")) {
      std::fputs(Usage().c_str(), stdout);
      return 0;
    }
  }
  collecting_sets = true;
  const std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() < 2) {
    std::fprintf(stderr, "replearn: no command\n\n%s", Usage().c_str());
    return 1;
  }
  const std::string name = positional[1];
  const std::vector<std::string> args(positional.begin() + 2, positional.end());
  for (const Command& command : Commands()) {
    if (name != command.name) continue;
    if (const std::string flag = ForeignFlag(command); !flag.empty()) {
      return Fail(name, absl::StrCat("--", flag, " is not a flag of replearn ", name,
                                     "; its flags: --", absl::StrJoin(command.flags, ", --")));
    }
    if (!command.takes_arguments && !args.empty()) {
      return Fail(name, absl::StrCat("unexpected argument \"", args[0],
                                     "\"; flags are written --name=value"));
    }
    return command.run(args);
  }
  std::fprintf(stderr, "replearn: unknown command \"%s\"\n\n%s", name.c_str(), Usage().c_str());
  return 1;
}

}  // namespace replearn

int main(int argc, char** argv) { return replearn::ReplearnMain(argc, argv); }
