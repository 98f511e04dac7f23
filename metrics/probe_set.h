// What the file-writing probes (distance_matrix, mds) share: their fixed example set
// (ExampleSetSpec), their layer list and their recording schedule.
#ifndef REPLEARN_METRICS_PROBE_SET_H_
#define REPLEARN_METRICS_PROBE_SET_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "datasets/dataset.h"
#include "google/protobuf/repeated_field.h"
#include "proto/experiment.pb.h"

namespace replearn {

// A probe's examples, copied out of the training set so that they are contiguous.
struct ProbeSet {
  std::vector<int> indices;  // training-set rows, in the probe's order
  MatrixRM x;                // [n, input_dim]: data.x rows `indices`
  MatrixRM y;                // [n, output_dim]: data.y rows `indices`
  std::vector<int> labels;   // data.labels of the rows; empty when the data has none
  // data.x itself when the set is the whole training set in order, else null.
  const float* whole_data_x = nullptr;
  // What to hand to ProbeContext::EvalForward: data.x when the set is the whole training
  // set in order (the trainer then reuses its full-batch forward), else the set's own x.
  const float* forward_x() const { return whole_data_x != nullptr ? whole_data_x : x.data(); }
  int size() const { return static_cast<int>(indices.size()); }
};

// Resolves an ExampleSetSpec against the training set. `field` is the spec path used in
// errors, e.g. "probe.distance_matrix.examples". InvalidArgument naming the field and value
// when no or more than one selection is set, the set has fewer than two examples, an index
// is out of range or repeated, count exceeds the training set, or per_class is used on data
// without labels or a class has too few examples. The dataset must outlive the set.
absl::StatusOr<ProbeSet> ResolveProbeSet(const ExampleSetSpec& spec, const Dataset& data,
                                         absl::string_view field);

// The hidden layers of a probe: `layers` (sorted, duplicates removed), or {num_hidden / 2}
// when empty. Appends one problem per layer outside 0 .. num_hidden - 1, naming `field`.
std::vector<int> ResolveLayers(const google::protobuf::RepeatedField<int32_t>& layers,
                               int num_hidden, absl::string_view field,
                               std::vector<std::string>& problems);

// When a file-writing probe records: step 0; every step in `steps`; every `every`-th step
// when every > 0; the last step when at_end.
class StepSchedule {
 public:
  // Appends a problem (naming `field`) for a negative step or a negative `every`.
  static StepSchedule Create(const google::protobuf::RepeatedField<int64_t>& steps, int every,
                             bool at_end, absl::string_view field,
                             std::vector<std::string>& problems);
  bool Observes(int64_t step, int64_t last_step) const;

 private:
  std::vector<int64_t> steps_;  // sorted
  int every_ = 0;
  bool at_end_ = true;
};

// Euclidean distances between the rows of a row-major [n, dim] float array, accumulated in
// double: D(i, j) = sqrt(sum_k (r_ik - r_jk)^2), symmetric with a zero diagonal.
Eigen::MatrixXd PairwiseDistances(const float* rows, int n, int dim);

}  // namespace replearn

#endif  // REPLEARN_METRICS_PROBE_SET_H_
