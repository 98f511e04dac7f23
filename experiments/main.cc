// replearn: run experiments from text specs.
//
//   replearn run --spec=FILE [--out=DIR] [--set=PATH=VALUE]... [--quiet]
//
// Relative paths resolve against the directory `bazel run` was started from
// (BUILD_WORKING_DIRECTORY) when set. Exit codes: 0 ok, 1 bad input or failure,
// 3 the run diverged (outputs are still written).
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "core/file_util.h"
#include "experiments/loader.h"
#include "experiments/run.h"

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
      Figure(s.final_loss).c_str(), Figure(s.h_final).c_str(), s.wall_seconds,
      s.out_dir.c_str());
  if (s.status == "diverged") {
    std::fprintf(stderr,
                 "replearn: training diverged at step %lld (loss is not finite); lower "
                 "training.learning_rate or the init gain\n",
                 static_cast<long long>(s.diverged_step));
    return 3;
  }
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
  std::fprintf(stderr, "replearn: unknown command \"%s\"\n\n%s", command.c_str(), kUsage);
  return 1;
}

}  // namespace replearn

int main(int argc, char** argv) { return replearn::ReplearnMain(argc, argv); }
