// Fitting the effective learning rates to measured curves ([FIT], docs/theory.md section 5).
//
// Given h[t], y[t], w[t] (and optionally the loss) at times t[0] < ... < t[n-1] for one hidden
// layer, Fit() finds (eta_h, eta_y) such that [ODE] integrated from the measured initial state
// (h[0], y[0], w[0]; see "Initial state" below) reproduces the three curves, then eta_ybar from
// the loss with [LOSS]:
//
// 1. Start: a log grid over eta_y in [grid_eta_y_min, grid_eta_y_max] (8 points per decade by
//    default) with eta_h = eta_y * ratio, for each of the candidate ratios
//      - rich-limit identity: ratio = h[n-1]^2 / (dx2 dy2)          (only if dy2 > 0)
//      - [CONSERVED] between the first and last sample:
//        ratio = (h[n-1] - h[0]) / (dx2 (y[n-1]/h[n-1] - y[0]/h[0]))   (if finite and > 0)
//    each also times 1/10 and 10; when neither candidate exists (e.g. dy2 = 0 and flat curves)
//    a ratio grid 1e-4 .. 1e4 (one point per decade) is used. The grid objective is evaluated on
//    at most `grid_max_samples` evenly spaced samples (always including the first and last).
//    The result is the minimum over the whole grid (first point wins ties), computed cheaply
//    with two exact shortcuts: the right-hand side of [ODE] (every variant) is a sum of terms
//    linear in eta_h or in eta_y, so x(t; eta_h, eta_y) = X(eta_y (t - t0); eta_h / eta_y) and
//    ONE integration per ratio, sampled at all the eta_y (t - t0), serves the whole eta_y grid;
//    and a grid point is dropped as soon as its partial sum of squares reaches the best
//    complete one (the integration stops when no point is left).
// 2. Refine the best grid point with Levenberg-Marquardt (Ceres Solver, dense QR) over
//    (log eta_h, log eta_y) on all samples. Residuals come from integrating [ODE]
//    (integrate.h). Jacobian: the log eta_h column is a central difference (step 1e-5); by
//    the same time scaling, d x / d log eta_h + d x / d log eta_y = (t - t0) dx/dt, which gives
//    the log eta_y column from the right-hand side at the solution with no extra integration.
// 3. eta_ybar: with (eta_h, eta_y) fixed, fit [LOSS] to the loss curve, using the fitted
//    y(t), w(t) and ||ybar(t0) - ybar*||^2 (from Curves::ybar0_err2, or, when that is NaN, from
//    the measured loss via [LOSS-SPLIT] at t0: 2 (loss[0] - (w[0] + (dy2 - y[0])/2) / 4)),
//    again grid + Levenberg-Marquardt over log eta_ybar. Time in [LOSS] and [YBAR] counts from
//    t[0].
//
// Objective minimised in steps 1 and 2 (FitOptions::objective):
//   kNormalised (default):  sum_k SSE_k / sum_t x_k[t]^2 over k in {h, y, w},
//                            so each curve counts by its relative error whatever its scale;
//   kRawSse:                sum_k SSE_k (docs/theory.md's "sum of squared errors" read literally;
//                            dominated by the largest curve).
// Both are reported. A curve that is identically 0 uses denominator 1 (its raw SSE).
//
// Initial state. [ODE] is exact for states with (y - w)^2 = dy2 y (output difference parallel
// to the target difference; always true for a scalar output, see OdeRhsSigned). By default
// (FitOptions::project_initial_state) the measured (h[0], y[0], w[0]) is projected onto that
// form, keeping h[0] and y[0] (ProjectToSignedForm): a no-op up to rounding for scalar
// outputs, and it lets the true dynamics follow representations that cross (h touching 0,
// e.g. the deepest layers of the default network, whose output starts anti-aligned). Without
// the projection an off-form start (noise, vector outputs) is integrated in the (h, y, w) form,
// which cannot pass a crossing; such grid points are then discarded.
//
// Any Variant can be fitted; the wrong ones are the controls of docs/theory.md section 5. They
// start from the same (projected) state but are integrated in the (h, y, w) form, so a trajectory
// of theirs that would need a crossing is unavailable to them.
#ifndef REPLEARN_THEORY_FIT_H_
#define REPLEARN_THEORY_FIT_H_

#include <limits>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "theory/closed_form.h"
#include "theory/integrate.h"

namespace replearn {

// Measured curves of one hidden layer (y, w and loss are the same for every layer).
struct Curves {
  std::vector<double> t;     // strictly increasing, e.g. training steps 0..n-1
  std::vector<double> h;     // ||h(x2) - h(x1)||^2, h[0] > 0
  std::vector<double> y;     // ||yhat2 - yhat1||^2
  std::vector<double> w;     // y - (y2* - y1*) . (yhat2 - yhat1)
  std::vector<double> loss;  // 1/2 MSE; empty = do not fit eta_ybar
  double dx2 = 0.0;          // ||x2 - x1||^2 > 0
  double dy2 = 0.0;          // ||y2* - y1*||^2 >= 0
  // ||ybar(t[0]) - ybar*||^2; NaN = derive it from loss[0] with [LOSS-SPLIT].
  double ybar0_err2 = std::numeric_limits<double>::quiet_NaN();
};

enum class FitObjective { kNormalised, kRawSse };

struct FitOptions {
  Variant variant = Variant::kTrue;
  FitObjective objective = FitObjective::kNormalised;
  double grid_eta_y_min = 1e-6;
  double grid_eta_y_max = 1e2;
  int grid_points_per_decade = 8;
  int grid_max_samples = 400;
  int max_lm_iterations = 100;
  bool project_initial_state = true;
  IntegrateOptions integrate;
};

struct FitResult {
  Variant variant = Variant::kTrue;
  double eta_h = 0.0;
  double eta_y = 0.0;
  // NaN when the loss is absent or ||ybar(t0) - ybar*||^2 = 0 (not identifiable).
  double eta_ybar = std::numeric_limits<double>::quiet_NaN();
  double sse = 0.0;              // SSE_h + SSE_y + SSE_w (raw), all samples
  double normalised_loss = 0.0;  // SSE_h / sum h^2 + SSE_y / sum y^2 + SSE_w / sum w^2
  double sse_h = 0.0, sse_y = 0.0, sse_w = 0.0, sse_loss = 0.0;
  // R^2 = 1 - SSE / sum_t (x[t] - mean x)^2; NaN for a constant curve (or absent loss).
  double r2_h = 0.0, r2_y = 0.0, r2_w = 0.0;
  double r2_loss = std::numeric_limits<double>::quiet_NaN();
  double h_final_predicted = 0.0;  // [FINAL] from the fitted eta_h/eta_y and measured h[0], y[0]
  double ybar0_err2 = 0.0;         // the value [LOSS] used
  State initial;                   // the initial state [ODE] was integrated from
  // Fitted curves at the measured t (loss empty when the measured loss is).
  std::vector<double> t, h, y, w, loss;
  // Diagnostics.
  int grid_evaluations = 0;
  int lm_iterations = 0;
  bool lm_converged = false;
};

// Fits one layer. InvalidArgumentError for malformed curves (sizes, order, non-finite values,
// h[0] <= 0, dx2 <= 0, dy2 < 0) or options; FailedPreconditionError when no grid point can be
// integrated. Deterministic: the same input gives bit-identical output.
absl::StatusOr<FitResult> Fit(const Curves& curves, const FitOptions& options = FitOptions());

// Fits every layer on `num_threads` threads (<= 0: one per core; ParallelFor, core/thread_pool.h).
// Result i belongs to layers[i] and does not depend on the number of threads.
std::vector<absl::StatusOr<FitResult>> FitLayers(absl::Span<const Curves> layers,
                                                 const FitOptions& options, int num_threads);

// Curves the theory predicts: [ODE] (variant) from `initial` at times t (t[0] is the start), and
// [LOSS] with ||ybar(t0) - ybar*||^2 = ybar0_err2 and rates.eta_ybar. Used to test the fitter
// and to draw theory curves.
absl::StatusOr<Curves> SimulateCurves(const State& initial, const Rates& rates, double dx2,
                                      double dy2, double ybar0_err2, absl::Span<const double> t,
                                      Variant variant = Variant::kTrue,
                                      const IntegrateOptions& options = IntegrateOptions());

// Coefficient of determination of `model` against `data` (same sizes): 1 - SSE / SST, NaN when
// SST = 0 or the sizes differ or are 0.
double RSquared(absl::Span<const double> data, absl::Span<const double> model);

}  // namespace replearn

#endif  // REPLEARN_THEORY_FIT_H_
