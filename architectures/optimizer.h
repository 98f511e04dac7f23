// Optimisers: how an architecture's backward pass turns gradients into parameter updates.
//
// An architecture's Backward computes dL/dp for each parameter tensor p and hands it to
// Optimizer::Apply together with the tensor's slot (its index in Architecture::parameters(),
// stable across steps), so stateful optimisers (Adam) keep per-tensor state without the
// architecture knowing which optimiser runs. Plain SGD additionally reports its rate through
// fused_sgd_rate(), so a layer may fuse W -= rate * dW into its backward pass without ever
// materialising dW (dense.h does); the update must then be exactly that.
#ifndef REPLEARN_ARCHITECTURES_OPTIMIZER_H_
#define REPLEARN_ARCHITECTURES_OPTIMIZER_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/experiment.pb.h"

namespace replearn {

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  // > 0 when the update is plain SGD, p -= fused_sgd_rate() * g, which layers may apply
  // inside their backward pass instead of calling Apply; 0 otherwise.
  virtual float fused_sgd_rate() const { return 0.0f; }
  // Updates the n floats of parameter tensor `slot` in place given their gradient.
  virtual void Apply(int slot, float* param, const float* grad, int64_t n) = 0;
};

// p -= learning_rate * g.
class SgdOptimizer final : public Optimizer {
 public:
  explicit SgdOptimizer(float learning_rate) : learning_rate_(learning_rate) {}
  float fused_sgd_rate() const override { return learning_rate_; }
  void Apply(int slot, float* param, const float* grad, int64_t n) override;

 private:
  float learning_rate_;
};

// torch.optim.Adam without weight decay or amsgrad (formula in experiment.proto, AdamSpec).
// The step count t is kept per slot (each slot is updated once per training step), moments
// start at 0 and are allocated on a slot's first update.
class AdamOptimizer final : public Optimizer {
 public:
  AdamOptimizer(float learning_rate, float beta1, float beta2, float epsilon)
      : learning_rate_(learning_rate), beta1_(beta1), beta2_(beta2), epsilon_(epsilon) {}
  void Apply(int slot, float* param, const float* grad, int64_t n) override;

 private:
  struct State {
    int64_t t = 0;
    std::vector<float> m, v;
  };
  float learning_rate_, beta1_, beta2_, epsilon_;
  std::vector<State> state_;  // by slot
};

// The optimiser of training.optimizer with its hyperparameters. InvalidArgument naming the
// field for an unknown enum value or an out-of-range hyperparameter.
absl::StatusOr<std::unique_ptr<Optimizer>> CreateOptimizer(const TrainingSpec& training);

}  // namespace replearn

#endif  // REPLEARN_ARCHITECTURES_OPTIMIZER_H_
