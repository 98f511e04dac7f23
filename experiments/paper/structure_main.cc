// The representation-structure experiments of docs/theory.md section 7:
//
//   bazel run //experiments:xor [-- flags]              experiments/paper/xor_experiment.h
//   bazel run //experiments:mnist_structure [-- flags]  experiments/paper/mnist_structure_experiment.h
//   bazel run //experiments:context [-- flags]          experiments/paper/context_experiment.h
//
// (each target passes its experiment's name as the first argument).
//
//   --out=DIR          output folder (default runs/<experiment>)
//   --specs=PATH       spec folder (xor, context) or file (mnist_structure); default the
//                      packaged experiments/specs/...
//   --set=PATH=VALUE   override applied to every run, repeatable
//   --smoke            reduced size (seconds): a check that everything runs
//   --threads=N        runs trained at once (default: all cores; each run uses 1 thread)
//   --seeds=N          mnist_structure: networks to average (default 10)
//   --no_figures       skip the gnuplot figures
//   --quiet            no progress lines
// Prints the key figures (also in DIR/summary.json). Exit codes: 0 done, 1 bad input,
// 2 some run failed (summary.json names it; the others are written).
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "core/file_util.h"
#include "experiments/paper/context_experiment.h"
#include "experiments/paper/mnist_structure_experiment.h"
#include "experiments/paper/xor_experiment.h"

namespace replearn {
namespace {

constexpr char kUsage[] =
    "usage: structure <xor|mnist_structure|context> [--out=DIR] [--specs=PATH] "
    "[--set=PATH=VALUE]... [--smoke] [--threads=N] [--seeds=N] [--no_figures] [--quiet]\n";

// A user path relative to where `bazel run` was started.
std::string UserPath(const std::string& path) {
  const char* wd = std::getenv("BUILD_WORKING_DIRECTORY");
  if (path.empty() || path[0] == '/' || wd == nullptr || *wd == '\0') return path;
  return JoinPath(wd, path);
}

int Main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return 1;
  }
  const std::string experiment = argv[1];
  if (experiment != "xor" && experiment != "mnist_structure" && experiment != "context") {
    std::fprintf(stderr, "structure: unknown experiment \"%s\"\n%s", experiment.c_str(), kUsage);
    return 1;
  }
  StructureOptions options;
  std::string out = "runs/" + experiment;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    absl::string_view v = arg;
    if (absl::ConsumePrefix(&v, "--out=")) {
      out = std::string(v);
    } else if (absl::ConsumePrefix(&v, "--specs=")) {
      options.specs = UserPath(std::string(v));
    } else if (absl::ConsumePrefix(&v, "--set=")) {
      options.sets.emplace_back(v);
    } else if (absl::ConsumePrefix(&v, "--threads=")) {
      if (!absl::SimpleAtoi(v, &options.threads) || options.threads < 0) {
        std::fprintf(stderr, "%s: --threads = \"%s\"; must be an integer >= 0\n",
                     experiment.c_str(), std::string(v).c_str());
        return 1;
      }
    } else if (absl::ConsumePrefix(&v, "--seeds=")) {
      if (!absl::SimpleAtoi(v, &options.seeds) || options.seeds < 1) {
        std::fprintf(stderr, "%s: --seeds = \"%s\"; must be an integer >= 1\n", experiment.c_str(),
                     std::string(v).c_str());
        return 1;
      }
    } else if (arg == "--smoke") {
      options.smoke = true;
    } else if (arg == "--no_figures") {
      options.figures = false;
    } else if (arg == "--quiet") {
      options.progress = false;
    } else if (arg == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else {
      std::fprintf(stderr, "%s: unknown argument \"%s\"\n%s", experiment.c_str(), arg.c_str(),
                   kUsage);
      return 1;
    }
  }
  options.out_dir = UserPath(out);
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
