// The architecture plugin interface. An Architecture is a trainable network on oneDNN:
// forward on a row-major batch, named taps (post-activation output of every hidden layer,
// plus the output), and a backward pass that hands its gradients to an Optimizer.
//
// Adding a plugin (see architectures/README.md): add an options message as an arm of
// ArchitectureSpec.kind in proto/experiment.proto, write one .cc with
//   REGISTER_ARCHITECTURE("arm_name", Factory);
// in an alwayslink cc_library, and add that library to //architectures:all.
#ifndef REPLEARN_ARCHITECTURES_ARCHITECTURE_H_
#define REPLEARN_ARCHITECTURES_ARCHITECTURE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "architectures/optimizer.h"
#include "core/registry.h"
#include "proto/experiment.pb.h"

namespace replearn {

// What a factory knows beyond its options.
struct BuildContext {
  int input_dim = 0;   // from the dataset (used when the spec leaves it 0)
  int output_dim = 0;  // from the dataset
  uint64_t seed = 0;   // initialisation seed (training.seed)
};

// A read-only view of one activation: `batch` rows of `dim` floats, row-major.
struct Tap {
  std::string name;  // "hidden_0", ..., "output"
  int dim = 0;
  const float* data = nullptr;
};

// A trainable parameter tensor, row-major, in forward order. Dense weights are [out, in]
// (PyTorch nn.Linear layout), biases [out].
struct Parameter {
  std::string name;  // "W0", "b0", "W1", ...
  std::vector<int64_t> shape;
  float* data = nullptr;
  int64_t size() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
};

class Architecture {
 public:
  virtual ~Architecture() = default;

  virtual int input_dim() const = 0;
  virtual int output_dim() const = 0;
  // Number of hidden layers (taps "hidden_0" .. "hidden_{n-1}").
  virtual int num_hidden() const = 0;
  // True when training-mode forward differs from eval mode (e.g. dropout), so probes
  // cannot reuse the training forward.
  virtual bool has_train_only_behaviour() const { return false; }

  // Forward pass on x ([batch, input_dim], row-major); keeps what Backward needs. Buffers
  // and primitives for a batch size are built on first use and reused afterwards.
  virtual absl::Status Forward(const float* x, int batch, bool train) = 0;
  // Results of the last Forward: [batch, output_dim] and [batch, dim] per hidden layer.
  virtual const float* output() const = 0;
  virtual Tap hidden(int layer) const = 0;

  // Backpropagates d_output = dL/d(output) ([batch, output_dim], of the last Forward)
  // and updates every parameter once through `optimizer`: Apply(slot, p, dL/dp, n) with
  // slot = the tensor's index in parameters(), or, when optimizer.fused_sgd_rate() > 0,
  // p -= rate * dL/dp applied any way the layer likes (optimizer.h). A second Backward
  // without a Forward in between is FailedPrecondition.
  virtual absl::Status Backward(const float* d_output, Optimizer& optimizer) = 0;

  // Backward with plain SGD at `learning_rate`.
  absl::Status BackwardSgd(const float* d_output, float learning_rate) {
    SgdOptimizer sgd(learning_rate);
    return Backward(d_output, sgd);
  }

  // All parameters, in forward order.
  virtual std::vector<Parameter> parameters() = 0;
};

using ArchitectureFactory = std::function<absl::StatusOr<std::unique_ptr<Architecture>>(
    const ArchitectureSpec&, const BuildContext&)>;

Registry<ArchitectureFactory>& ArchitectureRegistry();

// Looks up the factory for spec's oneof arm and builds the architecture. Errors:
// InvalidArgument when no arm is set, NotFound (listing registered names) when the arm
// has no plugin linked in.
absl::StatusOr<std::unique_ptr<Architecture>> CreateArchitecture(const ArchitectureSpec& spec,
                                                                 const BuildContext& ctx);

}  // namespace replearn

#define REGISTER_ARCHITECTURE(name, factory) \
  REPLEARN_REGISTER(::replearn::ArchitectureRegistry, name, factory)

#endif  // REPLEARN_ARCHITECTURES_ARCHITECTURE_H_
