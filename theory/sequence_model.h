// The two-point theory for sequences of van Rossem & Saxe, "Algorithm Development in Neural
// Networks: Insights from the Streaming Parity Task" (ICML 2025; equation numbers below are
// the paper's). Two input sequences x_1, x_2 (lengths m_1, m_2) have nearby representations
// h_1, h_2. The data continue each of them with the same N continuations x~_i (i = 1 .. N),
// whose targets are y*_{1,i} and y*_{2,i}. The network is replaced by freely optimisable
// vectors h_1, h_2 and one smooth output map y_i per continuation; gradient flow runs on
// L = 1/2 < || y_i(x_alpha x~_i) - y*_{alpha,i} ||^2 >, the average running over the N
// continuations and the two sequences alpha = 1, 2.
//
// 1. Mean-expansion model (3 scalars). Each y_i is linearised around the pair's mean,
//    y_i(x_alpha x~_i) ~ ybar_i +/- 1/2 D_{y_i} dh, with dh = h_2 - h_1. Scalars:
//      h = ||dh||^2,   y = < ||dy_i||^2 >,   w = < ||dy_i||^2 - dy_i . (y*_{2,i} - y*_{1,i}) >,
//      dy_i = D_{y_i} dh,   dy*2 = < ||y*_{2,i} - y*_{1,i}||^2 >.
//    With time constants tau_h (1/tau_h = 1/tau_{h1} + 1/tau_{h2}, CombinedTauH) and tau_y
//    (every output map alike), and assuming dh only changes length (d dh/dt parallel to dh):
//      dh/dt = -1/2 (1/tau_h) w                                                     (eq. 4/20)
//      dy/dt = -1/2 [ h / (N tau_y) + (1/tau_h) y / h ] w
//      dw/dt = -1/4 (1/(N tau_y)) (3w - y + dy*2) h - 1/4 (1/tau_h) (w/h) (y + w)
//    Every output-map gradient carries 1/N from the average over continuations, so the decoder
//    rate is 1/(N tau_y). This is [ODE] of closed_form.h with
//      eta_h = 1/(2 tau_h),  eta_y = 1/(2 N tau_y),  dx2 = 1,  dy2 = dy*2,
//    so (h, y, w) are integrated by IntegrateOde; at N = 1 the model is [ODE] itself (with
//    eta_h dx2 = 1/(2 tau_h)). Conserved (eq. 21-22):
//      Q = y/h - (tau_h / (N tau_y)) h.
//    Final distance (eq. 5, 24-25), the only valid stable fixed point:
//      h(inf) = A_high/2 + sqrt(A_high^2/4 + A_low^2),
//      A_high = h(0) - (N tau_y / tau_h) y(0)/h(0),
//      A_low  = sqrt(N tau_y / tau_h) sqrt(dy*2).
//    Merger condition (eq. 7): h(inf) = 0 iff A_low = 0 (the pair agrees on the target of every
//    continuation) and A_high < 0, i.e. h(0) < (N tau_y / tau_h) y(0)/h(0): more continuations
//    (data) or smaller initial distances favour merging. At the boundary A_low = 0, A_high = 0
//    h still tends to 0, but only like 2 N tau_y / t instead of exponentially; the paper's
//    strict inequality is kept.
//    Agreeing pair (dy*2 = 0, so w = y), Bernoulli closed form (eq. 34-35):
//      dh/dt = -h^2 / (2 N tau_y) + A_high h / (2 N tau_y),
//      h(t) = A_high / (1 + (A_high/h(0) - 1) exp(-A_high t / (2 N tau_y)))  -> max(A_high, 0).
//
// 2. Fixed-expansion-point model (9 scalars; paper App. B.4, eq. 36-43). Each output map is
//    linearised around a FIXED point, y_i(x_alpha x~_i) ~ b_i + D_{y_i} h_alpha v, with both
//    representations on one line, h_alpha = h_alpha v (|v| = 1, h_alpha a scalar). The two
//    sequences keep their own rates (eta_h1, eta_h2; in the paper proportional to their
//    lengths), the offsets b_i have rate eta_b and the maps D_{y_i} rate eta_a. Scalars:
//      z = (h_1, h_2, bD, by_1, by_2, b2, D2, Dy_1, Dy_2),
//      bD = < b_i . D_{y_i} v >,  by_beta = < b_i . y*_{beta,i} >,  b2 = < ||b_i||^2 >,
//      D2 = < ||D_{y_i} v||^2 >,  Dy_beta = < y*_{beta,i} . D_{y_i} v >,
//    target moments y11 = < ||y*_{1,i}||^2 >, y12 = < y*_{1,i} . y*_{2,i} >, y22 = < ||y*_{2,i}||^2
//    > (for scalar targets y_1, y_2: y11 = y_1^2, y12 = y_1 y_2, y22 = y_2^2), and
//      hbar = (h_1 + h_2)/2, <h^2> = (h_1^2 + h_2^2)/2, <h by> = (h_1 by_1 + h_2 by_2)/2,
//      <h Dy> = (h_1 Dy_1 + h_2 Dy_2)/2.
//    The loss is
//      L = 1/2 ( b2 + D2 <h^2> + (y11 + y22)/2 + 2 bD hbar - 2 <h Dy> - (by_1 + by_2) )
//    and gradient flow closes on z:
//      dh_1/dt  = -eta_h1 1/2 (bD + h_1 D2 - Dy_1)
//      dh_2/dt  = -eta_h2 1/2 (bD + h_2 D2 - Dy_2)
//      dbD/dt   = -eta_b (1/N) (bD + hbar D2 - (Dy_1 + Dy_2)/2)
//                 - eta_a (1/N) (<h^2> bD + hbar b2 - <h by>)
//      dby_1/dt = -eta_b (1/N) (by_1 + hbar Dy_1 - (y11 + y12)/2)
//      dby_2/dt = -eta_b (1/N) (by_2 + hbar Dy_2 - (y22 + y12)/2)
//      db2/dt   = -eta_b (2/N) (b2 + hbar bD - (by_1 + by_2)/2)
//      dD2/dt   = -eta_a (2/N) (<h^2> D2 + hbar bD - <h Dy>)
//      dDy_1/dt = -eta_a (1/N) (<h^2> Dy_1 + hbar by_1 - (h_1 y11 + h_2 y12)/2)
//      dDy_2/dt = -eta_a (1/N) (<h^2> Dy_2 + hbar by_2 - (h_1 y12 + h_2 y22)/2)
//    (the moments of the flow h_alpha' = -eta_h_alpha dL/dh_alpha, b_i' = -eta_b dL/db_i,
//    (D_{y_i} v)' = -eta_a dL/d(D_{y_i} v)). L never increases, and the rescaling symmetry
//    h -> c h, D v -> D v / c conserves
//      C = h_1^2 / eta_h1 + h_2^2 / eta_h2 - N D2 / eta_a.
//    The paper's claims, which the tests check: an agreeing pair (y11 = y12 = y22) with unequal
//    hidden rates first moves apart, then merges; with equal rates (and by_1 = by_2,
//    Dy_1 = Dy_2) d(h_2 - h_1)^2/dt = -eta_h D2 (h_2 - h_1)^2 <= 0, so it never moves apart
//    (eq. 48-49); a disagreeing pair only moves apart.
//
// Time is in the unit of the rates (training steps when the rates are per-step learning
// rates, as in the rest of theory/).
#ifndef REPLEARN_THEORY_SEQUENCE_MODEL_H_
#define REPLEARN_THEORY_SEQUENCE_MODEL_H_

#include <array>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "theory/closed_form.h"
#include "theory/integrate.h"

namespace replearn {

// ------------------------------------------------------------------------------------------
// Mean-expansion model (3 scalars, State = (h, y, w) as above).

struct SequencePairParams {
  double tau_h = 0.0;         // combined hidden time constant, see CombinedTauH; > 0
  double tau_y = 0.0;         // time constant of each output map; > 0
  int num_continuations = 1;  // N >= 1
  double dy_star2 = 0.0;      // < ||y*_{2,i} - y*_{1,i}||^2 > >= 0
};

// 1/tau_h = 1/tau_h1 + 1/tau_h2 (both > 0; NaN otherwise).
double CombinedTauH(double tau_h1, double tau_h2);

// InvalidArgumentError naming the field unless tau_h > 0, tau_y > 0, N >= 1, dy_star2 >= 0,
// all finite.
absl::Status ValidateSequencePairParams(const SequencePairParams& p);

// The [ODE] parameters of the model: eta_h = 1/(2 tau_h), eta_y = 1/(2 N tau_y), dx2 = 1,
// dy2 = dy_star2, variant kTrue.
OdeParams SequencePairOdeParams(const SequencePairParams& p);

// Right-hand side of eq. 4/20, written in the paper's form (1/h uses max(h, kHFloor)).
State SequencePairRhs(const State& s, const SequencePairParams& p);

// Q = y/h - (tau_h / (N tau_y)) h (eq. 21-22).
double SequencePairConserved(const State& s, const SequencePairParams& p);

struct MergerPrediction {
  double a_high = 0.0;
  double a_low = 0.0;
  double final_h = 0.0;  // h(inf)
  bool merges = false;   // a_low == 0 && a_high < 0 (eq. 7)
};
// A_high, A_low, h(inf) and the merger condition from the initial (h, y) (w does not enter).
// InvalidArgumentError for invalid params or unless h > 0 and y >= 0, both finite.
absl::StatusOr<MergerPrediction> PredictMerger(const State& initial, const SequencePairParams& p);

// Eq. 35: h(t) of an agreeing pair (dy_star2 is ignored) from h(0) = h0 > 0 and y(0) = y0 >= 0,
// evaluated without cancellation as h0 / (exp(-u) + h0 t/(2 N tau_y) (1 - exp(-u))/u) with
// u = A_high t / (2 N tau_y) (the ratio taken as 1 at u = 0). NaN for invalid arguments.
double AgreeingPairDistance(double h0, double y0, const SequencePairParams& p, double t);

// Integrates eq. 4/20 with IntegrateOde (same method, options and errors; see integrate.h)
// after checking the params.
absl::StatusOr<Trajectory> IntegrateSequencePair(
    const State& initial, const SequencePairParams& p, absl::Span<const double> times,
    const IntegrateOptions& options = IntegrateOptions());

// ------------------------------------------------------------------------------------------
// Fixed-expansion-point model (9 scalars).

struct FixedExpansionState {
  double h1 = 0.0, h2 = 0.0;    // positions of the two sequences along v
  double bD = 0.0;              // < b_i . D_i v >
  double by1 = 0.0, by2 = 0.0;  // < b_i . y*_{beta,i} >
  double b2 = 0.0;              // < ||b_i||^2 >
  double D2 = 0.0;              // < ||D_i v||^2 >
  double Dy1 = 0.0, Dy2 = 0.0;  // < y*_{beta,i} . D_i v >

  std::array<double, 9> ToArray() const;
  static FixedExpansionState FromArray(const std::array<double, 9>& z);
};

struct FixedExpansionParams {
  double eta_h1 = 0.0;  // rate of h_1; > 0
  double eta_h2 = 0.0;  // rate of h_2; > 0
  double eta_a = 0.0;   // rate of the maps D_i; > 0
  double eta_b = 0.0;   // rate of the offsets b_i; >= 0
  int num_continuations = 1;
  // Target moments over the continuations (see the file comment).
  double y11 = 0.0, y12 = 0.0, y22 = 0.0;
};

// Sets y11, y12, y22 from scalar targets shared by all continuations.
void SetScalarTargets(double y1, double y2, FixedExpansionParams* p);

// InvalidArgumentError naming the field unless eta_h1, eta_h2, eta_a > 0, eta_b >= 0, N >= 1,
// y11, y22 >= 0, y12^2 <= y11 y22 (up to rounding), all finite.
absl::Status ValidateFixedExpansionParams(const FixedExpansionParams& p);

// dz/dt of the file comment.
FixedExpansionState FixedExpansionRhs(const FixedExpansionState& z, const FixedExpansionParams& p);
// L of the file comment.
double FixedExpansionLoss(const FixedExpansionState& z, const FixedExpansionParams& p);
// C = h_1^2 / eta_h1 + h_2^2 / eta_h2 - N D2 / eta_a.
double FixedExpansionConserved(const FixedExpansionState& z, const FixedExpansionParams& p);

struct FixedExpansionTrajectory {
  std::vector<double> t;
  std::vector<FixedExpansionState> z;
};

// Integrates the 9-scalar flow from `initial` at times[0], sampled at every entry of `times`
// (strictly increasing; the first sample is `initial`). The system is polynomial (no
// singularity), so it is integrated directly with Boost.Odeint's Dormand-Prince 5(4) with
// dense output, error control per component abs_tol + rel_tol |z| from `options`, and at most
// options.max_explicit_steps steps between two samples. Errors: InvalidArgumentError for bad
// params, a non-finite initial state, b2 < 0 or D2 < 0, or bad times; ResourceExhaustedError
// at the step cap; InternalError if the solution turns non-finite or odeint fails.
absl::StatusOr<FixedExpansionTrajectory> IntegrateFixedExpansion(
    const FixedExpansionState& initial, const FixedExpansionParams& p,
    absl::Span<const double> times, const IntegrateOptions& options = IntegrateOptions());

}  // namespace replearn

#endif  // REPLEARN_THEORY_SEQUENCE_MODEL_H_
