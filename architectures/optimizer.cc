#include "architectures/optimizer.h"

#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace replearn {

void SgdOptimizer::Apply(int /*slot*/, float* param, const float* grad, int64_t n) {
  const float neg_lr = -learning_rate_;
  for (int64_t i = 0; i < n; ++i) param[i] += neg_lr * grad[i];
}

void AdamOptimizer::Apply(int slot, float* param, const float* grad, int64_t n) {
  if (slot >= static_cast<int>(state_.size())) state_.resize(slot + 1);
  State& s = state_[slot];
  if (s.m.size() != static_cast<size_t>(n)) {
    s.t = 0;
    s.m.assign(n, 0.0f);
    s.v.assign(n, 0.0f);
  }
  ++s.t;
  // As torch.optim.Adam (single-tensor path): bias corrections in double, applied as
  // step_size = lr / bc1 and denominator sqrt(v) / sqrt(bc2) + eps.
  const double bc1 = 1.0 - std::pow(static_cast<double>(beta1_), static_cast<double>(s.t));
  const double bc2 = 1.0 - std::pow(static_cast<double>(beta2_), static_cast<double>(s.t));
  const float step_size = static_cast<float>(learning_rate_ / bc1);
  const float bc2_sqrt = static_cast<float>(std::sqrt(bc2));
  const float b1 = beta1_, b2 = beta2_, eps = epsilon_;
  float* m = s.m.data();
  float* v = s.v.data();
  for (int64_t i = 0; i < n; ++i) {
    const float g = grad[i];
    m[i] = b1 * m[i] + (1.0f - b1) * g;
    v[i] = b2 * v[i] + (1.0f - b2) * g * g;
    param[i] -= step_size * m[i] / (std::sqrt(v[i]) / bc2_sqrt + eps);
  }
}

absl::StatusOr<std::unique_ptr<Optimizer>> CreateOptimizer(const TrainingSpec& training) {
  const float lr = static_cast<float>(training.learning_rate());
  switch (training.optimizer()) {
    case SGD:
      return std::unique_ptr<Optimizer>(new SgdOptimizer(lr));
    case ADAM: {
      const AdamSpec& a = training.adam();
      std::vector<std::string> problems;
      if (!(a.beta1() >= 0 && a.beta1() < 1)) {
        problems.push_back(
            absl::StrCat("training.adam.beta1 = ", a.beta1(), "; must be in [0, 1)"));
      }
      if (!(a.beta2() >= 0 && a.beta2() < 1)) {
        problems.push_back(
            absl::StrCat("training.adam.beta2 = ", a.beta2(), "; must be in [0, 1)"));
      }
      if (!(a.epsilon() > 0) || !std::isfinite(a.epsilon())) {
        problems.push_back(absl::StrCat("training.adam.epsilon = ", a.epsilon(), "; must be > 0"));
      }
      if (!problems.empty()) return absl::InvalidArgumentError(absl::StrJoin(problems, "\n"));
      return std::unique_ptr<Optimizer>(new AdamOptimizer(lr, static_cast<float>(a.beta1()),
                                                          static_cast<float>(a.beta2()),
                                                          static_cast<float>(a.epsilon())));
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "training.optimizer = ", static_cast<int>(training.optimizer()), "; expected SGD or ADAM"));
}

}  // namespace replearn
