// The representation-structure experiments of docs/theory.md section 7:
//
//   bazel run //experiments:xor [-- flags]              experiments/paper/xor_experiment.h
//   bazel run //experiments:mnist_structure [-- flags]
//   experiments/paper/mnist_structure_experiment.h bazel run //experiments:context [-- flags]
//   experiments/paper/context_experiment.h
//
// (each target passes its experiment's name as the first argument). Prints the key figures
// (also in DIR/summary.json). Exit codes: 0 done, 1 bad input, 2 some run failed
// (summary.json names it; the others are written). --help lists the flags.
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_join.h"
#include "experiments/flags_util.h"
#include "experiments/paper/context_experiment.h"
#include "experiments/paper/mnist_structure_experiment.h"
#include "experiments/paper/xor_experiment.h"

ABSL_FLAG(std::string, out, "",
          "output folder (relative to where bazel run was started); default runs/<experiment>");
ABSL_FLAG(std::string, specs, "",
          "spec folder (xor, context) or file (mnist_structure); default the packaged "
          "experiments/paper/specs/...");
// Declared for --help; ParseExperimentFlags collects the repeated values.
ABSL_FLAG(std::string, set, "", "PATH=VALUE: override one spec field of every run; repeatable");
ABSL_FLAG(bool, smoke, false, "reduced size (seconds): a check that everything runs");
ABSL_FLAG(int, threads, 0, "runs trained at once; 0 = all cores (each run uses 1 thread)");
ABSL_FLAG(std::optional<int>, seeds, std::nullopt,
          "mnist_structure: networks to average (>= 1; default 10, 2 with --smoke)");
ABSL_FLAG(bool, no_figures, false, "skip the gnuplot figures");
ABSL_FLAG(bool, quiet, false, "no progress lines");

namespace replearn {
namespace {

constexpr char kUsage[] =
    "structure <xor|mnist_structure|context> [--out=DIR] [--specs=PATH] [--set=PATH=VALUE]... "
    "[--smoke] [--threads=N] [--seeds=N] [--no_figures] [--quiet]\n"
    "The representation-structure experiments of docs/theory.md section 7.";

int Main(int argc, char** argv) {
  StructureOptions options;
  const std::vector<std::string> positional =
      ParseExperimentFlags(argc, argv, kUsage, &options.sets);
  const std::string experiment = positional.empty() ? "" : positional[0];
  if (positional.size() != 1 ||
      (experiment != "xor" && experiment != "mnist_structure" && experiment != "context")) {
    std::fprintf(stderr, "structure: expected one experiment name, got [%s]\nusage: %s\n",
                 absl::StrJoin(positional, ", ").c_str(), kUsage);
    return 1;
  }
  options.specs = UserPath(absl::GetFlag(FLAGS_specs));
  options.smoke = absl::GetFlag(FLAGS_smoke);
  options.threads = absl::GetFlag(FLAGS_threads);
  options.figures = !absl::GetFlag(FLAGS_no_figures);
  options.progress = !absl::GetFlag(FLAGS_quiet);
  if (const absl::Status s = CheckThreads(options.threads); !s.ok()) {
    std::fprintf(stderr, "%s: %s\n", experiment.c_str(), std::string(s.message()).c_str());
    return 1;
  }
  if (const std::optional<int> seeds = absl::GetFlag(FLAGS_seeds); seeds.has_value()) {
    if (*seeds < 1) {
      std::fprintf(stderr, "%s: --seeds = %d; must be >= 1\n", experiment.c_str(), *seeds);
      return 1;
    }
    options.seeds = *seeds;
  }
  const std::string out = absl::GetFlag(FLAGS_out);
  options.out_dir = UserPath(out.empty() ? "runs/" + experiment : out);
  const auto result = experiment == "xor"               ? RunXor(options)
                      : experiment == "mnist_structure" ? RunMnistStructure(options)
                                                        : RunContext(options);
  if (!result.ok()) {
    std::fprintf(stderr, "%s: %s\n", experiment.c_str(),
                 std::string(result.status().message()).c_str());
    // Bad input is found before anything runs; other errors come from runs (or their
    // outputs), after summary.json was written.
    return result.status().code() == absl::StatusCode::kInvalidArgument ||
                   result.status().code() == absl::StatusCode::kNotFound
               ? 1
               : 2;
  }
  for (const auto& [key, value] : result->key_figures)
    std::printf("%-45s %.6g\n", key.c_str(), value);
  std::printf("wall time %.1f s; output in %s\n", result->wall_seconds, options.out_dir.c_str());
  return 0;
}

}  // namespace
}  // namespace replearn

int main(int argc, char** argv) { return replearn::Main(argc, argv); }
