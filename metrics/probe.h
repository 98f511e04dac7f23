// The probe plugin interface. Probes read a network's taps on a schedule and write rows
// to the run's CurveLog. They never change the network or the training.
//
// Timing: at a step the probe observes, it sees the network *before* that step's update,
// in eval mode (dropout off), on its own probe batch. The trainer reuses its own forward
// pass when the probe batch is the training batch and the architecture behaves the same
// in both modes, so a probe on full-batch two-point training costs almost nothing.
//
// Adding a plugin: an options message as an arm of ProbeSpec.kind in
// proto/experiment.proto, one .cc with REGISTER_PROBE("arm_name", Factory) in an
// alwayslink cc_library, and that library in //metrics:all.
#ifndef REPLEARN_METRICS_PROBE_H_
#define REPLEARN_METRICS_PROBE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "architectures/architecture.h"
#include "core/registry.h"
#include "datasets/dataset.h"
#include "metrics/curve_log.h"
#include "proto/experiment.pb.h"

namespace replearn {

// Given to probes while observing a step.
class ProbeContext {
 public:
  virtual ~ProbeContext() = default;
  // The network after an eval-mode forward on x ([batch, input_dim], row-major). x must
  // stay valid until the step's update (probes pass rows of the Dataset).
  virtual absl::StatusOr<const Architecture*> EvalForward(const float* x, int batch) = 0;
  // The run folder, for probes that write files of their own (distance_matrix, mds);
  // RunExperiment sets it (TrainOptions::out_dir). "" = none: such probes then fail.
  std::string out_dir;
};

class Probe {
 public:
  virtual ~Probe() = default;
  // Whether the probe records at `step` (steps run 0..last_step).
  virtual bool ObservesStep(int64_t step, int64_t last_step) const = 0;
  virtual absl::Status Observe(int64_t step, ProbeContext& ctx, CurveLog& log) = 0;
};

// What a probe factory may inspect to validate itself (e.g. layer indices).
struct ProbeBuildContext {
  const Dataset* data = nullptr;
  const Architecture* net = nullptr;
};

using ProbeFactory = std::function<absl::StatusOr<std::unique_ptr<Probe>>(
    const ProbeSpec&, const ProbeBuildContext&)>;

Registry<ProbeFactory>& ProbeRegistry();

absl::StatusOr<std::unique_ptr<Probe>> CreateProbe(const ProbeSpec& spec,
                                                   const ProbeBuildContext& ctx);

}  // namespace replearn

#define REGISTER_PROBE(name, factory) REPLEARN_REGISTER(::replearn::ProbeRegistry, name, factory)

#endif  // REPLEARN_METRICS_PROBE_H_
