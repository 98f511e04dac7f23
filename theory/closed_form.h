// The effective theory of van Rossem & Saxe, "When Representations Align" (ICML 2024), in
// closed form. Bracketed names ([ODE], [CONSERVED], ...) are the equation names of
// docs/theory.md; comments and tests cite them.
//
// Notation for one pair (x1, y1*), (x2, y2*) and one hidden layer:
//   dx2 = ||x2 - x1||^2, dy2 = ||y2* - y1*||^2             (constants of the data)
//   h   = ||h(x2) - h(x1)||^2                              (representational distance)
//   y   = ||yhat2 - yhat1||^2                              (output difference)
//   w   = y - (y2* - y1*) . (yhat2 - yhat1)                (alignment; 0 at zero loss)
// Time unit: one full-batch training step. eta_h = 1/(2 tau_h), eta_y = 1/(2 tau_y) are the
// effective learning rates of the encoder and the decoder.
//
// Loss convention: L = 1/2 * mean over the two points of ||yhat_i - y_i*||^2, with the squared
// norm summed (not averaged) over output units.
#ifndef REPLEARN_THEORY_CLOSED_FORM_H_
#define REPLEARN_THEORY_CLOSED_FORM_H_

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace replearn {

// Effective learning rates (per training step) of the encoder (eta_h), the decoder (eta_y)
// and the mean output (eta_ybar).
struct Rates {
  double eta_h = 0.0;
  double eta_y = 0.0;
  double eta_ybar = 0.0;
};

// A point of the closed 3-D system; also used for its time derivative.
struct State {
  double h = 0.0;
  double y = 0.0;
  double w = 0.0;
};

// The true dynamics [ODE] and the deliberately wrong alternatives used as controls
// (docs/theory.md section 5): a fit of a wrong variant to measured curves should be clearly worse.
enum class Variant {
  kTrue,                 // [ODE] as written
  kDhDoubled,            // dh/dt multiplied by 2
  kDyDoubled,            // dy/dt multiplied by 2
  kDwSecondTermFlipped,  // sign of the second dw/dt term (the eta_h one) flipped
  kDyNoHTerm,            // the eta_h * dx2 * y / h term dropped from dy/dt
};

// All variants, kTrue first.
inline constexpr Variant kAllVariants[] = {Variant::kTrue, Variant::kDhDoubled, Variant::kDyDoubled,
                                           Variant::kDwSecondTermFlipped, Variant::kDyNoHTerm};

// "true", "dh_doubled", "dy_doubled", "dw_second_term_flipped", "dy_no_h_term".
absl::string_view VariantName(Variant variant);

// Floor applied to h inside OdeRhs: every 1/h uses max(h, kHFloor), so the (h, y, w) form
// stays finite at a merged pair (h -> 0 with y/h -> Q, see [CONSERVED]). It only matters once
// h < 1e-30, far below any measured distance. The integrator does not need it: it works in the
// coordinates of OdeRhsSigned or OdeRhsLog, where no 1/h appears.
inline constexpr double kHFloor = 1e-30;

// [ODE] right-hand side (per training step):
//   dh/dt = - eta_h * dx2 * w
//   dy/dt = - w * ( eta_y * h + eta_h * dx2 * y / h )
//   dw/dt = - 1/2 * eta_y * (3 w - y + dy2) * h  -  1/2 * eta_h * dx2 * (y + w) * w / h
// modified as `variant` says. Returns (dh/dt, dy/dt, dw/dt); 1/h uses max(h, kHFloor).
State OdeRhs(const State& s, double eta_h, double eta_y, double dx2, double dy2,
             Variant variant = Variant::kTrue);

// [ODE] in the coordinates the integrator uses, l = log h, r = y/h, s = w/h (h > 0):
//   dl/dt = (dh/dt) / h
//   dr/dt = (dy/dt) / h - r (dh/dt) / h
//   ds/dt = (dw/dt) / h - s (dh/dt) / h
// which for the true variant reads
//   dl/dt = -eta_h dx2 s
//   dr/dt = -eta_y h s                                     (so [CONSERVED] Q = r - k h)
//   ds/dt = -1/2 eta_y (3 s h - r h + dy2) + 1/2 eta_h dx2 s (s - r)
// with h = exp(l). Every term is polynomial in (h, r, s): no 1/h, and h = exp(l) > 0 by
// construction, so a merging pair (h -> 0, r and s -> Q) is a smooth, non-stiff trajectory
// (l decreases linearly) instead of a 0/0 (integrate.h: "Small h" for what rounding does to
// very deep merges). The variants modify dh/dt, dy/dt, dw/dt as in OdeRhs.
struct LogState {
  double l = 0.0;  // log h
  double r = 0.0;  // y / h
  double s = 0.0;  // w / h
};
LogState ToLogState(const State& s);    // requires s.h > 0
State FromLogState(const LogState& s);  // h = exp(l) (0 if it underflows), y = r h, w = s h
LogState OdeRhsLog(const LogState& s, double eta_h, double eta_y, double dx2, double dy2,
                   Variant variant = Variant::kTrue);
// Jacobian of OdeRhsLog with respect to (l, r, s), row-major: jac[3 * i + j] = d f_i / d x_j.
// Used by the implicit (Rosenbrock) integrator.
void OdeJacobianLog(const LogState& s, double eta_h, double eta_y, double dx2, double dy2,
                    Variant variant, double jac[9]);

// [ODE] (true variant) in signed coordinates (c, d) for states with (y - w)^2 = dy2 y, which
// holds exactly for a scalar output (y - w = dy* . dyhat) and whenever the output difference
// is parallel to the target difference (the case in which [ODE] is exact for the linearised
// model). With b = sqrt(dy2):
//   h = c^2,   y = d^2 c^2,   w = d^2 c^2 - b d c          (c = signed distance along dh,
//                                                          d = signed decoder gain)
//   dc/dt = -1/2 eta_h dx2 d (d c - b)
//   dd/dt = -1/2 eta_y     c (d c - b)
// (substitute into [ODE]: 3w - y + dy2 = (2dc - b)(dc - b) and (y + w) w / h = d^2 (2dc - b)
// (dc - b)). This is [ODE] without its 1/h singularity: when the representations cross, c
// passes through 0 and h = c^2 touches 0 and grows again (in (h, y, w), w/h -> infinity
// there); a merging pair (dy2 = 0) decays smoothly. [CONSERVED] is Q = d^2 - k c^2.
struct SignedState {
  double c = 0.0;
  double d = 0.0;
};
// True if (y - w)^2 = dy2 y to `rel_tol` relative to (y - w)^2 + dy2 y (and y >= 0, h > 0).
bool HasSignedForm(const State& s, double dy2, double rel_tol = 1e-4);
// c = sqrt(h), d = sign(y - w) sqrt(y / h): keeps h and y exactly, w up to the consistency
// mismatch. Requires h > 0, y >= 0.
SignedState ToSignedState(const State& s);
// The nearest state with the signed form, keeping h and y: w = y - sign(y - w) sqrt(dy2 y)
// (sign(0) = +1). A no-op up to rounding when HasSignedForm already holds.
State ProjectToSignedForm(const State& s, double dy2);
State FromSignedState(const SignedState& s, double dy2);
SignedState OdeRhsSigned(const SignedState& s, double eta_h, double eta_y, double dx2, double dy2);
// Jacobian with respect to (c, d), row-major: jac[2 * i + j] = d f_i / d x_j.
void OdeJacobianSigned(const SignedState& s, double eta_h, double eta_y, double dx2, double dy2,
                       double jac[4]);

// [CONSERVED]  Q = y/h - (eta_y / (eta_h * dx2)) * h, constant along [ODE] (true variant):
// d(y/h)/dt = -eta_y w and d(h)/dt * eta_y / (eta_h dx2) = -eta_y w.
double ConservedQ(const State& s, double eta_h, double eta_y, double dx2);

// [FINAL] terms for one pair, with ratio = eta_h / eta_y (only the ratio enters):
//   A_high = ( h0/dx2 - ratio * y0/h0 ) * dx2
//   A_low  = sqrt(ratio) * sqrt(dx2) * sqrt(dy2)
double FinalAHigh(double h0, double y0, double dx2, double eta_h_over_eta_y);
double FinalALow(double dx2, double dy2, double eta_h_over_eta_y);

// [FINAL] h(inf) = A_high / 2 + sqrt( A_high^2 / 4 + A_low^2 ), the fixed point of [ODE]
// reached from (h0 > 0, y0) when dy2 > 0 (there y -> dy2, w -> 0). It is the positive root of
// k h^2 + Q h - dy2 = 0 with k = eta_y / (eta_h dx2), i.e. [CONSERVED] evaluated at y = dy2.
// For dy2 = 0 it gives max(A_high, 0) (the logistic limit, see LogisticSolution).
// Computed without cancellation (for A_high < 0 as A_low^2 / (sqrt(A_high^2/4 + A_low^2) -
// A_high/2)). Returns NaN unless h0 > 0, dx2 > 0, dy2 >= 0 and eta_h_over_eta_y > 0.
double FinalH(double h0, double y0, double dx2, double dy2, double eta_h_over_eta_y);

// [FINAL], whole-dataset form with distances (not squared) for one pair of a dataset:
//   D_h(inf) = sqrt( (A_high + sqrt(A_high^2 + 4 A_low^2)) / 2 )
//   A_low  = sqrt(ratio) * dy_star * dx
//   A_high = ( (dh0/dx)^2 - (dy0/dh0)^2 * ratio ) * dx^2
// where dx = ||x2 - x1||, dy_star = ||y2* - y1*||, dh0 = ||h0(x2) - h0(x1)||,
// dy0 = ||yhat0(x2) - yhat0(x1)|| at initialisation. Equals sqrt(FinalH(dh0^2, dy0^2, dx^2,
// dy_star^2, ratio)). Returns NaN unless dh0 > 0, dx > 0, dy_star >= 0 and ratio > 0.
double FinalDistance(double dh0, double dy0, double dx, double dy_star, double eta_h_over_eta_y);

// [YBAR]  ||ybar(t) - ybar*||^2 = ||ybar(0) - ybar*||^2 * exp(-2 t eta_ybar).
// Note (derived in linearised_flow.h): for the linearised model with
// tau_ybar d(ybar)/dt = -dL/d(ybar), this holds with eta_ybar = 1 / tau_ybar, not
// 1 / (2 tau_ybar) as for eta_h and eta_y.
double YbarError(double t, double ybar0_err2, double eta_ybar);

// [LOSS]  L(t) = 1/4 * ( 2 exp(-2 t eta_ybar) ||ybar(0) - ybar*||^2 + w(t) + (dy2 - y(t))/2 ),
// with y(t), w(t) from [ODE].
double AnalyticLoss(double t, double ybar0_err2, double eta_ybar, double y_t, double w_t,
                    double dy2);

// The two-point quantities of docs/theory.md section 1 for predictions yhat1, yhat2 and targets
// y1*, y2* (all of one output dimension).
struct TwoPointTerms {
  double ybar_err2 = 0.0;  // ||(yhat1 + yhat2)/2 - (y1* + y2*)/2||^2
  double y = 0.0;          // ||yhat2 - yhat1||^2
  double w = 0.0;          // y - (y2* - y1*) . (yhat2 - yhat1)
  double dy2 = 0.0;        // ||y2* - y1*||^2
};
// CHECK-fails if the four spans differ in size (a programming error, not user input).
TwoPointTerms MeasureTwoPointTerms(absl::Span<const double> yhat1, absl::Span<const double> yhat2,
                                   absl::Span<const double> y1_star,
                                   absl::Span<const double> y2_star);

// [LOSS-SPLIT] left side: L = 1/2 * ( ||yhat1 - y1*||^2 + ||yhat2 - y2*||^2 ) / 2.
double HalfMse(absl::Span<const double> yhat1, absl::Span<const double> yhat2,
               absl::Span<const double> y1_star, absl::Span<const double> y2_star);

// [LOSS-SPLIT] right side, (ybar, w, y, dy2) form:
//   L = 1/2 ||ybar - ybar*||^2 + 1/4 ( w + (dy2 - y)/2 ).
double LossSplit(double ybar_err2, double w, double y, double dy2);

// [LOSS-SPLIT] for vectors: MeasureTwoPointTerms, then the (ybar, w, y, dy2) form. Equal to
// HalfMse(...) up to rounding, for any predictions (the split is exact, not an approximation).
double LossSplit(absl::Span<const double> yhat1, absl::Span<const double> yhat2,
                 absl::Span<const double> y1_star, absl::Span<const double> y2_star);

// Closed-form solution of [ODE] (true variant) for an agreeing pair, dy2 = 0. Then w = y for
// every consistent state, [CONSERVED] gives y = h (Q + k h) with k = eta_y / (eta_h dx2), and
// dh/dt = -eta_h dx2 y reduces to the logistic equation
//   dh/dt = eta_y * h * (A - h),    A = A_high = h0 - (eta_h/eta_y) dx2 y0/h0 = -Q/k,
// solved by
//   h(t) = h0 / ( exp(-eta_y A t) + h0 * eta_y t * phi(eta_y A t) ),  phi(u) = (1 - e^-u)/u,
//          (phi(0) = 1; this is A h0 / (h0 + (A - h0) exp(-eta_y A t)) for A != 0)
//   y(t) = w(t) = h(t) * ( y0/h0 + k (h(t) - h0) ).
// For A > 0, h -> A; for A <= 0, h -> 0 (merge) with y/h -> Q. Uses h0 and y0 only; the
// returned w equals y (the given w0 is ignored; consistency requires w0 = y0). Requires
// h0 > 0, eta_h > 0, eta_y > 0, dx2 > 0.
State LogisticSolution(const State& initial, double eta_h, double eta_y, double dx2, double t);

}  // namespace replearn

#endif  // REPLEARN_THEORY_CLOSED_FORM_H_
