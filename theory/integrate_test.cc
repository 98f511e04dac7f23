#include "theory/integrate.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "theory/closed_form.h"

namespace replearn {
namespace {

using ::testing::HasSubstr;

// A consistent w for a scalar output: w = y - dy* . dyhat with dyhat = sign * sqrt(y).
double ConsistentW(double y, double dy2, double sign) {
  return y - std::sqrt(dy2) * sign * std::sqrt(y);
}

std::vector<double> LogTimes(double t_max, int n) {
  std::vector<double> t = {0.0};
  for (int i = 0; i < n; ++i) t.push_back(std::pow(t_max, (i + 1.0) / n));
  return t;
}

IntegrateOptions Form(bool signed_form) {
  IntegrateOptions o;
  o.use_signed_coordinates = signed_form;
  return o;
}

// docs/theory.md check 2: Q stays constant along integrated solutions to solver tolerance, in both
// integration forms.
TEST(IntegrateOde, ConservesQ) {
  struct Case {
    State s0;
    OdeParams p;
  };
  const Case cases[] = {
      {{1e-3, 1e-9, ConsistentW(1e-9, 0.5, 1.0)}, {6.5e-4, 0.04, 1.0, 0.5}},  // rich
      {{2.0, 0.3, ConsistentW(0.3, 0.5, -1.0)}, {0.02, 0.05, 1.0, 0.5}},      // lazy-ish
      {{0.2, 0.4, 0.4}, {0.3, 0.1, 2.0, 0.0}},                                // merging
      {{0.5, 0.05, ConsistentW(0.05, 2.0, 1.0)}, {0.1, 0.01, 0.5, 2.0}},
  };
  for (bool signed_form : {true, false}) {
    for (const Case& c : cases) {
      const auto tr = IntegrateOde(c.s0, c.p, LogTimes(1e4, 200), Form(signed_form));
      ASSERT_TRUE(tr.ok()) << tr.status();
      EXPECT_EQ(tr->used_signed_coordinates, signed_form);
      const double k = c.p.eta_y / (c.p.eta_h * c.p.dx2);
      const double q0 = ConservedQ(c.s0, c.p.eta_h, c.p.eta_y, c.p.dx2);
      double max_rel = 0.0;
      for (size_t i = 0; i < tr->t.size(); ++i) {
        const State s{tr->h[i], tr->y[i], tr->w[i]};
        if (s.h < 1e-12) continue;  // merged: y/h is a ratio of two vanishing numbers
        const double q = ConservedQ(s, c.p.eta_h, c.p.eta_y, c.p.dx2);
        // Both terms of Q carry a relative error of the solver tolerance.
        const double scale = std::abs(s.y / s.h) + k * s.h;
        max_rel = std::max(max_rel, std::abs(q - q0) / scale);
      }
      EXPECT_LT(max_rel, 1e-8) << "h0 = " << c.s0.h << " signed = " << signed_form;
    }
  }
}

// docs/theory.md check 3: from any h0 > 0 with dy2 > 0, the solution converges to [FINAL] with
// y -> dy2 and w -> 0; outputs aligned (w <= y) and anti-aligned (w > y) with the target
// difference.
TEST(IntegrateOde, ConvergesToFinalH) {
  const OdeParams p{0.02, 0.05, 1.5, 0.5};
  for (double h0 : {1e-4, 1e-2, 0.3, 1.0, 5.0}) {
    for (double y0 : {1e-10, 0.05, 2.0}) {
      for (double sign : {1.0, -1.0}) {
        const State s0{h0, y0, ConsistentW(y0, p.dy2, sign)};
        const auto tr = IntegrateOde(s0, p, {0.0, 1e6});
        ASSERT_TRUE(tr.ok()) << tr.status();
        const double expected = FinalH(h0, y0, p.dx2, p.dy2, p.eta_h / p.eta_y);
        EXPECT_NEAR(tr->h.back(), expected, 1e-7 * expected)
            << "h0 = " << h0 << " y0 = " << y0 << " sign = " << sign;
        EXPECT_NEAR(tr->y.back(), p.dy2, 1e-7);
        EXPECT_NEAR(tr->w.back(), 0.0, 1e-8);
      }
    }
  }
}

// Output anti-aligned (w > y) with a large decoder gain y/h = 500: dh is driven through 0
// before the decoder flips. The signed form follows the crossing (h touches 0 and grows to
// [FINAL], Q conserved throughout); the (h, y, w) form is singular there and says so.
TEST(IntegrateOde, CrossingRepresentationsFollowedInSignedFormOnly) {
  const OdeParams p{0.02, 0.05, 1.5, 0.5};
  const State s0{1e-4, 0.05, ConsistentW(0.05, p.dy2, -1.0)};
  std::vector<double> times;
  for (int i = 0; i <= 10000; ++i) times.push_back(1e-4 * i);  // the crossing is at t ~ 0.03
  times.push_back(1e6);
  const auto tr = IntegrateOde(s0, p, times);
  ASSERT_TRUE(tr.ok()) << tr.status();
  EXPECT_TRUE(tr->used_signed_coordinates);
  const double h_min = *std::min_element(tr->h.begin(), tr->h.end());
  EXPECT_LT(h_min, 1e-2 * s0.h);  // sampled near the crossing
  const double expected = FinalH(s0.h, s0.y, p.dx2, p.dy2, p.eta_h / p.eta_y);
  EXPECT_NEAR(tr->h.back(), expected, 1e-7 * expected);
  const double q0 = ConservedQ(s0, p.eta_h, p.eta_y, p.dx2);
  const State last{tr->h.back(), tr->y.back(), tr->w.back()};
  EXPECT_NEAR(ConservedQ(last, p.eta_h, p.eta_y, p.dx2), q0, 1e-8 * std::abs(q0));

  const auto singular = IntegrateOde(s0, p, times, Form(false));
  EXPECT_EQ(singular.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(singular.status().message(), HasSubstr("representations cross"));
}

// docs/theory.md check 4: dy2 = 0 and A_high < 0 merges the pair (h -> 0), without NaN.
TEST(IntegrateOde, AgreeingPairWithNegativeAHighMerges) {
  const OdeParams p{0.3, 0.1, 2.0, 0.0};
  const State s0{0.2, 0.4, 0.4};
  ASSERT_LT(FinalAHigh(s0.h, s0.y, p.dx2, p.eta_h / p.eta_y), 0.0);
  for (bool signed_form : {true, false}) {
    const auto tr = IntegrateOde(s0, p, {0.0, 10.0, 100.0, 1000.0, 6000.0}, Form(signed_form));
    ASSERT_TRUE(tr.ok()) << tr.status();
    for (size_t i = 1; i < tr->h.size(); ++i) {
      EXPECT_LE(tr->h[i], std::max(tr->h[i - 1], 1e-20 * s0.h));
      EXPECT_GE(tr->h[i], 0.0);
      EXPECT_GE(tr->y[i], 0.0);
    }
    EXPECT_LT(tr->h.back(), 1e-12 * s0.h);
    EXPECT_LT(tr->y.back(), 1e-12 * s0.y);
    if (!signed_form) {
      // Exponential decay at rate eta_h dx2 Q once merged: h(100)/h(10) = exp(-0.6 Q 90),
      // relative 1e-6 (the frozen ratios carry the deviation allowed at the freeze).
      const double q = ConservedQ(s0, p.eta_h, p.eta_y, p.dx2);
      const double expected_log = -p.eta_h * p.dx2 * q * 90.0;
      EXPECT_NEAR(std::log(tr->h[2] / tr->h[1]), expected_log, 1e-6 * std::abs(expected_log));
    }
  }
}

// The closed form of the dy2 = 0 logistic against the integrator, in all three regimes and both
// forms.
TEST(IntegrateOde, MatchesLogisticClosedFormForAgreeingPair) {
  const double eta_h = 0.2, eta_y = 0.05, dx2 = 1.3;
  const double y_zero_a = 0.5 * 0.5 * eta_y / (eta_h * dx2);  // A_high = 0 for h0 = 0.5
  for (bool signed_form : {true, false}) {
    for (const State& s0 : {State{0.8, 0.01, 0.01}, State{0.1, 0.5, 0.5}, State{1e-3, 1e-9, 1e-9},
                            State{0.5, y_zero_a, y_zero_a}}) {
      std::vector<double> times;
      for (int i = 0; i <= 300; ++i) times.push_back(2.0 * i);
      const auto tr = IntegrateOde(s0, OdeParams{eta_h, eta_y, dx2, 0.0}, times, Form(signed_form));
      ASSERT_TRUE(tr.ok()) << tr.status();
      for (size_t i = 0; i < times.size(); ++i) {
        const State e = LogisticSolution(s0, eta_h, eta_y, dx2, times[i]);
        if (signed_form) {
          // c = sqrt(h) and d carry absolute errors ~ abs_tol = 1e-12 (accumulated over the
          // steps), so h = c^2 and y = (dc)^2 have absolute errors ~ 1e-10 sqrt(h), sqrt(y),
          // and a merged pair is resolved down to h ~ abs_tol^2.
          EXPECT_NEAR(tr->h[i], e.h, 1e-8 * e.h + 1e-10 * std::sqrt(e.h) + 1e-22)
              << "t = " << times[i];
          EXPECT_NEAR(tr->y[i], e.y, 1e-8 * e.y + 1e-10 * std::sqrt(e.y) + 1e-21)
              << "t = " << times[i];
          EXPECT_EQ(tr->w[i], tr->y[i]);  // exact for dy2 = 0 in (c, d)
          continue;
        }
        if (e.h == 0.0) {  // the closed form underflowed
          EXPECT_LT(tr->h[i], 1e-280);
          continue;
        }
        if (e.h < kMergedFraction * s0.h) {
          // Merged and frozen: the decay rate carries a relative error of ~1e-6 (integrate.h),
          // and y/h = w/h -> Q.
          const double log_drop = std::log(e.h / s0.h);
          EXPECT_NEAR(std::log(tr->h[i] / s0.h), log_drop, 1e-6 * std::abs(log_drop));
          if (tr->h[i] > 0.0) {
            const double q = ConservedQ(s0, eta_h, eta_y, dx2);
            EXPECT_NEAR(tr->w[i] / tr->h[i], q, 1e-6 * q);
          }
          continue;
        }
        // l = log h is integrated with a per-step bound of rel_tol * |l|, so the relative error
        // of h accumulates to ~1e-7 over a merge down to 1e-20; y/h has abs_tol 1e-12.
        EXPECT_NEAR(tr->h[i], e.h, 1e-6 * e.h) << "t = " << times[i];
        EXPECT_NEAR(tr->y[i], e.y, 1e-6 * e.y + 1e-11 * e.h) << "t = " << times[i];
        EXPECT_NEAR(tr->w[i], e.y, 1e-6 * e.y + 1e-11 * e.h) << "t = " << times[i];
      }
    }
  }
}

TEST(IntegrateOde, SignedFormIsUsedOnlyForTrueDynamicsFromConsistentStates) {
  const OdeParams p{0.02, 0.05, 1.0, 0.5};
  const State consistent{0.5, 0.1, ConsistentW(0.1, 0.5, 1.0)};
  const State vector_output{0.5, 0.1, 0.05};  // (y - w)^2 < dy2 y: not parallel to dy*
  auto used = [&](const State& s, Variant v) {
    OdeParams q = p;
    q.variant = v;
    const auto tr = IntegrateOde(s, q, {0.0, 10.0});
    EXPECT_TRUE(tr.ok()) << tr.status();
    return tr.ok() && tr->used_signed_coordinates;
  };
  EXPECT_TRUE(used(consistent, Variant::kTrue));
  EXPECT_FALSE(used(vector_output, Variant::kTrue));
  EXPECT_FALSE(used(consistent, Variant::kDhDoubled));
  // Where both apply they agree.
  const auto a = IntegrateOde(consistent, p, {0.0, 10.0, 100.0, 1000.0}, Form(true));
  const auto b = IntegrateOde(consistent, p, {0.0, 10.0, 100.0, 1000.0}, Form(false));
  ASSERT_TRUE(a.ok() && b.ok());
  for (size_t i = 0; i < a->t.size(); ++i) {
    EXPECT_NEAR(a->h[i], b->h[i], 1e-8 * b->h[i]);
    EXPECT_NEAR(a->y[i], b->y[i], 1e-8 * b->y[i]);
    // w = dc (dc - b) -> 0 cancels in the signed form: absolute error ~ abs_tol * sqrt(y).
    EXPECT_NEAR(a->w[i], b->w[i], 1e-8 * std::abs(b->w[i]) + 1e-10);
  }
}

TEST(IntegrateOde, StiffCaseFallsBackToRosenbrockAndReachesFinalH) {
  // eta_y h T ~ 1e2 * 1 * 6000: far too stiff for the explicit step cap.
  const OdeParams p{10.0, 100.0, 1.0, 0.5};
  const State s0{1.0, 0.1, ConsistentW(0.1, 0.5, 1.0)};
  for (bool signed_form : {true, false}) {
    const auto tr = IntegrateSteps(s0, p, 6000, Form(signed_form));
    ASSERT_TRUE(tr.ok()) << tr.status();
    EXPECT_TRUE(tr->used_implicit);
    EXPECT_EQ(tr->t.size(), 6000u);
    const double expected = FinalH(s0.h, s0.y, p.dx2, p.dy2, p.eta_h / p.eta_y);
    EXPECT_NEAR(tr->h.back(), expected, 1e-7 * expected);
    EXPECT_NEAR(tr->y.back(), p.dy2, 1e-7);
  }
}

TEST(IntegrateOde, ImplicitAndExplicitAgree) {
  const OdeParams p{6.5e-4, 0.04, 1.0, 0.5};
  const State s0{1e-3, 1e-9, ConsistentW(1e-9, 0.5, 1.0)};
  for (bool signed_form : {true, false}) {
    IntegrateOptions force_implicit = Form(signed_form);
    force_implicit.max_explicit_steps = 1;
    const auto a = IntegrateSteps(s0, p, 6000, Form(signed_form));
    const auto b = IntegrateSteps(s0, p, 6000, force_implicit);
    ASSERT_TRUE(a.ok()) << a.status();
    ASSERT_TRUE(b.ok()) << b.status();
    EXPECT_FALSE(a->used_implicit);
    EXPECT_TRUE(b->used_implicit);
    for (size_t i = 0; i < a->t.size(); i += 100) {
      EXPECT_NEAR(a->h[i], b->h[i], 1e-7 * a->h[i]);
      EXPECT_NEAR(a->y[i], b->y[i], 1e-7 * a->y[i]);
      EXPECT_NEAR(a->w[i], b->w[i], 1e-7 * std::abs(a->w[i]) + 1e-10);
    }
  }
}

TEST(IntegrateOde, FirstSampleIsInitialStateAtRequestedTimes) {
  const State s0{0.5, 0.1, 0.05};
  const auto tr = IntegrateOde(s0, OdeParams{0.1, 0.1, 1.0, 0.5}, {3.0, 3.5, 10.0});
  ASSERT_TRUE(tr.ok()) << tr.status();
  EXPECT_THAT(tr->t, ::testing::ElementsAre(3.0, 3.5, 10.0));
  EXPECT_DOUBLE_EQ(tr->h[0], 0.5);
  EXPECT_DOUBLE_EQ(tr->y[0], 0.1);
  EXPECT_DOUBLE_EQ(tr->w[0], 0.05);
}

TEST(IntegrateOde, RejectsBadInputsWithSpecificErrors) {
  const OdeParams p{0.1, 0.1, 1.0, 0.5};
  const auto zero_h = IntegrateOde(State{0.0, 0.1, 0.0}, p, {0.0, 1.0});
  EXPECT_EQ(zero_h.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(zero_h.status().message(), HasSubstr("h > 0"));

  const auto unsorted = IntegrateOde(State{1.0, 0.1, 0.0}, p, {0.0, 2.0, 1.0});
  EXPECT_EQ(unsorted.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(unsorted.status().message(), HasSubstr("times[2] = 1"));

  const auto bad_dx = IntegrateOde(State{1.0, 0.1, 0.0}, OdeParams{0.1, 0.1, 0.0, 0.5}, {0, 1});
  EXPECT_EQ(bad_dx.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad_dx.status().message(), HasSubstr("dx2 > 0"));

  const auto negative_rate =
      IntegrateOde(State{1.0, 0.1, 0.0}, OdeParams{-0.1, 0.1, 1.0, 0.5}, {0, 1});
  EXPECT_EQ(negative_rate.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(negative_rate.status().message(), HasSubstr("eta_h, eta_y"));
}

TEST(IntegrateOde, StepCapReturnsResourceExhaustedInsteadOfHanging) {
  IntegrateOptions tiny;
  tiny.max_explicit_steps = 3;
  tiny.max_implicit_steps = 3;
  const auto tr =
      IntegrateOde(State{1.0, 0.1, 0.0}, OdeParams{0.1, 0.1, 1.0, 0.5}, {0.0, 1e4}, tiny);
  EXPECT_EQ(tr.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(tr.status().message(), HasSubstr("implicit steps"));
}

// What the fitter relies on: over its whole search range, every variant either returns finite
// curves or an error Status (never NaN, never a hang).
TEST(IntegrateOde, EveryVariantIsFiniteOrAnErrorOverTheFitRange) {
  const State rich{1e-3, 1e-9, ConsistentW(1e-9, 0.5, 1.0)};
  const State lazy{2.0, 0.3, ConsistentW(0.3, 0.5, 1.0)};
  int num_ok = 0;
  for (Variant v : kAllVariants) {
    for (const State& s0 : {rich, lazy}) {
      for (double eta_y : {1e-6, 1e-3, 1e-1, 1e1, 1e2}) {
        for (double ratio : {1e-3, 1.0, 1e2}) {
          const OdeParams p{eta_y * ratio, eta_y, 1.0, 0.5, v};
          const auto tr = IntegrateSteps(s0, p, 6000);
          if (!tr.ok()) {
            EXPECT_THAT(tr.status().message(), HasSubstr(VariantName(v)));
            continue;
          }
          ++num_ok;
          for (size_t i = 0; i < tr->t.size(); ++i) {
            ASSERT_TRUE(std::isfinite(tr->h[i]) && std::isfinite(tr->y[i]) &&
                        std::isfinite(tr->w[i]))
                << VariantName(v) << " eta_y = " << eta_y << " ratio = " << ratio;
            ASSERT_GE(tr->h[i], 0.0);
          }
        }
      }
    }
  }
  EXPECT_GT(num_ok, 100);  // of 150: errors are the exception
}

// IntegrateOdeVisit runs the same integration as IntegrateOde (same samples, bit for bit) in
// both forms, and stops where the visitor asks.
TEST(IntegrateOdeVisit, VisitsTheSamplesOfIntegrateOdeInOrderAndStopsOnRequest) {
  const OdeParams p{6.5e-4, 0.04, 1.0, 0.5};
  const State s0{1e-3, 1e-9, ConsistentW(1e-9, 0.5, 1.0)};
  const std::vector<double> times = LogTimes(6000.0, 300);
  for (bool signed_form : {true, false}) {
    const auto tr = IntegrateOde(s0, p, times, Form(signed_form));
    ASSERT_TRUE(tr.ok()) << tr.status();
    std::vector<State> seen;
    std::vector<size_t> order;
    const absl::Status all =
        IntegrateOdeVisit(s0, p, times, Form(signed_form), [&](size_t i, const State& s) {
          order.push_back(i);
          seen.push_back(s);
          return true;
        });
    ASSERT_TRUE(all.ok()) << all;
    ASSERT_EQ(seen.size(), times.size());
    for (size_t i = 0; i < times.size(); ++i) {
      EXPECT_EQ(order[i], i);
      EXPECT_EQ(seen[i].h, tr->h[i]) << i;
      EXPECT_EQ(seen[i].y, tr->y[i]) << i;
      EXPECT_EQ(seen[i].w, tr->w[i]) << i;
    }
    size_t visits = 0;
    const absl::Status stopped = IntegrateOdeVisit(
        s0, p, times, Form(signed_form), [&](size_t i, const State&) { return ++visits, i < 41; });
    EXPECT_TRUE(stopped.ok()) << stopped;
    EXPECT_EQ(visits, 42u);
  }
}

// At the explicit step cap the Rosenbrock method continues from where the explicit one stopped
// (no sample is visited twice) and agrees with IntegrateOde's start-over.
TEST(IntegrateOdeVisit, StiffCaseContinuesWithRosenbrock) {
  const OdeParams p{10.0, 100.0, 1.0, 0.5};
  const State s0{1.0, 0.1, ConsistentW(0.1, 0.5, 1.0)};
  for (bool signed_form : {true, false}) {
    const auto tr = IntegrateSteps(s0, p, 6000, Form(signed_form));
    ASSERT_TRUE(tr.ok()) << tr.status();
    ASSERT_TRUE(tr->used_implicit);
    std::vector<size_t> order;
    std::vector<State> seen;
    const absl::Status s =
        IntegrateOdeVisit(s0, p, tr->t, Form(signed_form), [&](size_t i, const State& x) {
          order.push_back(i);
          seen.push_back(x);
          return true;
        });
    ASSERT_TRUE(s.ok()) << s;
    ASSERT_EQ(seen.size(), tr->t.size());
    for (size_t i = 0; i < seen.size(); i += 50) {
      EXPECT_EQ(order[i], i);
      EXPECT_NEAR(seen[i].h, tr->h[i], 1e-7 * tr->h[i]) << i;
      EXPECT_NEAR(seen[i].y, tr->y[i], 1e-7 * tr->y[i]) << i;
    }
  }
}

TEST(IntegrateOdeVisit, ReportsErrorsLikeIntegrateOde) {
  IntegrateOptions tiny;
  tiny.max_explicit_steps = 3;
  tiny.max_implicit_steps = 3;
  int visits = 0;
  auto count = [&](size_t, const State&) { return ++visits, true; };
  EXPECT_EQ(IntegrateOdeVisit(State{1.0, 0.1, 0.0}, OdeParams{0.1, 0.1, 1.0, 0.5}, {0.0, 1e4}, tiny,
                              count)
                .code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(visits, 1);  // the initial state
  EXPECT_EQ(IntegrateOdeVisit(State{0.0, 0.1, 0.0}, OdeParams{0.1, 0.1, 1.0, 0.5}, {0.0, 1.0},
                              IntegrateOptions(), count)
                .code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace replearn
