#include "architectures/optimizer.h"

#include <cmath>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace replearn {
namespace {

using ::testing::HasSubstr;

TEST(SgdOptimizer, SubtractsRateTimesGradientAndReportsItsRateForFusion) {
  SgdOptimizer sgd(0.5f);
  EXPECT_EQ(sgd.fused_sgd_rate(), 0.5f);
  std::vector<float> p = {1.0f, -2.0f, 3.0f};
  const std::vector<float> g = {0.25f, 1.0f, -4.0f};
  sgd.Apply(0, p.data(), g.data(), 3);
  EXPECT_EQ(p, (std::vector<float>{0.875f, -2.5f, 5.0f}));
}

// Adam against the textbook recursion written out in double for a scalar parameter.
TEST(AdamOptimizer, MatchesTheRecursionInDoubleOverManySteps) {
  const double lr = 1e-2, b1 = 0.9, b2 = 0.999, eps = 1e-8;
  AdamOptimizer adam(lr, b1, b2, eps);
  EXPECT_EQ(adam.fused_sgd_rate(), 0.0f);
  float p = 1.0f;
  double q = 1.0, m = 0, v = 0;
  for (int t = 1; t <= 200; ++t) {
    // Gradient of 1/2 (x - 0.3)^2 plus a sign-alternating term.
    const double g = (q - 0.3) + 0.05 * ((t % 2) ? 1 : -1);
    const float gf = static_cast<float>(g);
    adam.Apply(0, &p, &gf, 1);
    m = b1 * m + (1 - b1) * gf;
    v = b2 * v + (1 - b2) * double{gf} * gf;
    const double mhat = m / (1 - std::pow(b1, t));
    const double vhat = v / (1 - std::pow(b2, t));
    q -= lr * mhat / (std::sqrt(vhat) + eps);
    ASSERT_NEAR(p, q, 1e-5 * (1 + std::fabs(q))) << "step " << t;
  }
  // The first step moves by lr (times the sign of g) regardless of g's scale.
  AdamOptimizer fresh(lr, b1, b2, eps);
  float a = 0.0f;
  const float big = 1e4f;
  fresh.Apply(3, &a, &big, 1);
  EXPECT_NEAR(a, -lr, 1e-7);
}

TEST(AdamOptimizer, KeepsSeparateStatePerSlot) {
  AdamOptimizer adam(0.1f, 0.9f, 0.999f, 1e-8f);
  float p0 = 0, p1 = 0;
  const float g = 1.0f;
  for (int i = 0; i < 3; ++i) adam.Apply(0, &p0, &g, 1);
  adam.Apply(1, &p1, &g, 1);
  EXPECT_NEAR(p1, -0.1f, 1e-6);  // slot 1's first step, unaffected by slot 0's three
  EXPECT_NEAR(p0, -0.3f, 1e-5);  // constant gradient: every step moves by lr
}

TEST(CreateOptimizer, BuildsEachEnumValueAndRejectsBadHyperparameters) {
  TrainingSpec t;
  t.set_learning_rate(0.25);
  auto sgd = CreateOptimizer(t);
  ASSERT_TRUE(sgd.ok());
  EXPECT_EQ((*sgd)->fused_sgd_rate(), 0.25f);
  t.set_optimizer(ADAM);
  auto adam = CreateOptimizer(t);
  ASSERT_TRUE(adam.ok());
  EXPECT_EQ((*adam)->fused_sgd_rate(), 0.0f);
  t.mutable_adam()->set_beta1(1.0);
  t.mutable_adam()->set_epsilon(0);
  auto bad = CreateOptimizer(t);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()),
              HasSubstr("training.adam.beta1 = 1; must be in [0, 1)"));
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("training.adam.epsilon = 0"));
}

}  // namespace
}  // namespace replearn
