#include "theory/closed_form.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/rng.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace replearn {
namespace {

constexpr double kRoundTol = 1e-12;

TEST(OdeRhs, MatchesHandComputedValuesForEveryVariant) {
  // (h, y, w) = (2, 0.5, 0.1), eta_h = 0.3, eta_y = 0.7, dx2 = 1.5, dy2 = 0.4:
  //   dh/dt = -0.45 * 0.1 = -0.045
  //   dy/dt = -0.1 * (1.4 + 0.45 * 0.5 / 2) = -0.15125
  //   dw/dt = -0.35 * (0.3 - 0.5 + 0.4) * 2 - 0.5 * 0.45 * 0.6 * 0.1 / 2 = -0.14 - 0.00675
  const State s{2.0, 0.5, 0.1};
  auto rhs = [&](Variant v) { return OdeRhs(s, 0.3, 0.7, 1.5, 0.4, v); };
  const State d = rhs(Variant::kTrue);
  EXPECT_NEAR(d.h, -0.045, kRoundTol);
  EXPECT_NEAR(d.y, -0.15125, kRoundTol);
  EXPECT_NEAR(d.w, -0.14675, kRoundTol);

  const State dh2 = rhs(Variant::kDhDoubled);
  EXPECT_NEAR(dh2.h, -0.09, kRoundTol);
  EXPECT_NEAR(dh2.y, -0.15125, kRoundTol);
  EXPECT_NEAR(dh2.w, -0.14675, kRoundTol);

  const State dy2 = rhs(Variant::kDyDoubled);
  EXPECT_NEAR(dy2.h, -0.045, kRoundTol);
  EXPECT_NEAR(dy2.y, -0.3025, kRoundTol);
  EXPECT_NEAR(dy2.w, -0.14675, kRoundTol);

  const State flip = rhs(Variant::kDwSecondTermFlipped);
  EXPECT_NEAR(flip.h, -0.045, kRoundTol);
  EXPECT_NEAR(flip.y, -0.15125, kRoundTol);
  EXPECT_NEAR(flip.w, -0.14 + 0.00675, kRoundTol);

  const State no_h = rhs(Variant::kDyNoHTerm);
  EXPECT_NEAR(no_h.h, -0.045, kRoundTol);
  EXPECT_NEAR(no_h.y, -0.14, kRoundTol);
  EXPECT_NEAR(no_h.w, -0.14675, kRoundTol);
}

TEST(OdeRhs, FloorKeepsMergedPairFinite) {
  const State d = OdeRhs(State{0.0, 1e-40, 1e-40}, 0.1, 0.2, 1.0, 0.0);
  EXPECT_TRUE(std::isfinite(d.h) && std::isfinite(d.y) && std::isfinite(d.w));
}

TEST(OdeRhsLog, IsTheChainRuleOfOdeRhsForEveryVariant) {
  Rng rng(13);
  for (Variant v : kAllVariants) {
    for (int trial = 0; trial < 20; ++trial) {
      const State x{0.05 + rng.Uniform(), rng.Uniform(), rng.Normal() * 0.3};
      const double eta_h = 0.01 + rng.Uniform(), eta_y = 0.01 + rng.Uniform();
      const double dx2 = 0.5 + rng.Uniform(), dy2 = rng.Uniform();
      const State d = OdeRhs(x, eta_h, eta_y, dx2, dy2, v);
      const LogState dl = OdeRhsLog(ToLogState(x), eta_h, eta_y, dx2, dy2, v);
      // l = log h, r = y/h, s = w/h.
      EXPECT_NEAR(dl.l, d.h / x.h, 1e-12) << VariantName(v);
      EXPECT_NEAR(dl.r, d.y / x.h - x.y * d.h / (x.h * x.h), 1e-10) << VariantName(v);
      EXPECT_NEAR(dl.s, d.w / x.h - x.w * d.h / (x.h * x.h), 1e-10) << VariantName(v);
    }
  }
  const State back = FromLogState(ToLogState(State{0.3, 0.2, -0.1}));
  EXPECT_NEAR(back.h, 0.3, kRoundTol);
  EXPECT_NEAR(back.y, 0.2, kRoundTol);
  EXPECT_NEAR(back.w, -0.1, kRoundTol);
}

TEST(OdeJacobianLog, MatchesCentralFiniteDifferencesForEveryVariant) {
  Rng rng(11);
  constexpr double kStep = 1e-6;
  constexpr double kTol = 1e-7;
  for (Variant v : kAllVariants) {
    for (int trial = 0; trial < 20; ++trial) {
      const LogState x{std::log(0.05 + rng.Uniform()), rng.Uniform(), rng.Normal() * 0.3};
      const double eta_h = 0.01 + rng.Uniform(), eta_y = 0.01 + rng.Uniform();
      const double dx2 = 0.5 + rng.Uniform(), dy2 = rng.Uniform();
      double jac[9];
      OdeJacobianLog(x, eta_h, eta_y, dx2, dy2, v, jac);
      for (int c = 0; c < 3; ++c) {
        LogState plus = x, minus = x;
        double* p = c == 0 ? &plus.l : c == 1 ? &plus.r : &plus.s;
        double* m = c == 0 ? &minus.l : c == 1 ? &minus.r : &minus.s;
        *p += kStep;
        *m -= kStep;
        const LogState fp = OdeRhsLog(plus, eta_h, eta_y, dx2, dy2, v);
        const LogState fm = OdeRhsLog(minus, eta_h, eta_y, dx2, dy2, v);
        const double fd[3] = {(fp.l - fm.l) / (2 * kStep), (fp.r - fm.r) / (2 * kStep),
                              (fp.s - fm.s) / (2 * kStep)};
        for (int r = 0; r < 3; ++r) {
          EXPECT_NEAR(jac[3 * r + c], fd[r], kTol * std::max(1.0, std::abs(fd[r])))
              << VariantName(v) << " row " << r << " col " << c;
        }
      }
    }
  }
}

TEST(SignedForm, RoundTripAndConsistency) {
  const double dy2 = 0.5;
  for (double sign : {1.0, -1.0}) {
    const double y = 0.02;
    const State s{0.3, y, y - std::sqrt(dy2 * y) * sign};
    EXPECT_TRUE(HasSignedForm(s, dy2));
    const SignedState x = ToSignedState(s);
    EXPECT_NEAR(x.c, std::sqrt(0.3), kRoundTol);
    EXPECT_NEAR(x.d, sign * std::sqrt(y / 0.3), kRoundTol);
    const State back = FromSignedState(x, dy2);
    EXPECT_NEAR(back.h, s.h, kRoundTol);
    EXPECT_NEAR(back.y, s.y, kRoundTol);
    EXPECT_NEAR(back.w, s.w, kRoundTol);
  }
  // (y - w)^2 < dy2 y: an output difference not parallel to the target difference.
  EXPECT_FALSE(HasSignedForm(State{0.3, 0.02, 0.01}, dy2));
  // Projection keeps h, y and the sign of y - w: w = 0.02 - sqrt(0.5 * 0.02) = -0.08.
  const State projected = ProjectToSignedForm(State{0.3, 0.02, 0.01}, dy2);
  EXPECT_EQ(projected.h, 0.3);
  EXPECT_EQ(projected.y, 0.02);
  EXPECT_NEAR(projected.w, -0.08, kRoundTol);
  EXPECT_TRUE(HasSignedForm(projected, dy2));
  EXPECT_NEAR(ProjectToSignedForm(State{0.3, 0.02, 0.5}, dy2).w, 0.12, kRoundTol);
  EXPECT_TRUE(HasSignedForm(State{0.3, 0.02, 0.02}, 0.0));  // dy2 = 0: w = y
}

TEST(SignedForm, RhsIsTheChainRuleOfOdeRhs) {
  // h = c^2, y = d^2 c^2, w = d^2 c^2 - b d c: d/dt through (dc/dt, dd/dt) equals [ODE].
  Rng rng(17);
  for (int trial = 0; trial < 50; ++trial) {
    const SignedState x{0.1 + rng.Uniform(), 2.0 * rng.Normal()};
    const double eta_h = 0.01 + rng.Uniform(), eta_y = 0.01 + rng.Uniform();
    const double dx2 = 0.5 + rng.Uniform(), dy2 = rng.Uniform();
    const double b = std::sqrt(dy2);
    const SignedState dx = OdeRhsSigned(x, eta_h, eta_y, dx2, dy2);
    const State ode = OdeRhs(FromSignedState(x, dy2), eta_h, eta_y, dx2, dy2);
    const double dh = 2.0 * x.c * dx.c;
    const double dprod = dx.d * x.c + x.d * dx.c;  // d(dc)/dt
    const double dy = 2.0 * x.d * x.c * dprod;
    const double dw = dy - b * dprod;
    EXPECT_NEAR(dh, ode.h, 1e-12 * (1.0 + std::abs(ode.h)));
    EXPECT_NEAR(dy, ode.y, 1e-11 * (1.0 + std::abs(ode.y)));
    EXPECT_NEAR(dw, ode.w, 1e-11 * (1.0 + std::abs(ode.w)));
    // [CONSERVED] Q = d^2 - k c^2 has zero derivative.
    const double k = eta_y / (eta_h * dx2);
    EXPECT_NEAR(2.0 * x.d * dx.d - 2.0 * k * x.c * dx.c, 0.0, 1e-11 * (1.0 + k));
  }
}

TEST(SignedForm, JacobianMatchesCentralFiniteDifferences) {
  Rng rng(19);
  constexpr double kStep = 1e-6;
  for (int trial = 0; trial < 20; ++trial) {
    const SignedState x{rng.Normal(), rng.Normal()};
    const double eta_h = 0.01 + rng.Uniform(), eta_y = 0.01 + rng.Uniform();
    const double dx2 = 0.5 + rng.Uniform(), dy2 = rng.Uniform();
    double jac[4];
    OdeJacobianSigned(x, eta_h, eta_y, dx2, dy2, jac);
    for (int c = 0; c < 2; ++c) {
      SignedState p = x, m = x;
      (c == 0 ? p.c : p.d) += kStep;
      (c == 0 ? m.c : m.d) -= kStep;
      const SignedState fp = OdeRhsSigned(p, eta_h, eta_y, dx2, dy2);
      const SignedState fm = OdeRhsSigned(m, eta_h, eta_y, dx2, dy2);
      EXPECT_NEAR(jac[c], (fp.c - fm.c) / (2 * kStep), 1e-7);
      EXPECT_NEAR(jac[2 + c], (fp.d - fm.d) / (2 * kStep), 1e-7);
    }
  }
}

// d/dt of [CONSERVED] along [ODE], from the right-hand side: y'/h - y h'/h^2 - k h'.
double DqDt(const State& s, double eta_h, double eta_y, double dx2, double dy2, Variant v) {
  const State d = OdeRhs(s, eta_h, eta_y, dx2, dy2, v);
  return d.y / s.h - s.y * d.h / (s.h * s.h) - eta_y / (eta_h * dx2) * d.h;
}

TEST(ConservedQ, HasZeroTimeDerivativeOnlyForTrueDynamics) {
  Rng rng(5);
  for (int trial = 0; trial < 50; ++trial) {
    const State s{0.05 + rng.Uniform(), rng.Uniform(), rng.Normal() * 0.2};
    const double eta_h = 0.01 + rng.Uniform(), eta_y = 0.01 + rng.Uniform();
    const double dx2 = 0.5 + rng.Uniform(), dy2 = rng.Uniform();
    EXPECT_NEAR(DqDt(s, eta_h, eta_y, dx2, dy2, Variant::kTrue), 0.0, 1e-11);
  }
  // Wrong dynamics break it, e.g. doubled dh/dt: dQ/dt = (y/h^2 + k) eta_h dx2 w != 0.
  const State s{0.5, 0.2, 0.1};
  EXPECT_GT(std::abs(DqDt(s, 0.1, 0.2, 1.0, 0.5, Variant::kDhDoubled)), 1e-3);
  EXPECT_GT(std::abs(DqDt(s, 0.1, 0.2, 1.0, 0.5, Variant::kDyNoHTerm)), 1e-3);
}

TEST(ConservedQ, MatchesDefinition) {
  // Q = y/h - eta_y/(eta_h dx2) h = 0.5/2 - 0.7/(0.3*1.5) * 2.
  EXPECT_NEAR(ConservedQ(State{2.0, 0.5, 0.1}, 0.3, 0.7, 1.5), 0.25 - 0.7 / 0.45 * 2.0, kRoundTol);
}

TEST(FinalH, IsThePositiveFixedPointOfTheConservedQuantity) {
  Rng rng(3);
  for (int trial = 0; trial < 100; ++trial) {
    const double h0 = std::exp(-6.0 + 8.0 * rng.Uniform());
    const double y0 = std::exp(-12.0 + 12.0 * rng.Uniform());
    const double dx2 = 0.2 + 2.0 * rng.Uniform();
    const double dy2 = 0.05 + 2.0 * rng.Uniform();
    const double ratio = std::exp(-8.0 + 10.0 * rng.Uniform());
    const double h_inf = FinalH(h0, y0, dx2, dy2, ratio);
    ASSERT_GT(h_inf, 0.0);
    // Same Q at the start and at (h_inf, y = dy2); k = eta_y / (eta_h dx2) = 1/(ratio dx2).
    const double k = 1.0 / (ratio * dx2);
    const double q0 = y0 / h0 - k * h0;
    const double q_inf = dy2 / h_inf - k * h_inf;
    EXPECT_NEAR(q_inf, q0, 1e-9 * (std::abs(q0) + k * h0 + dy2 / h_inf));
    // Textbook quadratic root of k h^2 + Q h - dy2 = 0.
    const double textbook = (-q0 + std::sqrt(q0 * q0 + 4.0 * k * dy2)) / (2.0 * k);
    EXPECT_NEAR(h_inf, textbook, 1e-6 * textbook);
  }
}

TEST(FinalH, RichLazyAndAgreeingLimits) {
  const double dx2 = 1.0, dy2 = 0.5, ratio = 6.5e-4 / 0.04;
  // Rich: h0, y0 -> 0 gives A_low = sqrt(ratio dx2 dy2).
  EXPECT_NEAR(FinalH(1e-9, 1e-20, dx2, dy2, ratio), std::sqrt(ratio * dx2 * dy2), 1e-8);
  EXPECT_NEAR(FinalALow(dx2, dy2, ratio), std::sqrt(ratio * dx2 * dy2), kRoundTol);
  // Lazy: A_high >> A_low keeps h0 (h0 + A_low^2 / h0 to first order).
  EXPECT_NEAR(FinalH(100.0, 0.0, dx2, dy2, ratio), 100.0 + ratio * dy2 / 100.0, 1e-9);
  // dy2 = 0: max(A_high, 0).
  EXPECT_NEAR(FinalH(0.5, 0.01, 2.0, 0.0, 3.0), 0.5 - 3.0 * 2.0 * 0.01 / 0.5, kRoundTol);
  EXPECT_EQ(FinalH(0.1, 0.5, 1.0, 0.0, 3.0), 0.0);
  EXPECT_NEAR(FinalAHigh(0.5, 0.01, 2.0, 3.0), 0.5 - 0.12, kRoundTol);
  EXPECT_TRUE(std::isnan(FinalH(0.0, 0.1, 1.0, 0.5, 1.0)));
  EXPECT_TRUE(std::isnan(FinalH(0.1, 0.1, 1.0, 0.5, -1.0)));
}

TEST(FinalH, NoCancellationForStronglyNegativeAHigh) {
  // A_high = 1e-3 - 1 * 1 / 1e-3 = -999.999, A_low^2 = 1e-6: the naive A_high/2 + root
  // loses every digit; the root is A_low^2 / |A_high| (1 - A_low^2 / A_high^2 + ...).
  const double a_high = 1e-3 - 1e3;
  const double expected = 1e-6 / -a_high * (1.0 - 1e-6 / (a_high * a_high));
  EXPECT_NEAR(FinalH(1e-3, 1.0, 1.0, 1e-6, 1.0), expected, 1e-12 * expected);
}

TEST(FinalDistance, IsSquareRootOfPairFormWithSquaredDistances) {
  Rng rng(9);
  for (int trial = 0; trial < 50; ++trial) {
    const double dh0 = 0.01 + rng.Uniform(), dy0 = rng.Uniform();
    const double dx = 0.5 + rng.Uniform(), dy = rng.Uniform();
    const double ratio = std::exp(-5.0 + 6.0 * rng.Uniform());
    const double pair = FinalH(dh0 * dh0, dy0 * dy0, dx * dx, dy * dy, ratio);
    EXPECT_NEAR(FinalDistance(dh0, dy0, dx, dy, ratio), std::sqrt(pair), 1e-12);
  }
}

TEST(YbarError, DecaysWithTwiceTheRate) {
  EXPECT_NEAR(YbarError(0.0, 0.3, 0.1), 0.3, kRoundTol);
  EXPECT_NEAR(YbarError(5.0, 0.3, 0.1), 0.3 * std::exp(-1.0), kRoundTol);
}

TEST(AnalyticLoss, EqualsLossSplitOfTheDecayedMeanError) {
  // [LOSS] = [LOSS-SPLIT] with ||ybar - ybar*||^2 from [YBAR].
  const double t = 7.0, e0 = 0.2, eta_ybar = 0.05, y = 0.3, w = -0.1, dy2 = 0.5;
  EXPECT_NEAR(AnalyticLoss(t, e0, eta_ybar, y, w, dy2),
              0.5 * e0 * std::exp(-0.7) + 0.25 * (w + 0.5 * (dy2 - y)), kRoundTol);
  EXPECT_NEAR(AnalyticLoss(t, e0, eta_ybar, y, w, dy2),
              LossSplit(YbarError(t, e0, eta_ybar), w, y, dy2), kRoundTol);
}

TEST(LossSplit, HandExample) {
  const std::vector<double> yhat1 = {1, 2}, yhat2 = {3, 5}, y1 = {0, 0}, y2 = {1, 1};
  const TwoPointTerms t = MeasureTwoPointTerms(yhat1, yhat2, y1, y2);
  EXPECT_NEAR(t.ybar_err2, 11.25, kRoundTol);  // (2 - 0.5)^2 + (3.5 - 0.5)^2
  EXPECT_NEAR(t.y, 13.0, kRoundTol);           // 2^2 + 3^2
  EXPECT_NEAR(t.w, 8.0, kRoundTol);            // 13 - (1, 1) . (2, 3)
  EXPECT_NEAR(t.dy2, 2.0, kRoundTol);
  EXPECT_NEAR(HalfMse(yhat1, yhat2, y1, y2), 6.25, kRoundTol);  // (5 + 20) / 4
  EXPECT_NEAR(LossSplit(yhat1, yhat2, y1, y2), 6.25, kRoundTol);
}

// docs/theory.md check 5: [LOSS-SPLIT] equals the 1/2 MSE to rounding, any predictions.
TEST(LossSplit, EqualsHalfMseForRandomVectors) {
  Rng rng(2024);
  for (int dim = 1; dim <= 8; ++dim) {
    for (int trial = 0; trial < 100; ++trial) {
      std::vector<double> a(dim), b(dim), c(dim), d(dim);
      double scale = 0.0;
      for (int i = 0; i < dim; ++i) {
        a[i] = 3.0 * rng.Normal();
        b[i] = 3.0 * rng.Normal();
        c[i] = rng.Normal();
        d[i] = rng.Normal();
        scale += a[i] * a[i] + b[i] * b[i] + c[i] * c[i] + d[i] * d[i];
      }
      EXPECT_NEAR(LossSplit(a, b, c, d), HalfMse(a, b, c, d), 1e-14 * scale);
    }
  }
}

TEST(LogisticSolution, SolvesTheReducedOdeAndKeepsQ) {
  // dy2 = 0: d/dt of the closed form (central differences) equals [ODE] at that state.
  const double eta_h = 0.2, eta_y = 0.05, dx2 = 1.3;
  for (const State& s0 : {State{0.8, 0.3, 0.3}, State{0.1, 0.5, 0.5}, State{2.0, 1e-6, 1e-6}}) {
    const double q0 = ConservedQ(s0, eta_h, eta_y, dx2);
    for (double t : {0.0, 1.0, 10.0, 100.0}) {
      constexpr double kDt = 1e-5;
      const State s = LogisticSolution(s0, eta_h, eta_y, dx2, t);
      // Below 1e-30 OdeRhs floors h (kHFloor), so it no longer is the exact [ODE].
      if (s.h < 1e-25) continue;
      const State p = LogisticSolution(s0, eta_h, eta_y, dx2, t + kDt);
      const State m = LogisticSolution(s0, eta_h, eta_y, dx2, t - kDt);
      const State d = OdeRhs(s, eta_h, eta_y, dx2, 0.0);
      // Truncation ~ kDt^2 * rate^2 relative, rounding ~ 1e-16 * value / kDt.
      const double scale = 1e-8 * (std::abs(d.h) + std::abs(d.y)) + 1e-10 * (s.h + s.y);
      EXPECT_NEAR((p.h - m.h) / (2 * kDt), d.h, scale) << "t = " << t;
      EXPECT_NEAR((p.y - m.y) / (2 * kDt), d.y, scale) << "t = " << t;
      EXPECT_EQ(s.w, s.y);
      EXPECT_NEAR(ConservedQ(s, eta_h, eta_y, dx2), q0, 1e-9 * (std::abs(q0) + 10.0));
    }
  }
  // t = 0 returns the initial state.
  const State s = LogisticSolution(State{0.8, 0.3, 0.3}, eta_h, eta_y, dx2, 0.0);
  EXPECT_NEAR(s.h, 0.8, kRoundTol);
  EXPECT_NEAR(s.y, 0.3, kRoundTol);
}

TEST(LogisticSolution, LimitsAreMaxOfAHighAndZero) {
  const double eta_h = 0.2, eta_y = 0.05, dx2 = 1.3;
  const State grow{0.8, 0.01, 0.01};  // A_high = 0.8 - 4 * 1.3 * 0.0125 = 0.735
  const State merge{0.1, 0.5, 0.5};   // A_high = 0.1 - 4 * 1.3 * 5 < 0
  EXPECT_NEAR(LogisticSolution(grow, eta_h, eta_y, dx2, 1e5).h,
              FinalAHigh(0.8, 0.01, dx2, eta_h / eta_y), 1e-12);
  const State m = LogisticSolution(merge, eta_h, eta_y, dx2, 1e5);
  EXPECT_EQ(m.h, 0.0);
  EXPECT_EQ(m.y, 0.0);
  // A_high = 0 exactly: h = h0 / (1 + eta_y h0 t).
  const State zero{0.5, 0.5 * 0.5 * eta_y / (eta_h * dx2), 0.0};
  EXPECT_NEAR(LogisticSolution(zero, eta_h, eta_y, dx2, 40.0).h, 0.5 / (1.0 + 0.05 * 0.5 * 40.0),
              1e-12);
}

TEST(Variant, NamesAreDistinct) {
  EXPECT_EQ(VariantName(Variant::kTrue), "true");
  EXPECT_EQ(VariantName(Variant::kDhDoubled), "dh_doubled");
  EXPECT_EQ(VariantName(Variant::kDyDoubled), "dy_doubled");
  EXPECT_EQ(VariantName(Variant::kDwSecondTermFlipped), "dw_second_term_flipped");
  EXPECT_EQ(VariantName(Variant::kDyNoHTerm), "dy_no_h_term");
}

}  // namespace
}  // namespace replearn
