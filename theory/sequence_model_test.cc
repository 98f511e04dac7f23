// The sequence two-point models against independent oracles: [ODE] of closed_form.h (N = 1
// and the 1/(N tau_y) decoder rate), fixed-step RK4 of the paper's right-hand sides, the
// Bernoulli closed form, the fixed-point formula, the conserved quantities, and, for the
// 9-scalar model, the moments of an explicit vector model whose gradient is taken by finite
// differences.
#include "theory/sequence_model.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <string>
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

constexpr double kRhsRelTol = 1e-12;  // two algebraic forms of one right-hand side
constexpr double kTrajRelTol = 1e-7;  // two integrations at solver rel_tol 1e-10
constexpr double kRk4RelTol = 1e-8;   // adaptive solver vs fixed-step RK4
constexpr double kConservedRelTol = 1e-7;
constexpr double kMergedRatio = 1e-8;  // h(T) / h(0) below which a pair counts as merged
constexpr double kFinalRelTol = 1e-6;  // h(T) against h(inf) for a pair that does not merge
constexpr double kMomentTol = 1e-9;    // moments of the vector model (finite differences)
// Once merged, h_2 - h_1 is rounding noise of the solver (rel_tol 1e-10 on h ~ 0.3).
constexpr double kRoundingD2 = 1e-18;

std::vector<double> LogTimes(double t_max, int n) {
  std::vector<double> t = {0.0};
  for (int i = 0; i < n; ++i) t.push_back(std::pow(t_max, (i + 1.0) / n));
  return t;
}

std::vector<double> LinTimes(double t_max, int n) {
  std::vector<double> t;
  for (int i = 0; i <= n; ++i) t.push_back(t_max * i / n);
  return t;
}

// A w consistent with a scalar output (closed_form.h, signed form).
double ConsistentW(double y, double dy2, double sign) {
  return y - std::sqrt(dy2) * sign * std::sqrt(y);
}

void ExpectClose(double actual, double expected, double rel_tol, const std::string& what) {
  EXPECT_NEAR(actual, expected, rel_tol * std::max(std::abs(expected), 1e-300)) << what;
}

// Classic RK4 with fixed step dt; f maps a state to its derivative.
template <typename T>
T Rk4(T x, double t_end, double dt, const std::function<T(const T&)>& f) {
  const int steps = static_cast<int>(std::lround(t_end / dt));
  auto axpy = [](const T& a, double s, const T& b) {
    T r = a;
    for (size_t i = 0; i < r.size(); ++i) r[i] += s * b[i];
    return r;
  };
  for (int i = 0; i < steps; ++i) {
    const T k1 = f(x);
    const T k2 = f(axpy(x, dt / 2, k1));
    const T k3 = f(axpy(x, dt / 2, k2));
    const T k4 = f(axpy(x, dt, k3));
    for (size_t j = 0; j < x.size(); ++j) x[j] += dt / 6 * (k1[j] + 2 * k2[j] + 2 * k3[j] + k4[j]);
  }
  return x;
}

// ------------------------------------------------------------------------------------------
// Mean-expansion model.

TEST(SequencePair, RhsIsOdeWithDecoderRateOverN) {
  Rng rng(1);
  for (int trial = 0; trial < 200; ++trial) {
    SequencePairParams p;
    p.tau_h = std::exp(3.0 * rng.Normal());
    p.tau_y = std::exp(3.0 * rng.Normal());
    p.num_continuations = 1 + static_cast<int>(rng.UniformInt(64));
    p.dy_star2 = trial % 3 == 0 ? 0.0 : std::exp(rng.Normal());
    const State s{std::exp(2.0 * rng.Normal()), std::exp(2.0 * rng.Normal()), rng.Normal()};
    const State paper = SequencePairRhs(s, p);
    const double eta_h = 1.0 / (2.0 * p.tau_h);
    const double eta_y = 1.0 / (2.0 * p.tau_y) / p.num_continuations;
    const State ode = OdeRhs(s, eta_h, eta_y, 1.0, p.dy_star2);
    ExpectClose(paper.h, ode.h, kRhsRelTol, "dh/dt");
    ExpectClose(paper.y, ode.y, kRhsRelTol, "dy/dt");
    ExpectClose(paper.w, ode.w, kRhsRelTol, "dw/dt");
    const OdeParams o = SequencePairOdeParams(p);
    EXPECT_DOUBLE_EQ(o.eta_h, eta_h);
    EXPECT_DOUBLE_EQ(o.eta_y, eta_y);
    EXPECT_EQ(o.dx2, 1.0);
    EXPECT_EQ(o.dy2, p.dy_star2);
  }
}

// At N = 1 the model is [ODE]: with tau_h = 1/(2 eta_h dx2), tau_y = 1/(2 eta_y) its
// trajectories are those of [ODE] at (eta_h, eta_y, dx2, dy2), for any dx2.
TEST(SequencePair, ReducesToOdeAtOneContinuation) {
  struct Case {
    State s0;
    OdeParams ode;
  };
  const Case cases[] = {
      {{0.2, 0.1, ConsistentW(0.1, 0.5, 1.0)}, {0.01, 0.05, 1.0, 0.5}},
      {{0.2, 0.1, ConsistentW(0.1, 0.5, -1.0)}, {0.01, 0.05, 0.5, 0.5}},
      {{1e-3, 1e-6, ConsistentW(1e-6, 1.0, 1.0)}, {0.002, 0.02, 2.0, 1.0}},
      {{0.3, 0.2, 0.2}, {0.05, 0.01, 1.5, 0.0}},  // agreeing, merges
  };
  for (bool signed_form : {true, false}) {
    IntegrateOptions options;
    options.use_signed_coordinates = signed_form;
    for (const Case& c : cases) {
      const SequencePairParams p{1.0 / (2.0 * c.ode.eta_h * c.ode.dx2), 1.0 / (2.0 * c.ode.eta_y),
                                 1, c.ode.dy2};
      const std::vector<double> times = LogTimes(1e4, 100);
      const auto seq = IntegrateSequencePair(c.s0, p, times, options);
      const auto ode = IntegrateOde(c.s0, c.ode, times, options);
      ASSERT_TRUE(seq.ok()) << seq.status();
      ASSERT_TRUE(ode.ok()) << ode.status();
      for (size_t i = 0; i < times.size(); ++i) {
        const double scale_h = std::max(ode->h[i], 1e-12 * c.s0.h);
        EXPECT_NEAR(seq->h[i], ode->h[i], kTrajRelTol * scale_h) << "t = " << times[i];
        const double scale_y = std::max(ode->y[i], 1e-12 * (c.s0.y + c.ode.dy2));
        EXPECT_NEAR(seq->y[i], ode->y[i], kTrajRelTol * scale_y) << "t = " << times[i];
        EXPECT_NEAR(seq->w[i], ode->w[i], kTrajRelTol * std::max(std::abs(ode->w[i]), scale_y))
            << "t = " << times[i];
      }
    }
  }
}

TEST(SequencePair, IntegrationMatchesRk4OfPaperForm) {
  const SequencePairParams p{8.0, 3.0, 3, 0.5};
  const State s0{0.1, 0.05, ConsistentW(0.05, 0.5, 1.0)};
  const std::vector<double> times = {0.0, 50.0, 100.0, 200.0};
  const auto tr = IntegrateSequencePair(s0, p, times);
  ASSERT_TRUE(tr.ok()) << tr.status();
  using V = std::array<double, 3>;
  const std::function<V(const V&)> f = [&p](const V& x) {
    const State d = SequencePairRhs(State{x[0], x[1], x[2]}, p);
    return V{d.h, d.y, d.w};
  };
  for (size_t i = 1; i < times.size(); ++i) {
    const V x = Rk4<V>({s0.h, s0.y, s0.w}, times[i], 1e-3, f);
    ExpectClose(tr->h[i], x[0], kRk4RelTol, "h");
    ExpectClose(tr->y[i], x[1], kRk4RelTol, "y");
    EXPECT_NEAR(tr->w[i], x[2], kRk4RelTol * (std::abs(x[2]) + x[1])) << "w";
  }
}

TEST(SequencePair, ConservedQuantityStaysConstant) {
  struct Case {
    State s0;
    SequencePairParams p;
  };
  const Case cases[] = {
      {{0.1, 0.05, ConsistentW(0.05, 0.5, 1.0)}, {10.0, 5.0, 1, 0.5}},
      {{0.1, 0.05, ConsistentW(0.05, 0.5, -1.0)}, {10.0, 5.0, 4, 0.5}},
      {{1e-3, 1e-5, ConsistentW(1e-5, 2.0, 1.0)}, {2.0, 1.0, 16, 2.0}},
      {{0.1, 0.05, 0.05}, {10.0, 5.0, 1, 0.0}},
      {{0.1, 0.01, 0.01}, {10.0, 5.0, 3, 0.0}},
  };
  for (const Case& c : cases) {
    const auto tr = IntegrateSequencePair(c.s0, c.p, LogTimes(1e5, 200));
    ASSERT_TRUE(tr.ok()) << tr.status();
    const double q0 = SequencePairConserved(c.s0, c.p);
    const double k = 1.0 / (c.p.num_continuations * c.p.tau_y / c.p.tau_h);
    for (size_t i = 0; i < tr->t.size(); ++i) {
      const State s{tr->h[i], tr->y[i], tr->w[i]};
      if (s.h < 1e-12) continue;  // merged: y/h is a ratio of two vanishing numbers
      const double scale = std::abs(s.y / s.h) + k * s.h;
      EXPECT_NEAR(SequencePairConserved(s, c.p), q0, kConservedRelTol * scale)
          << "t = " << tr->t[i] << ", N = " << c.p.num_continuations;
    }
  }
}

TEST(SequencePair, MergerConditionAgreesWithTrajectories) {
  struct Case {
    const char* name;
    State s0;
    SequencePairParams p;
    bool merges;
  };
  const Case cases[] = {
      // ratio N tau_y / tau_h = 0.5: A_high = 0.1 - 0.5 * 0.5 = -0.15.
      {"agreeing, A_high < 0", {0.1, 0.05, 0.05}, {10.0, 5.0, 1, 0.0}, true},
      // A_high = 0.1 - 0.5 * 0.1 = 0.05: h -> 0.05.
      {"agreeing, A_high > 0", {0.1, 0.01, 0.01}, {10.0, 5.0, 1, 0.0}, false},
      // The same pair with 4 continuations: ratio 2, A_high = -0.1.
      {"agreeing, more data", {0.1, 0.01, 0.01}, {10.0, 5.0, 4, 0.0}, true},
      // A_high < 0 but the targets differ (A_low = 0.5).
      {"disagreeing, A_high < 0",
       {0.1, 0.05, ConsistentW(0.05, 0.5, 1.0)},
       {10.0, 5.0, 1, 0.5},
       false},
      // Rich regime: tiny initial distance, h(inf) ~ A_low.
      {"disagreeing, rich", {1e-4, 1e-6, ConsistentW(1e-6, 1.0, 1.0)}, {2.0, 1.0, 2, 1.0}, false},
  };
  for (const Case& c : cases) {
    const auto pred = PredictMerger(c.s0, c.p);
    ASSERT_TRUE(pred.ok()) << pred.status();
    EXPECT_EQ(pred->merges, c.merges) << c.name;
    const auto tr = IntegrateSequencePair(c.s0, c.p, LogTimes(1e5, 100));
    ASSERT_TRUE(tr.ok()) << c.name << ": " << tr.status();
    const double h_end = tr->h.back();
    if (c.merges) {
      EXPECT_EQ(pred->final_h, 0.0) << c.name;
      EXPECT_LT(h_end, kMergedRatio * c.s0.h) << c.name;
    } else {
      EXPECT_GT(pred->final_h, 0.0) << c.name;
      EXPECT_NEAR(h_end, pred->final_h, kFinalRelTol * pred->final_h) << c.name;
    }
  }
  // The formulas of eq. 5 / 24-25 for the first and fourth case.
  const auto a = PredictMerger({0.1, 0.05, 0.05}, {10.0, 5.0, 1, 0.0});
  EXPECT_NEAR(a->a_high, -0.15, 1e-15);
  EXPECT_EQ(a->a_low, 0.0);
  const auto d = PredictMerger({0.1, 0.05, 0.0}, {10.0, 5.0, 1, 0.5});
  EXPECT_NEAR(d->a_low, 0.5, 1e-15);
  EXPECT_NEAR(d->final_h, -0.075 + std::sqrt(0.075 * 0.075 + 0.25), 1e-15);
}

TEST(SequencePair, AgreeingPairFollowsBernoulliClosedForm) {
  struct Case {
    double h0, y0;
    SequencePairParams p;
  };
  const Case cases[] = {
      {0.1, 0.05, {10.0, 5.0, 1, 0.0}},  // A_high < 0: merges
      {0.1, 0.01, {10.0, 5.0, 1, 0.0}},  // A_high > 0
      {0.1, 0.01, {10.0, 5.0, 4, 0.0}},  // N = 4
      {0.1, 0.02, {10.0, 5.0, 1, 0.0}},  // A_high = 0 up to rounding: algebraic decay
      {2.0, 0.5, {1.0, 0.3, 7, 0.0}},
  };
  for (const Case& c : cases) {
    const State s0{c.h0, c.y0, c.y0};
    const std::vector<double> times = LogTimes(1e4, 80);
    const auto tr = IntegrateSequencePair(s0, c.p, times);
    ASSERT_TRUE(tr.ok()) << tr.status();
    const OdeParams o = SequencePairOdeParams(c.p);
    for (size_t i = 0; i < times.size(); ++i) {
      const double closed = AgreeingPairDistance(c.h0, c.y0, c.p, times[i]);
      // Deep into a merge the integrated h keeps only a relative accuracy that degrades with
      // log(h0/h) (integrate.h, "Small h"): compare there against a floor of 1e-6 h0.
      EXPECT_NEAR(tr->h[i], closed, kTrajRelTol * std::max(closed, 1e-6 * c.h0))
          << "integrated vs eq. 35 at t = " << times[i];
      ExpectClose(LogisticSolution(s0, o.eta_h, o.eta_y, o.dx2, times[i]).h, closed, 1e-12,
                  "LogisticSolution vs eq. 35");
    }
  }
  EXPECT_EQ(AgreeingPairDistance(0.1, 0.05, {10.0, 5.0, 1, 0.0}, 0.0), 0.1);
  EXPECT_TRUE(std::isnan(AgreeingPairDistance(0.0, 0.05, {10.0, 5.0, 1, 0.0}, 1.0)));
  EXPECT_TRUE(std::isnan(AgreeingPairDistance(0.1, 0.05, {10.0, 5.0, 0, 0.0}, 1.0)));
}

TEST(SequencePair, CombinedHiddenTimeConstant) {
  EXPECT_DOUBLE_EQ(CombinedTauH(2.0, 2.0), 1.0);
  EXPECT_DOUBLE_EQ(CombinedTauH(1.0, 3.0), 0.75);
  EXPECT_TRUE(std::isnan(CombinedTauH(0.0, 1.0)));
}

TEST(SequencePair, RejectsBadParams) {
  const State s0{0.1, 0.05, 0.05};
  const std::vector<double> times = {0.0, 1.0};
  EXPECT_THAT(IntegrateSequencePair(s0, {0.0, 1.0, 1, 0.0}, times).status().message(),
              HasSubstr("tau_h = 0; must be finite and > 0"));
  EXPECT_THAT(IntegrateSequencePair(s0, {1.0, -2.0, 1, 0.0}, times).status().message(),
              HasSubstr("tau_y = -2; must be finite and > 0"));
  EXPECT_THAT(IntegrateSequencePair(s0, {1.0, 1.0, 0, 0.0}, times).status().message(),
              HasSubstr("num_continuations = 0; must be >= 1"));
  EXPECT_THAT(PredictMerger(s0, {1.0, 1.0, 1, -0.5}).status().message(),
              HasSubstr("dy_star2 = -0.5; must be finite and >= 0"));
  const auto zero_h = PredictMerger({0.0, 0.05, 0.05}, {1.0, 1.0, 1, 0.0});
  EXPECT_EQ(zero_h.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(zero_h.status().message(), HasSubstr("initial (h, y) = (0, 0.05)"));
}

// ------------------------------------------------------------------------------------------
// Fixed-expansion-point model.

// The model before reduction to moments: scalars h_1, h_2 and, per continuation i, vectors
// b_i, u_i = D_i v and targets y*_{1,i}, y*_{2,i} in R^k.
struct VectorModel {
  double h1 = 0.0, h2 = 0.0;
  std::vector<std::vector<double>> b, u, y1, y2;
};

double Dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0.0;
  for (size_t j = 0; j < a.size(); ++j) s += a[j] * b[j];
  return s;
}

// L = 1/2 < 1/2 sum_alpha ||b_i + u_i h_alpha - y*_{alpha,i}||^2 >.
double VectorLoss(const VectorModel& m) {
  const int n = static_cast<int>(m.b.size());
  double loss = 0.0;
  for (int i = 0; i < n; ++i) {
    for (int alpha = 0; alpha < 2; ++alpha) {
      const double h = alpha == 0 ? m.h1 : m.h2;
      const std::vector<double>& y = alpha == 0 ? m.y1[i] : m.y2[i];
      for (size_t j = 0; j < y.size(); ++j) {
        const double r = m.b[i][j] + m.u[i][j] * h - y[j];
        loss += r * r;
      }
    }
  }
  return 0.5 * 0.5 * loss / n;
}

FixedExpansionState Moments(const VectorModel& m) {
  const double n = static_cast<double>(m.b.size());
  FixedExpansionState z;
  z.h1 = m.h1;
  z.h2 = m.h2;
  for (size_t i = 0; i < m.b.size(); ++i) {
    z.bD += Dot(m.b[i], m.u[i]) / n;
    z.by1 += Dot(m.b[i], m.y1[i]) / n;
    z.by2 += Dot(m.b[i], m.y2[i]) / n;
    z.b2 += Dot(m.b[i], m.b[i]) / n;
    z.D2 += Dot(m.u[i], m.u[i]) / n;
    z.Dy1 += Dot(m.y1[i], m.u[i]) / n;
    z.Dy2 += Dot(m.y2[i], m.u[i]) / n;
  }
  return z;
}

// Central difference of VectorLoss in one coordinate (exact up to rounding: the loss is
// quadratic in each single coordinate).
// `coordinate` points into `m`.
double Partial(VectorModel& m, double* coordinate) {
  constexpr double kStep = 1e-3;
  const double x = *coordinate;
  *coordinate = x + kStep;
  const double up = VectorLoss(m);
  *coordinate = x - kStep;
  const double down = VectorLoss(m);
  *coordinate = x;
  return (up - down) / (2 * kStep);
}

TEST(FixedExpansion, RhsAndLossAreMomentsOfTheVectorGradientFlow) {
  Rng rng(3);
  for (int trial = 0; trial < 20; ++trial) {
    const int n = 1 + static_cast<int>(rng.UniformInt(4));
    const int k = 1 + static_cast<int>(rng.UniformInt(4));
    VectorModel m;
    m.h1 = rng.Normal();
    m.h2 = rng.Normal();
    for (auto* field : {&m.b, &m.u, &m.y1, &m.y2}) {
      field->assign(n, std::vector<double>(k));
      for (auto& v : *field) {
        for (double& x : v) x = rng.Normal();
      }
    }
    FixedExpansionParams p;
    p.eta_h1 = 0.1 + rng.Uniform();
    p.eta_h2 = 0.1 + rng.Uniform();
    p.eta_a = 0.1 + rng.Uniform();
    p.eta_b = rng.Uniform();
    p.num_continuations = n;
    for (int i = 0; i < n; ++i) {
      p.y11 += Dot(m.y1[i], m.y1[i]) / n;
      p.y12 += Dot(m.y1[i], m.y2[i]) / n;
      p.y22 += Dot(m.y2[i], m.y2[i]) / n;
    }
    ASSERT_TRUE(ValidateFixedExpansionParams(p).ok());

    // Gradient flow of the vector model, by finite differences.
    VectorModel work = m;
    VectorModel dm = m;
    dm.h1 = -p.eta_h1 * Partial(work, &work.h1);
    dm.h2 = -p.eta_h2 * Partial(work, &work.h2);
    for (int i = 0; i < n; ++i) {
      for (int j = 0; j < k; ++j) {
        dm.b[i][j] = -p.eta_b * Partial(work, &work.b[i][j]);
        dm.u[i][j] = -p.eta_a * Partial(work, &work.u[i][j]);
      }
    }
    // d/dt of each moment by the product rule.
    FixedExpansionState expected;
    expected.h1 = dm.h1;
    expected.h2 = dm.h2;
    for (int i = 0; i < n; ++i) {
      expected.bD += (Dot(dm.b[i], m.u[i]) + Dot(m.b[i], dm.u[i])) / n;
      expected.by1 += Dot(dm.b[i], m.y1[i]) / n;
      expected.by2 += Dot(dm.b[i], m.y2[i]) / n;
      expected.b2 += 2 * Dot(m.b[i], dm.b[i]) / n;
      expected.D2 += 2 * Dot(m.u[i], dm.u[i]) / n;
      expected.Dy1 += Dot(m.y1[i], dm.u[i]) / n;
      expected.Dy2 += Dot(m.y2[i], dm.u[i]) / n;
    }
    const FixedExpansionState z = Moments(m);
    const std::array<double, 9> got = FixedExpansionRhs(z, p).ToArray();
    const std::array<double, 9> want = expected.ToArray();
    for (int c = 0; c < 9; ++c) {
      EXPECT_NEAR(got[c], want[c], kMomentTol) << "component " << c << ", trial " << trial;
    }
    EXPECT_NEAR(FixedExpansionLoss(z, p), VectorLoss(m), 1e-12) << "trial " << trial;
  }
}

// Fig. 10 (left) of the paper: N = 1, eta_h = lr * length for lengths 1 and 10, eta_a = lr,
// eta_b = lr / 4 with lr = 0.02; small initial positions and norms, cross terms 0.
FixedExpansionParams Fig10Params(double eta_h1, double eta_h2, double y1, double y2) {
  FixedExpansionParams p;
  p.eta_h1 = eta_h1;
  p.eta_h2 = eta_h2;
  p.eta_a = 0.02;
  p.eta_b = 0.005;
  p.num_continuations = 1;
  SetScalarTargets(y1, y2, &p);
  return p;
}

FixedExpansionState Fig10Initial() {
  FixedExpansionState z;
  z.h1 = 0.03;
  z.h2 = -0.05;
  z.b2 = 0.08 * 0.08;
  z.D2 = 0.11 * 0.11;
  return z;
}

double Distance2(const FixedExpansionState& z) { return (z.h2 - z.h1) * (z.h2 - z.h1); }

TEST(FixedExpansion, IntegrationMatchesRk4) {
  const FixedExpansionParams p = Fig10Params(0.02, 0.2, 1.0, 1.0);
  const std::vector<double> times = {0.0, 100.0, 300.0, 1000.0};
  const auto tr = IntegrateFixedExpansion(Fig10Initial(), p, times);
  ASSERT_TRUE(tr.ok()) << tr.status();
  using Z = std::array<double, 9>;
  const std::function<Z(const Z&)> f = [&p](const Z& x) {
    return FixedExpansionRhs(FixedExpansionState::FromArray(x), p).ToArray();
  };
  for (size_t i = 1; i < times.size(); ++i) {
    const Z want = Rk4<Z>(Fig10Initial().ToArray(), times[i], 0.01, f);
    const Z got = tr->z[i].ToArray();
    for (int c = 0; c < 9; ++c) {
      EXPECT_NEAR(got[c], want[c], kRk4RelTol * (std::abs(want[c]) + 1e-3))
          << "component " << c << " at t = " << times[i];
    }
  }
}

TEST(FixedExpansion, LossNeverIncreasesAndRescalingInvariantIsConserved) {
  for (const FixedExpansionParams& p :
       {Fig10Params(0.02, 0.2, 1.0, 1.0), Fig10Params(0.02, 0.02, 1.0, 1.0),
        Fig10Params(0.02, 0.2, 1.0, -1.0)}) {
    const auto tr = IntegrateFixedExpansion(Fig10Initial(), p, LinTimes(3000.0, 600));
    ASSERT_TRUE(tr.ok()) << tr.status();
    const double c0 = FixedExpansionConserved(tr->z[0], p);
    double previous = FixedExpansionLoss(tr->z[0], p);
    for (size_t i = 1; i < tr->z.size(); ++i) {
      const FixedExpansionState& z = tr->z[i];
      const double loss = FixedExpansionLoss(z, p);
      EXPECT_LE(loss, previous + 1e-12) << "t = " << tr->t[i];
      previous = loss;
      const double scale = z.h1 * z.h1 / p.eta_h1 + z.h2 * z.h2 / p.eta_h2 + z.D2 / p.eta_a;
      EXPECT_NEAR(FixedExpansionConserved(z, p), c0, kConservedRelTol * scale)
          << "t = " << tr->t[i];
    }
    // Both fit their targets (slowest with equal small hidden rates: 5e-6 at t = 3000).
    EXPECT_LT(previous, 1e-4 * FixedExpansionLoss(tr->z[0], p));
  }
}

TEST(FixedExpansion, AgreeingPairWithUnequalRatesDivergesThenMerges) {
  const auto tr = IntegrateFixedExpansion(Fig10Initial(), Fig10Params(0.02, 0.2, 1.0, 1.0),
                                          LinTimes(3000, 300));
  ASSERT_TRUE(tr.ok()) << tr.status();
  const double d0 = Distance2(tr->z.front());
  double peak = 0.0;
  size_t peak_at = 0;
  for (size_t i = 0; i < tr->z.size(); ++i) {
    if (Distance2(tr->z[i]) > peak) {
      peak = Distance2(tr->z[i]);
      peak_at = i;
    }
  }
  EXPECT_GT(peak, 10.0 * d0);
  EXPECT_GT(peak_at, 0u);
  EXPECT_LT(peak_at, tr->z.size() / 2);
  EXPECT_LT(Distance2(tr->z.back()), 1e-3 * d0);
}

TEST(FixedExpansion, EqualRatesNeverDiverge) {
  for (double eta : {0.02, 0.2}) {
    const auto tr = IntegrateFixedExpansion(Fig10Initial(), Fig10Params(eta, eta, 1.0, 1.0),
                                            LinTimes(3000, 300));
    ASSERT_TRUE(tr.ok()) << tr.status();
    for (size_t i = 1; i < tr->z.size(); ++i) {
      EXPECT_LE(Distance2(tr->z[i]), Distance2(tr->z[i - 1]) * (1 + 1e-9) + kRoundingD2)
          << "eta = " << eta << ", t = " << tr->t[i];
    }
    EXPECT_LT(Distance2(tr->z.back()), Distance2(tr->z.front()));
  }
  // The identity behind it: d(h_2 - h_1)^2/dt = -eta_h D2 (h_2 - h_1)^2 when the two sequences
  // have equal targets, by_1 = by_2 and Dy_1 = Dy_2.
  Rng rng(4);
  for (int trial = 0; trial < 20; ++trial) {
    const double eta = 0.1 + rng.Uniform();
    FixedExpansionParams p = Fig10Params(eta, eta, 1.0, 1.0);
    SetScalarTargets(0.7, 0.7, &p);
    FixedExpansionState z;
    z.h1 = rng.Normal();
    z.h2 = rng.Normal();
    z.bD = rng.Normal();
    z.by1 = z.by2 = rng.Normal();
    z.b2 = 1.0 + rng.Uniform();
    z.D2 = 1.0 + rng.Uniform();
    z.Dy1 = z.Dy2 = rng.Normal();
    const FixedExpansionState d = FixedExpansionRhs(z, p);
    const double rate = 2 * (z.h2 - z.h1) * (d.h2 - d.h1);
    EXPECT_NEAR(rate, -eta * z.D2 * Distance2(z), 1e-12 * (1 + Distance2(z)));
  }
}

TEST(FixedExpansion, DisagreeingPairOnlyDiverges) {
  const auto tr = IntegrateFixedExpansion(Fig10Initial(), Fig10Params(0.02, 0.2, 1.0, -1.0),
                                          LinTimes(3000, 300));
  ASSERT_TRUE(tr.ok()) << tr.status();
  const double d0 = Distance2(tr->z.front());
  for (size_t i = 1; i < tr->z.size(); ++i) {
    EXPECT_GE(Distance2(tr->z[i]), d0) << "t = " << tr->t[i];
  }
  EXPECT_GT(Distance2(tr->z.back()), 100.0 * d0);
}

TEST(FixedExpansion, RejectsBadInput) {
  const std::vector<double> times = {0.0, 1.0};
  FixedExpansionParams p = Fig10Params(0.02, 0.2, 1.0, 1.0);
  p.eta_h1 = 0.0;
  EXPECT_THAT(IntegrateFixedExpansion(Fig10Initial(), p, times).status().message(),
              HasSubstr("eta_h1 = 0; must be finite and > 0"));
  p = Fig10Params(0.02, 0.2, 1.0, 1.0);
  p.eta_b = -1.0;
  EXPECT_THAT(IntegrateFixedExpansion(Fig10Initial(), p, times).status().message(),
              HasSubstr("eta_b = -1; must be finite and >= 0"));
  p = Fig10Params(0.02, 0.2, 1.0, 1.0);
  p.num_continuations = 0;
  EXPECT_THAT(IntegrateFixedExpansion(Fig10Initial(), p, times).status().message(),
              HasSubstr("num_continuations = 0"));
  p = Fig10Params(0.02, 0.2, 1.0, 1.0);
  p.y12 = 2.0;
  EXPECT_THAT(IntegrateFixedExpansion(Fig10Initial(), p, times).status().message(),
              HasSubstr("(y11, y12, y22) = (1, 2, 1)"));
  p = Fig10Params(0.02, 0.2, 1.0, 1.0);
  FixedExpansionState z = Fig10Initial();
  z.D2 = -1.0;
  const auto bad_state = IntegrateFixedExpansion(z, p, times);
  EXPECT_EQ(bad_state.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad_state.status().message(), HasSubstr("b2 >= 0 and D2 >= 0"));
  EXPECT_THAT(IntegrateFixedExpansion(Fig10Initial(), p, {0.0, 2.0, 1.0}).status().message(),
              HasSubstr("times[2] = 1; times must be finite and strictly increasing"));
  IntegrateOptions few;
  few.max_explicit_steps = 3;
  EXPECT_EQ(IntegrateFixedExpansion(Fig10Initial(), p, {0.0, 3000.0}, few).status().code(),
            absl::StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace replearn
