#include "theory/linearised_flow.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "absl/status/status.h"
#include "core/rng.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "theory/closed_form.h"
#include "theory/integrate.h"

namespace replearn {
namespace {

using ::testing::HasSubstr;

// docs/theory.md check 1 set-up: scalar input and output, x = (-1, 0), y* = (0.6, 0.6 + sqrt 0.5),
// 30 hidden units, (tau_h, tau_y, tau_ybar) = (2, 5, 3), D_h = 0.3 N(0, 1), ybar = 0.1.
constexpr int kHidden = 30;
constexpr double kDt = 1e-3;
constexpr double kT = 60.0;
const TimeConstants kTaus{2.0, 5.0, 3.0};

TwoPointData CheckOneData() {
  TwoPointData d;
  d.x1 = Eigen::VectorXd::Constant(1, -1.0);
  d.x2 = Eigen::VectorXd::Constant(1, 0.0);
  d.y1_star = Eigen::VectorXd::Constant(1, 0.6);
  d.y2_star = Eigen::VectorXd::Constant(1, 0.6 + std::sqrt(0.5));
  return d;
}

enum class DecoderStart { kAligned, kMisalignedSameNorm, kMisalignedIid };

LinearisedParams CheckOneStart(DecoderStart kind, uint64_t seed) {
  Rng rng(seed);
  LinearisedParams p;
  p.ybar = Eigen::VectorXd::Constant(1, 0.1);
  p.d_h.resize(kHidden, 1);
  for (int i = 0; i < kHidden; ++i) p.d_h(i, 0) = 0.3 * rng.Normal();
  const Eigen::VectorXd dh = p.d_h * Eigen::VectorXd::Constant(1, 1.0);  // dx = 1
  if (kind == DecoderStart::kAligned) {
    p.d_y = 0.2 * dh.transpose();
    return p;
  }
  p.d_y.resize(1, kHidden);
  for (int i = 0; i < kHidden; ++i) p.d_y(0, i) = 0.2 * rng.Normal();
  // Same norm as the aligned start, random direction; or i.i.d. 0.2 N(0, 1) entries.
  if (kind == DecoderStart::kMisalignedSameNorm) p.d_y *= 0.2 * dh.norm() / p.d_y.norm();
  return p;
}

std::vector<double> UnitTimes() {
  std::vector<double> t;
  for (int i = 0; i <= static_cast<int>(kT); ++i) t.push_back(i);
  return t;
}

struct Comparison {
  double max_abs_err = 0.0;        // over h, y, w at every unit time
  double max_loss_err = 0.0;       // [LOSS] with eta_ybar = 1/tau_ybar
  double max_loss_err_half = 0.0;  // [LOSS] with eta_ybar = 1/(2 tau_ybar)
  double final_h_flow = 0.0;
  double final_h_theory = 0.0;  // [FINAL] from the flow's initial state
};

Comparison CompareFlowWithOde(const LinearisedParams& start) {
  Comparison c;
  const TwoPointData data = CheckOneData();
  const auto flow = SimulateLinearisedFlow(start, data, kTaus, kDt, UnitTimes());
  EXPECT_TRUE(flow.ok()) << flow.status();
  if (!flow.ok()) return c;
  const Rates rates = RatesFromTimeConstants(kTaus);
  const double dx2 = 1.0, dy2 = 0.5;
  const State s0{flow->h[0], flow->y[0], flow->w[0]};
  const auto ode = IntegrateOde(s0, OdeParams{rates.eta_h, rates.eta_y, dx2, dy2}, UnitTimes());
  EXPECT_TRUE(ode.ok()) << ode.status();
  if (!ode.ok()) return c;
  for (size_t i = 0; i < flow->t.size(); ++i) {
    c.max_abs_err = std::max({c.max_abs_err, std::abs(flow->h[i] - ode->h[i]),
                              std::abs(flow->y[i] - ode->y[i]), std::abs(flow->w[i] - ode->w[i])});
    const double t = flow->t[i];
    c.max_loss_err = std::max(
        c.max_loss_err, std::abs(flow->loss[i] - AnalyticLoss(t, flow->ybar_err2[0], rates.eta_ybar,
                                                              ode->y[i], ode->w[i], dy2)));
    c.max_loss_err_half =
        std::max(c.max_loss_err_half,
                 std::abs(flow->loss[i] - AnalyticLoss(t, flow->ybar_err2[0], 0.5 / kTaus.tau_ybar,
                                                       ode->y[i], ode->w[i], dy2)));
  }
  c.final_h_flow = flow->h.back();
  c.final_h_theory = FinalH(s0.h, s0.y, dx2, dy2, rates.eta_h / rates.eta_y);
  return c;
}

// docs/theory.md check 1: from an aligned start the [ODE] with eta = 1/(2 tau) reproduces the
// brute-force flow to 1e-4 at every unit time, and the flow ends at [FINAL].
TEST(LinearisedFlow, AlignedStartFollowsOdeAndEndsAtFinalH) {
  for (uint64_t seed : {1, 2, 3}) {
    const Comparison c = CompareFlowWithOde(CheckOneStart(DecoderStart::kAligned, seed));
    std::printf(
        "seed %d aligned: max |flow - ODE| = %.3g, final h flow %.6g vs [FINAL] %.6g, "
        "max loss err %.3g (eta_ybar = 1/tau) vs %.3g (1/(2 tau))\n",
        static_cast<int>(seed), c.max_abs_err, c.final_h_flow, c.final_h_theory, c.max_loss_err,
        c.max_loss_err_half);
    EXPECT_LE(c.max_abs_err, 1e-4) << "seed " << seed;
    EXPECT_NEAR(c.final_h_flow, c.final_h_theory, 1e-3 * c.final_h_theory) << "seed " << seed;
    // [LOSS] holds with eta_ybar = 1/tau_ybar; the 1/(2 tau) convention of eta_h, eta_y is
    // clearly off for the mean output.
    EXPECT_LE(c.max_loss_err, 1e-4) << "seed " << seed;
    EXPECT_GT(c.max_loss_err_half, 1e-3) << "seed " << seed;
  }
}

// The contrast of check 1: a misaligned D_y breaks the closure, agreement only ~0.1.
TEST(LinearisedFlow, MisalignedStartDeviatesFromOde) {
  for (uint64_t seed : {1, 2, 3}) {
    for (DecoderStart kind : {DecoderStart::kMisalignedSameNorm, DecoderStart::kMisalignedIid}) {
      const Comparison c = CompareFlowWithOde(CheckOneStart(kind, seed));
      std::printf("seed %d misaligned (%s): max |flow - ODE| = %.3g\n", static_cast<int>(seed),
                  kind == DecoderStart::kMisalignedIid ? "iid 0.2 N(0,1)" : "aligned norm",
                  c.max_abs_err);
      EXPECT_GT(c.max_abs_err, 1e-2) << "seed " << seed;
    }
  }
}

TEST(LinearisedFlow, EulerErrorShrinksLinearlyWithDt) {
  // First-order method: halving dt halves the distance to the [ODE] solution.
  const LinearisedParams start = CheckOneStart(DecoderStart::kAligned, 1);
  const TwoPointData data = CheckOneData();
  const std::vector<double> times = {0.0, 10.0};
  const auto coarse = SimulateLinearisedFlow(start, data, kTaus, 4e-3, times);
  const auto fine = SimulateLinearisedFlow(start, data, kTaus, 2e-3, times);
  ASSERT_TRUE(coarse.ok() && fine.ok());
  const Rates rates = RatesFromTimeConstants(kTaus);
  const auto ode = IntegrateOde(State{coarse->h[0], coarse->y[0], coarse->w[0]},
                                OdeParams{rates.eta_h, rates.eta_y, 1.0, 0.5}, times);
  ASSERT_TRUE(ode.ok());
  const double err_coarse = std::abs(coarse->h[1] - ode->h[1]);
  const double err_fine = std::abs(fine->h[1] - ode->h[1]);
  EXPECT_NEAR(err_coarse / err_fine, 2.0, 0.1);
}

TEST(LinearisedFlow, MeasurementMatchesDefinitionsAndLossSplit) {
  TwoPointData d;
  d.x1 = Eigen::Vector2d(1.0, 0.0);
  d.x2 = Eigen::Vector2d(0.0, 2.0);
  d.y1_star = Eigen::Vector2d(0.5, -1.0);
  d.y2_star = Eigen::Vector2d(1.5, 1.0);
  LinearisedParams p;
  p.ybar = Eigen::Vector2d(0.2, 0.3);
  p.d_h = Eigen::MatrixXd::Identity(3, 2);  // dh = (-1, 2, 0)
  p.d_y = Eigen::MatrixXd::Zero(2, 3);
  p.d_y(0, 0) = 1.0;  // dyhat = (-1, 2)
  p.d_y(1, 1) = 1.0;
  const FlowMeasurement m = MeasureLinearised(p, d);
  EXPECT_DOUBLE_EQ(m.h, 5.0);
  EXPECT_DOUBLE_EQ(m.y, 5.0);
  EXPECT_DOUBLE_EQ(m.w, 5.0 - (1.0 * -1.0 + 2.0 * 2.0));  // dy* = (1, 2)
  EXPECT_DOUBLE_EQ(m.ybar_err2, 0.8 * 0.8 + 0.3 * 0.3);   // ybar* = (1, 0)
  // yhat_i = ybar -/+ dyhat/2, the 1/2 MSE of the two points.
  const Eigen::Vector2d yhat1 = p.ybar + 0.5 * Eigen::Vector2d(1.0, -2.0);
  const Eigen::Vector2d yhat2 = p.ybar - 0.5 * Eigen::Vector2d(1.0, -2.0);
  const double mse = 0.25 * ((yhat1 - d.y1_star).squaredNorm() + (yhat2 - d.y2_star).squaredNorm());
  EXPECT_NEAR(m.loss, mse, 1e-14);
}

TEST(LinearisedFlow, RejectsBadShapesAndTimes) {
  LinearisedParams p = CheckOneStart(DecoderStart::kAligned, 1);
  p.d_y.resize(1, 3);
  const auto bad_shape = SimulateLinearisedFlow(p, CheckOneData(), kTaus, kDt, {0.0});
  EXPECT_EQ(bad_shape.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad_shape.status().message(), HasSubstr("D_y 1x3"));
  const auto bad_time = SimulateLinearisedFlow(CheckOneStart(DecoderStart::kAligned, 1),
                                               CheckOneData(), kTaus, 0.1, {0.0, 0.25});
  EXPECT_EQ(bad_time.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad_time.status().message(), HasSubstr("times[1] = 0.25"));
}

}  // namespace
}  // namespace replearn
