// Loading experiment specs: text-format parsing with file:line:col errors, and
// `--set=path=value` overrides resolved by protobuf reflection.
#ifndef REPLEARN_EXPERIMENTS_LOADER_H_
#define REPLEARN_EXPERIMENTS_LOADER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/experiment.pb.h"

namespace replearn {

// Parses a text-format Experiment. `source` names the text in errors, which read
//   "<source>:<line>:<column>: <problem>"
// (1-based), one line per problem. An unknown plugin arm (e.g. `architecture { resnet {} }`
// when no such arm exists) lists the registered plugins of that kind.
absl::StatusOr<Experiment> ParseExperiment(absl::string_view text, absl::string_view source);

// Reads and parses a spec file (NotFound naming the path if it cannot be read).
absl::StatusOr<Experiment> LoadExperiment(const std::string& path);

// Applies one override "path=value", e.g. "training.learning_rate=0.01",
// "architecture.mlp.width=64", "probe.0.two_point.every=10",
// "probe.two_point.layers=[1,2,3]" (repeated scalars take a list; a repeated message field
// takes an index segment, or none when it has exactly one element).
// Scalars parse by field type (ints, floats, bool true/false/1/0, strings, enum names).
// Setting a field under a different oneof arm than the spec uses is an error, so a typo
// cannot silently switch architectures.
absl::Status ApplyOverride(Experiment& experiment, absl::string_view assignment);

// Applies every override; reports all failures at once.
absl::Status ApplyOverrides(Experiment& experiment, const std::vector<std::string>& assignments);

// The spec as text format (what spec.pbtxt in a run folder holds).
std::string ExperimentToText(const Experiment& experiment);

}  // namespace replearn

#endif  // REPLEARN_EXPERIMENTS_LOADER_H_
