// Numerical solution of [ODE] (docs/theory.md section 3) and its variants, f64.
//
// Method. Two exact reformulations of [ODE] (closed_form.h) avoid its 1/h singularity:
//  - Signed coordinates (c, d) of OdeRhsSigned, used for the true variant whenever the initial
//    state has the form (y - w)^2 = dy2 y (always true for a scalar output; HasSignedForm with
//    relative tolerance 1e-4; w0 is then taken as y0 - sqrt(dy2 y0) sign(y0 - w0)). The system
//    is polynomial, so crossings (c through 0) and merges are ordinary smooth trajectories.
//  - Otherwise (the variants, or vector outputs not parallel to the target difference) the
//    coordinates (l, r, s) = (log h, y/h, w/h) of OdeRhsLog, where h = exp(l) stays > 0 by
//    construction and no 1/h appears (see "Small h" for the two limits of this form).
// Time stepping: Boost.Odeint's Dormand-Prince 5(4) with dense output and error control (per
// component err <= abs_tol + rel_tol * (|x| + dt |dx/dt|), max norm), sampled exactly at the
// requested times by dense-output interpolation. The system is stiff when a fast rate meets a
// long horizon (eta_y h T >> 1, e.g. the upper end of the fitter's grid): if the explicit
// method needs more than `max_explicit_steps` steps, the whole integration is redone with the
// L-stable Rosenbrock 4(3) method (analytic Jacobian) and dense output.
//
// Small h in the (l, r, s) form. Two things drive h towards 0, told apart by dy2:
//  - dy2 = 0: a merging pair (h -> 0, y/h and w/h -> Q > 0). The merge itself is stable, but
//    [ODE] amplifies any deviation from the consistent manifold w = y relative to h, like
//    (h0/h)^(1/2) (d(s - r)/dt = (s - r)(eta_h dx2 s - eta_y h)/2), so rounding errors would
//    blow up once h/h0 ~ 1e-32. Once h < kMergedFraction * h0 (1e-20, where that growth is
//    ~1e-6) the ratios y/h, w/h are frozen at their converged value and only log h keeps
//    decreasing: h, y and w then decay exponentially to 0 at rate eta_h dx2 Q, which is the
//    exact asymptotic solution.
//  - dy2 > 0: h reaches 0 only when the two representations cross (dh passes through 0,
//    e.g. from an output anti-aligned with the target difference, w > y, and a large y/h).
//    The (h, y, w) form is singular there (w/h -> infinity) and cannot follow the crossing,
//    so this is reported as InvalidArgumentError once h < kMergedFraction * h0. (The signed
//    form follows crossings of the true dynamics.)
//
// Never crashes or hangs: the number of steps of each method is capped, odeint exceptions are
// caught, and any non-finite value is reported as an error Status.
#ifndef REPLEARN_THEORY_INTEGRATE_H_
#define REPLEARN_THEORY_INTEGRATE_H_

#include <cstdint>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "theory/closed_form.h"

namespace replearn {

// See "Small h" above.
inline constexpr double kMergedFraction = 1e-20;

struct IntegrateOptions {
  // Error bound per step on (c, d) or (log h, y/h, w/h); see the file comment.
  double rel_tol = 1e-10;
  double abs_tol = 1e-12;
  // Use the signed form for the true variant when the initial state allows it.
  bool use_signed_coordinates = true;
  // Steps of Dormand-Prince before switching to Rosenbrock (stiff fallback).
  int64_t max_explicit_steps = 20000;
  // Steps of Rosenbrock before giving up with ResourceExhaustedError.
  int64_t max_implicit_steps = 200000;
};

// Parameters of one [ODE] instance.
struct OdeParams {
  double eta_h = 0.0;
  double eta_y = 0.0;
  double dx2 = 0.0;
  double dy2 = 0.0;
  Variant variant = Variant::kTrue;
};

// Solution sampled at the requested times: h[i], y[i], w[i] at t[i].
struct Trajectory {
  std::vector<double> t;
  std::vector<double> h;
  std::vector<double> y;
  std::vector<double> w;
  bool used_implicit = false;            // true if the stiff fallback was needed
  bool used_signed_coordinates = false;  // true if integrated in (c, d)
};

// Integrates [ODE] (params.variant) from `initial` at times[0] and returns the state at every
// entry of `times` (strictly increasing, at least one entry; the first sample is `initial`).
// Errors: InvalidArgumentError for bad inputs (non-finite or non-positive initial h, negative
// rates, dx2 <= 0, dy2 < 0, unsorted times) and for a crossing (see "Small h");
// ResourceExhaustedError when the step cap of both methods is hit; InternalError when the
// solution turns non-finite (it blows up) or odeint fails.
absl::StatusOr<Trajectory> IntegrateOde(const State& initial, const OdeParams& params,
                                        absl::Span<const double> times,
                                        const IntegrateOptions& options = IntegrateOptions());

// Streaming form of IntegrateOde for objectives that need each sample only once (the fitter's
// residuals and grid search): visit(i, state at times[i]) is called for i = 0, 1, ... in
// order; a visit returning false stops the integration there (and the result is OK). Same
// inputs, method, tolerances and errors as IntegrateOde, except that when the explicit step
// cap is hit the Rosenbrock method continues from that point instead of starting over
// (samples are never visited twice). On an error, the samples visited before it stand.
absl::Status IntegrateOdeVisit(const State& initial, const OdeParams& params,
                               absl::Span<const double> times, const IntegrateOptions& options,
                               absl::FunctionRef<bool(size_t, const State&)> visit);

// Convenience: times 0, 1, ..., num_steps - 1 (training steps).
absl::StatusOr<Trajectory> IntegrateSteps(const State& initial, const OdeParams& params,
                                          int num_steps,
                                          const IntegrateOptions& options = IntegrateOptions());

}  // namespace replearn

#endif  // REPLEARN_THEORY_INTEGRATE_H_
