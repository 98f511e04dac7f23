// The two_point probe's choice of examples, shared with the run's theory analysis (which
// needs their dx2 and dy2).
#ifndef REPLEARN_METRICS_TWO_POINT_H_
#define REPLEARN_METRICS_TWO_POINT_H_

#include <utility>

#include "absl/status/statusor.h"
#include "datasets/dataset.h"
#include "proto/experiment.pb.h"

namespace replearn {

// The training-set rows (a, b) the probe follows: index_a/index_b, or the first example of
// class_a/class_b when those are >= 0. InvalidArgument naming the field when an index is
// out of range, a class has no example or the dataset has no labels, or a == b.
absl::StatusOr<std::pair<int, int>> TwoPointExamples(const TwoPointProbeSpec& spec,
                                                     const Dataset& data);

}  // namespace replearn

#endif  // REPLEARN_METRICS_TWO_POINT_H_
