#include "theory/fit.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <vector>

#include "absl/status/status.h"
#include "core/rng.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "theory/closed_form.h"
#include "theory/integrate.h"
#include "theory/linearised_flow.h"

namespace replearn {
namespace {

using ::testing::HasSubstr;

// w for a scalar output whose difference has sign `sign` relative to the target difference.
double ConsistentW(double y, double dy2, double sign) {
  return y - std::sqrt(dy2) * sign * std::sqrt(y);
}

std::vector<double> Steps(int n) {
  std::vector<double> t(n);
  for (int i = 0; i < n; ++i) t[i] = i;
  return t;
}

struct Truth {
  const char* name;
  State initial;
  Rates rates;
  double dx2, dy2, ybar0_err2;
};

// Set A: the rich start of the default network (brief's numbers). Set B: a larger start with
// the decoder first pointing the wrong way (lazy-ish, eta_h > eta_y).
const Truth kSetA{"A", {1e-3, 1e-9, ConsistentW(1e-9, 0.5, 1.0)}, {6.5e-4, 0.04, 2e-3}, 1.0, 0.5,
                  0.3};
const Truth kSetB{"B", {0.5, 0.01, ConsistentW(0.01, 1.0, -1.0)}, {0.01, 0.003, 0.01}, 2.0, 1.0,
                  0.1};
// Set C: like the deepest layers of the default network, a tiny h0 and an output anti-aligned
// with the target difference; the representations cross (h touches 0) before they separate.
const Truth kSetC{
    "C", {1.2e-6, 1.8e-10, ConsistentW(1.8e-10, 0.5, -1.0)}, {5e-3, 0.015, 0.013}, 1.0, 0.5, 0.9};

// Generated with tighter tolerances than the fitter integrates with, so the fitter does not
// simply replay its own rounding.
Curves Generate(const Truth& truth, int n) {
  IntegrateOptions tight;
  tight.rel_tol = 1e-12;
  tight.abs_tol = 1e-15;
  auto c = SimulateCurves(truth.initial, truth.rates, truth.dx2, truth.dy2, truth.ybar0_err2,
                          Steps(n), Variant::kTrue, tight);
  EXPECT_TRUE(c.ok()) << c.status();
  return *c;
}

// 1% multiplicative Gaussian noise on every measured curve (seeded).
Curves AddNoise(Curves c, uint64_t seed) {
  Rng rng(seed);
  for (std::vector<double>* v : {&c.h, &c.y, &c.w, &c.loss}) {
    for (double& x : *v) x *= 1.0 + 0.01 * rng.Normal();
  }
  return c;
}

double RelErr(double a, double b) { return std::abs(a - b) / std::abs(b); }

TEST(Fit, RecoversKnownRatesFromNoiseFreeCurves) {
  constexpr double kRelTol = 0.01;
  for (const Truth& truth : {kSetA, kSetB, kSetC}) {
    const Curves curves = Generate(truth, 6000);
    const auto start = std::chrono::steady_clock::now();
    const auto fit = Fit(curves);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ASSERT_TRUE(fit.ok()) << fit.status();
    std::printf(
        "set %s: eta_h %.6g (err %.2g), eta_y %.6g (err %.2g), eta_ybar %.6g (err %.2g), "
        "normalised loss %.3g, %d grid evals, %d LM iterations, %.3f s\n",
        truth.name, fit->eta_h, RelErr(fit->eta_h, truth.rates.eta_h), fit->eta_y,
        RelErr(fit->eta_y, truth.rates.eta_y), fit->eta_ybar,
        RelErr(fit->eta_ybar, truth.rates.eta_ybar), fit->normalised_loss, fit->grid_evaluations,
        fit->lm_iterations, seconds);
    EXPECT_NEAR(fit->eta_h, truth.rates.eta_h, kRelTol * truth.rates.eta_h) << truth.name;
    EXPECT_NEAR(fit->eta_y, truth.rates.eta_y, kRelTol * truth.rates.eta_y) << truth.name;
    EXPECT_NEAR(fit->eta_ybar, truth.rates.eta_ybar, kRelTol * truth.rates.eta_ybar) << truth.name;
    EXPECT_GT(fit->r2_h, 0.9999);
    EXPECT_GT(fit->r2_y, 0.9999);
    EXPECT_GT(fit->r2_w, 0.9999);
    EXPECT_GT(fit->r2_loss, 0.9999);
    EXPECT_LT(fit->normalised_loss, 1e-8);
    const double final_h = FinalH(truth.initial.h, truth.initial.y, truth.dx2, truth.dy2,
                                  truth.rates.eta_h / truth.rates.eta_y);
    EXPECT_NEAR(fit->h_final_predicted, final_h, kRelTol * final_h);
    EXPECT_EQ(fit->t.size(), 6000u);
    EXPECT_EQ(fit->loss.size(), 6000u);
    EXPECT_LT(seconds, 30.0);  // a few seconds at most; this only catches a hang
  }
}

TEST(Fit, NoisyCurvesAreFitWithHighRSquared) {
  for (const Truth& truth : {kSetA, kSetB, kSetC}) {
    const Curves curves = AddNoise(Generate(truth, 6000), 42);
    const auto fit = Fit(curves);
    ASSERT_TRUE(fit.ok()) << fit.status();
    std::printf(
        "set %s noisy: eta_h err %.2g, eta_y err %.2g, eta_ybar err %.2g, R^2 h %.5f "
        "y %.5f w %.5f loss %.5f, normalised loss %.3g\n",
        truth.name, RelErr(fit->eta_h, truth.rates.eta_h), RelErr(fit->eta_y, truth.rates.eta_y),
        RelErr(fit->eta_ybar, truth.rates.eta_ybar), fit->r2_h, fit->r2_y, fit->r2_w, fit->r2_loss,
        fit->normalised_loss);
    EXPECT_GE(fit->r2_h, 0.99) << truth.name;
    EXPECT_GE(fit->r2_y, 0.99) << truth.name;
    EXPECT_GE(fit->r2_w, 0.99) << truth.name;
    EXPECT_GE(fit->r2_loss, 0.99) << truth.name;
    // With 6000 samples of 1% noise the rates are still pinned down closely.
    EXPECT_NEAR(fit->eta_h, truth.rates.eta_h, 0.05 * truth.rates.eta_h) << truth.name;
    EXPECT_NEAR(fit->eta_y, truth.rates.eta_y, 0.05 * truth.rates.eta_y) << truth.name;
  }
}

// 1% noise puts the initial (y, w) off the form (y - w)^2 = dy2 y. Projected (the default),
// the true dynamics follow the crossing of set C; unprojected, the (h, y, w) form cannot, and
// the fit fails to describe the curves.
TEST(Fit, ProjectedInitialStateLetsTrueDynamicsCross) {
  const Curves curves = AddNoise(Generate(kSetC, 6000), 42);
  ASSERT_FALSE(HasSignedForm(State{curves.h[0], curves.y[0], curves.w[0]}, curves.dy2));
  const auto projected = Fit(curves);
  FitOptions raw_start;
  raw_start.project_initial_state = false;
  const auto measured = Fit(curves, raw_start);
  ASSERT_TRUE(projected.ok()) << projected.status();
  ASSERT_TRUE(measured.ok()) << measured.status();
  EXPECT_TRUE(HasSignedForm(projected->initial, curves.dy2));
  EXPECT_EQ(measured->initial.w, curves.w[0]);
  EXPECT_LT(projected->normalised_loss, 1e-3);
  EXPECT_GT(measured->normalised_loss, 100.0 * projected->normalised_loss);
}

// docs/theory.md section 5: the wrong dynamics fit curves of the true dynamics clearly worse.
TEST(Fit, AlternativeDynamicsFitClearlyWorse) {
  constexpr double kFactor = 10.0;
  for (const Truth& truth : {kSetA, kSetB}) {
    const Curves curves = AddNoise(Generate(truth, 6000), 7);
    FitOptions options;
    const auto fit_true = Fit(curves, options);
    ASSERT_TRUE(fit_true.ok()) << fit_true.status();
    for (Variant v : kAllVariants) {
      if (v == Variant::kTrue) continue;
      options.variant = v;
      const auto fit = Fit(curves, options);
      ASSERT_TRUE(fit.ok()) << VariantName(v) << ": " << fit.status();
      std::printf("set %s: variant %-24s normalised loss %.3g (true %.3g, ratio %.3g)\n",
                  truth.name, std::string(VariantName(v)).c_str(), fit->normalised_loss,
                  fit_true->normalised_loss, fit->normalised_loss / fit_true->normalised_loss);
      EXPECT_GT(fit->normalised_loss, kFactor * fit_true->normalised_loss)
          << truth.name << " " << VariantName(v);
    }
  }
}

// Curves from the brute-force linearised flow (docs/theory.md check 1 set-up, aligned start): the
// fitter recovers eta_h = 1/(2 tau_h), eta_y = 1/(2 tau_y) and eta_ybar = 1/tau_ybar.
TEST(Fit, RecoversRatesOfTheLinearisedFlow) {
  const TimeConstants taus{2.0, 5.0, 3.0};
  TwoPointData data;
  data.x1 = Eigen::VectorXd::Constant(1, -1.0);
  data.x2 = Eigen::VectorXd::Constant(1, 0.0);
  data.y1_star = Eigen::VectorXd::Constant(1, 0.6);
  data.y2_star = Eigen::VectorXd::Constant(1, 0.6 + std::sqrt(0.5));
  Rng rng(1);
  LinearisedParams p;
  p.ybar = Eigen::VectorXd::Constant(1, 0.1);
  p.d_h.resize(30, 1);
  for (int i = 0; i < 30; ++i) p.d_h(i, 0) = 0.3 * rng.Normal();
  p.d_y = 0.2 * (p.d_h * Eigen::VectorXd::Constant(1, 1.0)).transpose();
  std::vector<double> times;
  for (int i = 0; i <= 60; ++i) times.push_back(0.5 * i);  // 0, 0.5, ..., 30
  const auto flow = SimulateLinearisedFlow(p, data, taus, 1e-3, times);
  ASSERT_TRUE(flow.ok()) << flow.status();
  Curves curves;
  curves.t = flow->t;
  curves.h = flow->h;
  curves.y = flow->y;
  curves.w = flow->w;
  curves.loss = flow->loss;
  curves.dx2 = 1.0;
  curves.dy2 = 0.5;
  curves.ybar0_err2 = flow->ybar_err2[0];
  const auto fit = Fit(curves);
  ASSERT_TRUE(fit.ok()) << fit.status();
  const Rates expected = RatesFromTimeConstants(taus);
  std::printf(
      "linearised flow: eta_h %.6g (expected %.6g), eta_y %.6g (%.6g), eta_ybar %.6g "
      "(%.6g), normalised loss %.3g\n",
      fit->eta_h, expected.eta_h, fit->eta_y, expected.eta_y, fit->eta_ybar, expected.eta_ybar,
      fit->normalised_loss);
  EXPECT_NEAR(fit->eta_h, expected.eta_h, 0.01 * expected.eta_h);
  EXPECT_NEAR(fit->eta_y, expected.eta_y, 0.01 * expected.eta_y);
  EXPECT_NEAR(fit->eta_ybar, expected.eta_ybar, 0.01 * expected.eta_ybar);
}

// The grid search (step 1) integrates once per ratio in scaled time and drops points early
// (fit.h); its result must be the minimum of the plain scan that integrates every grid point
// on its own, as documented: same subsample, weights, ratios and grid, first point wins ties.
// With max_lm_iterations = 0 the fit returns the grid point itself.
TEST(Fit, GridSearchFindsTheMinimumOfAPlainScan) {
  struct Case {
    Curves curves;
    Variant variant;
  };
  std::vector<Case> cases;
  for (const Truth& truth : {kSetA, kSetB, kSetC}) {
    cases.push_back({AddNoise(Generate(truth, 1500), 3), Variant::kTrue});
  }
  cases.push_back({AddNoise(Generate(kSetB, 1500), 4), Variant::kDhDoubled});
  cases.push_back({AddNoise(Generate(kSetA, 1500), 5), Variant::kDyNoHTerm});
  for (const Case& c : cases) {
    FitOptions options;
    options.variant = c.variant;
    options.max_lm_iterations = 0;
    const auto fit = Fit(c.curves, options);
    ASSERT_TRUE(fit.ok()) << fit.status();

    // The plain scan, from the documentation in fit.h.
    const int n = static_cast<int>(c.curves.t.size());
    const int m = std::min(n, options.grid_max_samples);
    std::vector<double> t, h, y, w;
    for (int k = 0; k < m; ++k) {
      const int i = static_cast<int>(std::llround(k * (n - 1.0) / (m - 1.0)));
      t.push_back(c.curves.t[i]);
      h.push_back(c.curves.h[i]);
      y.push_back(c.curves.y[i]);
      w.push_back(c.curves.w[i]);
    }
    auto weight = [](const std::vector<double>& x) {
      double s = 0.0;
      for (double v : x) s += v * v;
      return 1.0 / s;  // squared weight
    };
    const double wh = weight(h), wy = weight(y), ww = weight(w);
    const State initial = ProjectToSignedForm(State{h[0], y[0], w[0]}, c.curves.dy2);
    const size_t last = n - 1;
    const Curves& cc = c.curves;
    std::vector<double> ratios;
    for (double r :
         {cc.h[last] * cc.h[last] / (cc.dx2 * cc.dy2),
          (cc.h[last] - cc.h[0]) / (cc.dx2 * (cc.y[last] / cc.h[last] - cc.y[0] / cc.h[0]))}) {
      if (!(r > 0.0) || !std::isfinite(r)) continue;
      for (double f : {0.1, 1.0, 10.0}) ratios.push_back(r * f);
    }
    ASSERT_FALSE(ratios.empty());
    const int count = static_cast<int>(std::lround(std::log10(1e2 / 1e-6) * 8)) + 1;
    double best = std::numeric_limits<double>::infinity(), best_lh = 0.0, best_ly = 0.0;
    for (double ratio : ratios) {
      for (int j = 0; j < count; ++j) {
        const double ly = std::log(1e-6) + (std::log(1e2) - std::log(1e-6)) * j / (count - 1.0);
        const double lh = ly + std::log(ratio);
        const auto tr = IntegrateOde(
            initial, OdeParams{std::exp(lh), std::exp(ly), cc.dx2, cc.dy2, c.variant}, t);
        if (!tr.ok()) continue;
        double obj = 0.0;
        for (int i = 0; i < m; ++i) {
          obj += wh * (tr->h[i] - h[i]) * (tr->h[i] - h[i]) +
                 wy * (tr->y[i] - y[i]) * (tr->y[i] - y[i]) +
                 ww * (tr->w[i] - w[i]) * (tr->w[i] - w[i]);
        }
        if (obj < best) {
          best = obj;
          best_lh = lh;
          best_ly = ly;
        }
      }
    }
    EXPECT_EQ(fit->grid_evaluations, static_cast<int>(ratios.size()) * count);
    EXPECT_DOUBLE_EQ(fit->eta_h, std::exp(best_lh)) << VariantName(c.variant);
    EXPECT_DOUBLE_EQ(fit->eta_y, std::exp(best_ly)) << VariantName(c.variant);
  }
}

TEST(Fit, RawSseObjectiveAlsoRecoversRates) {
  FitOptions options;
  options.objective = FitObjective::kRawSse;
  const auto fit = Fit(Generate(kSetB, 3000), options);
  ASSERT_TRUE(fit.ok()) << fit.status();
  EXPECT_NEAR(fit->eta_h, kSetB.rates.eta_h, 0.01 * kSetB.rates.eta_h);
  EXPECT_NEAR(fit->eta_y, kSetB.rates.eta_y, 0.01 * kSetB.rates.eta_y);
}

TEST(Fit, AgreeingPairWithoutTargetDistance) {
  // dy2 = 0: no rich-limit ratio; the [CONSERVED] ratio starts the grid.
  const Truth truth{"dy2=0", {0.2, 0.05, 0.05}, {0.02, 0.01, 5e-3}, 1.0, 0.0, 0.2};
  const auto fit = Fit(Generate(truth, 2000));
  ASSERT_TRUE(fit.ok()) << fit.status();
  EXPECT_NEAR(fit->eta_h, truth.rates.eta_h, 0.01 * truth.rates.eta_h);
  EXPECT_NEAR(fit->eta_y, truth.rates.eta_y, 0.01 * truth.rates.eta_y);
  // [FINAL] for dy2 = 0 is max(A_high, 0).
  EXPECT_NEAR(fit->h_final_predicted,
              std::max(0.0, FinalAHigh(0.2, 0.05, 1.0, truth.rates.eta_h / truth.rates.eta_y)),
              1e-3);
}

TEST(Fit, EtaYbarFromLossDecompositionWhenYbarErrorIsUnknown) {
  Curves curves = Generate(kSetB, 2000);
  curves.ybar0_err2 = std::numeric_limits<double>::quiet_NaN();
  const auto fit = Fit(curves);
  ASSERT_TRUE(fit.ok()) << fit.status();
  // [LOSS-SPLIT] at t0 gives back the simulated ||ybar(0) - ybar*||^2.
  EXPECT_NEAR(fit->ybar0_err2, kSetB.ybar0_err2, 1e-9);
  EXPECT_NEAR(fit->eta_ybar, kSetB.rates.eta_ybar, 0.01 * kSetB.rates.eta_ybar);
}

TEST(Fit, WithoutLossEtaYbarIsNaN) {
  Curves curves = Generate(kSetB, 500);
  curves.loss.clear();
  const auto fit = Fit(curves);
  ASSERT_TRUE(fit.ok()) << fit.status();
  EXPECT_TRUE(std::isnan(fit->eta_ybar));
  EXPECT_TRUE(std::isnan(fit->r2_loss));
  EXPECT_TRUE(fit->loss.empty());
}

TEST(FitLayers, ResultsDoNotDependOnThreadCount) {
  std::vector<Curves> layers;
  for (int k = 0; k < 3; ++k) {
    Truth truth = kSetB;
    truth.initial.h = 0.3 + 0.2 * k;
    truth.rates.eta_h *= 1.0 + 0.5 * k;
    layers.push_back(AddNoise(Generate(truth, 1000), 100 + k));
  }
  const auto one = FitLayers(layers, FitOptions(), 1);
  const auto two = FitLayers(layers, FitOptions(), 2);
  ASSERT_EQ(one.size(), 3u);
  ASSERT_EQ(two.size(), 3u);
  for (int k = 0; k < 3; ++k) {
    ASSERT_TRUE(one[k].ok() && two[k].ok());
    const auto single = Fit(layers[k]);
    ASSERT_TRUE(single.ok());
    EXPECT_EQ(one[k]->eta_h, two[k]->eta_h);
    EXPECT_EQ(one[k]->eta_y, two[k]->eta_y);
    EXPECT_EQ(one[k]->eta_ybar, two[k]->eta_ybar);
    EXPECT_EQ(one[k]->sse, two[k]->sse);
    EXPECT_EQ(one[k]->eta_h, single->eta_h);
  }
}

TEST(FitLayers, ReportsFailuresPerLayer) {
  std::vector<Curves> layers = {Generate(kSetB, 200), Generate(kSetB, 200)};
  layers[1].h[0] = 0.0;
  const auto results = FitLayers(layers, FitOptions(), 2);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_TRUE(results[0].ok());
  EXPECT_EQ(results[1].status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(results[1].status().message(), HasSubstr("curves.h[0] = 0"));
}

TEST(Fit, RejectsMalformedCurvesWithSpecificErrors) {
  const Curves good = Generate(kSetB, 50);
  Curves short_w = good;
  short_w.w.pop_back();
  EXPECT_THAT(Fit(short_w).status().message(), HasSubstr("curves.w.size() = 49; expected 50"));
  Curves unsorted = good;
  std::swap(unsorted.t[3], unsorted.t[4]);
  EXPECT_THAT(Fit(unsorted).status().message(), HasSubstr("curves.t[4] = 3"));
  Curves nan_y = good;
  nan_y.y[7] = std::nan("");
  EXPECT_THAT(Fit(nan_y).status().message(), HasSubstr("curves.y[7] = nan"));
  Curves bad_dx = good;
  bad_dx.dx2 = 0.0;
  EXPECT_THAT(Fit(bad_dx).status().message(), HasSubstr("dx2 > 0"));
  FitOptions bad_options;
  bad_options.grid_eta_y_min = 0.0;
  EXPECT_EQ(Fit(good, bad_options).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(RSquared, MatchesDefinition) {
  const std::vector<double> data = {1, 2, 3, 4}, model = {1, 2, 3, 5};
  // SST = 5, SSE = 1.
  EXPECT_DOUBLE_EQ(RSquared(data, model), 0.8);
  EXPECT_TRUE(std::isnan(RSquared({2, 2}, {2, 2})));
}

TEST(SimulateCurves, LossFollowsAnalyticLoss) {
  const Curves c = Generate(kSetB, 100);
  for (size_t i = 0; i < c.t.size(); i += 10) {
    EXPECT_DOUBLE_EQ(c.loss[i], AnalyticLoss(c.t[i], kSetB.ybar0_err2, kSetB.rates.eta_ybar, c.y[i],
                                             c.w[i], kSetB.dy2));
  }
  EXPECT_DOUBLE_EQ(c.h[0], kSetB.initial.h);
}

}  // namespace
}  // namespace replearn
