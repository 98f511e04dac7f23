// Command lines of the experiment mains (absl flags): parsing with a useful --help, paths
// as the user meant them, the shared checks of flag values, and loading a spec with --set
// overrides.
//
//   ABSL_FLAG(std::string, out, "runs/mine", "output folder");
//   ABSL_FLAG(int, threads, 0, "runs trained at once; 0 = all cores");
//   ABSL_FLAG(std::string, set, "", "PATH=VALUE: override one spec field; repeatable");
//   int main(int argc, char** argv) {
//     std::vector<std::string> sets;
//     ParseExperimentFlags(argc, argv, "mine [flags]", &sets);
//     if (absl::Status s = CheckThreads(absl::GetFlag(FLAGS_threads)); !s.ok()) ...
//     const std::string out = UserPath(absl::GetFlag(FLAGS_out));
#ifndef REPLEARN_EXPERIMENTS_FLAGS_UTIL_H_
#define REPLEARN_EXPERIMENTS_FLAGS_UTIL_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/experiment.pb.h"

namespace replearn {

// Parses the command line with absl::ParseCommandLine and returns the positional arguments
// (argv[0] not included). `usage` heads the --help text, which lists every flag defined in
// a file under experiments/ with its help text (absl's default lists only flags of a file
// named after the binary, which the fig_* aliases do not have). Unknown flags, bad values
// and --help end the program there (absl; exit status 1).
//
// When `sets` is given, every --set=VALUE (or --set VALUE) before a bare "--" is taken out
// of argv first and appended to *sets in order: absl keeps only the last value of a repeated
// flag, and --set is repeatable. The main still defines ABSL_FLAG(std::string, set, ...) so
// that --help lists it; that flag's own value stays empty.
std::vector<std::string> ParseExperimentFlags(int argc, char** argv, const std::string& usage,
                                              std::vector<std::string>* sets = nullptr);

// A path given on the command line: a relative one resolves against BUILD_WORKING_DIRECTORY
// (the directory `bazel run` was started from) when that is set; otherwise unchanged.
std::string UserPath(const std::string& path);

// --threads: OK for threads >= 0 (0 = all cores), else
// InvalidArgumentError("--threads = -1; must be >= 0 (0 = all cores)").
absl::Status CheckThreads(int threads);

// Loads a spec file (LoadExperiment) and applies the PATH=VALUE overrides (ApplyOverrides);
// errors name the file.
absl::StatusOr<Experiment> LoadSpecWithOverrides(const std::string& path,
                                                 const std::vector<std::string>& sets);

}  // namespace replearn

#endif  // REPLEARN_EXPERIMENTS_FLAGS_UTIL_H_
