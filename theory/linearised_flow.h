// Brute-force gradient flow of the linearised two-point model (docs/theory.md section 2), the model
// the closed [ODE] is derived from; docs/theory.md check 1 compares the two.
//
// Model. For inputs x1, x2 (dx = x2 - x1) and targets y1*, y2* (dy* = y2* - y1*):
//   h_i    = hbar -/+ D_h dx / 2        (hbar does not enter the loss and is not simulated)
//   yhat_i = ybar -/+ D_y dh / 2,       dh = D_h dx
// with parameters ybar (d_out), D_h (d_hidden x d_in) and D_y (d_out x d_hidden).
// Loss (1/2 MSE, mean over the two points, squared norm summed over output units):
//   L = 1/2 mean_i ||yhat_i - y_i*||^2 = 1/2 ||e||^2 + 1/8 ||r||^2,
//   e = ybar - ybar*,  r = D_y D_h dx - dy*                          ([LOSS-SPLIT])
// Gradients:
//   dL/dybar = e,   dL/dD_y = 1/4 r dh^T,   dL/dD_h = 1/4 D_y^T r dx^T
// Flow (three time constants):
//   tau_ybar dybar/dt = -e,  tau_y dD_y/dt = -1/4 r dh^T,  tau_h dD_h/dt = -1/4 D_y^T r dx^T
//
// Reduction to [ODE]. With h = ||dh||^2, y = ||D_y dh||^2, w = y - dy* . D_y dh:
//   dh/dt = 2 dh . (dD_h/dt) dx = -(dx2 / (2 tau_h)) (D_y dh) . r = -(1/(2 tau_h)) dx2 w,
// so eta_h = 1/(2 tau_h); likewise dy/dt = -(1/(2 tau_y)) h w - (dx2/(2 tau_h)) dyhat^T D_y D_y^T
// r, which closes to [ODE] (eta_y = 1/(2 tau_y)) when D_y^T is parallel to dh (then D_y D_y^T = y/h
// for a scalar output). The flow keeps that alignment: dD_y/dt is parallel to dh^T and d(dh)/dt to
// D_y^T. Hence an aligned start with a scalar output follows [ODE] exactly (up to the Euler error),
// a misaligned one only approximately. Mean output: e(t) = e(0) exp(-t / tau_ybar), so ||e||^2 =
// ||e(0)||^2 exp(-2 t / tau_ybar): [YBAR] holds with eta_ybar = 1/tau_ybar (NOT 1/(2 tau_ybar) as
// for the other two rates).
#ifndef REPLEARN_THEORY_LINEARISED_FLOW_H_
#define REPLEARN_THEORY_LINEARISED_FLOW_H_

#include <vector>

#include "Eigen/Core"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "theory/closed_form.h"

namespace replearn {

struct TwoPointData {
  Eigen::VectorXd x1, x2;            // d_in
  Eigen::VectorXd y1_star, y2_star;  // d_out
};

struct LinearisedParams {
  Eigen::VectorXd ybar;  // d_out
  Eigen::MatrixXd d_h;   // d_hidden x d_in
  Eigen::MatrixXd d_y;   // d_out x d_hidden
};

struct TimeConstants {
  double tau_h = 1.0;
  double tau_y = 1.0;
  double tau_ybar = 1.0;
};

// The effective rates the reduction above predicts: eta_h = 1/(2 tau_h), eta_y = 1/(2 tau_y),
// eta_ybar = 1/tau_ybar.
Rates RatesFromTimeConstants(const TimeConstants& taus);

// Sampled trajectory: the two-point quantities (closed_form.h) and the loss at each time.
struct FlowTrajectory {
  std::vector<double> t, h, y, w, ybar_err2, loss;
  LinearisedParams final_params;
};

// (h, y, w, ||ybar - ybar*||^2, L) of a parameter state.
struct FlowMeasurement {
  double h = 0.0, y = 0.0, w = 0.0, ybar_err2 = 0.0, loss = 0.0;
};
FlowMeasurement MeasureLinearised(const LinearisedParams& params, const TwoPointData& data);

// Forward-Euler integration of the flow with step dt from t = 0 until times.back(), sampling at
// each entry of `times` (non-decreasing, each >= 0 and a multiple of dt to 1e-9 relative).
// InvalidArgumentError for inconsistent shapes, dt <= 0, taus <= 0, or bad times;
// InternalError if the flow diverges (non-finite parameters).
absl::StatusOr<FlowTrajectory> SimulateLinearisedFlow(const LinearisedParams& init,
                                                      const TwoPointData& data,
                                                      const TimeConstants& taus, double dt,
                                                      absl::Span<const double> times);

}  // namespace replearn

#endif  // REPLEARN_THEORY_LINEARISED_FLOW_H_
