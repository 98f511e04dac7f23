#include "theory/linearised_flow.h"

#include <algorithm>
#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace replearn {
namespace {

absl::Status CheckShapes(const LinearisedParams& p, const TwoPointData& d) {
  const auto d_in = d.x1.size();
  const auto d_out = d.y1_star.size();
  if (d.x2.size() != d_in || d.y2_star.size() != d_out || d_in == 0 || d_out == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "data sizes (x1, x2, y1*, y2*) = (", d.x1.size(), ", ", d.x2.size(), ", ", d.y1_star.size(),
        ", ", d.y2_star.size(), "); x1, x2 and y1*, y2* must match, non-empty"));
  }
  if (p.ybar.size() != d_out || p.d_h.cols() != d_in || p.d_y.rows() != d_out ||
      p.d_y.cols() != p.d_h.rows() || p.d_h.rows() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("parameter shapes ybar ", p.ybar.size(), ", D_h ", p.d_h.rows(), "x",
                     p.d_h.cols(), ", D_y ", p.d_y.rows(), "x", p.d_y.cols(), "; expected ybar ",
                     d_out, ", D_h Hx", d_in, ", D_y ", d_out, "xH with H >= 1"));
  }
  return absl::OkStatus();
}

}  // namespace

Rates RatesFromTimeConstants(const TimeConstants& taus) {
  return Rates{0.5 / taus.tau_h, 0.5 / taus.tau_y, 1.0 / taus.tau_ybar};
}

FlowMeasurement MeasureLinearised(const LinearisedParams& p, const TwoPointData& d) {
  const Eigen::VectorXd dx = d.x2 - d.x1;
  const Eigen::VectorXd dy_star = d.y2_star - d.y1_star;
  const Eigen::VectorXd dh = p.d_h * dx;
  const Eigen::VectorXd dyhat = p.d_y * dh;
  const Eigen::VectorXd e = p.ybar - 0.5 * (d.y1_star + d.y2_star);
  FlowMeasurement m;
  m.h = dh.squaredNorm();
  m.y = dyhat.squaredNorm();
  m.w = m.y - dy_star.dot(dyhat);
  m.ybar_err2 = e.squaredNorm();
  m.loss = 0.5 * m.ybar_err2 + 0.125 * (dyhat - dy_star).squaredNorm();
  return m;
}

absl::StatusOr<FlowTrajectory> SimulateLinearisedFlow(const LinearisedParams& init,
                                                      const TwoPointData& data,
                                                      const TimeConstants& taus, double dt,
                                                      absl::Span<const double> times) {
  if (absl::Status s = CheckShapes(init, data); !s.ok()) return s;
  if (!(dt > 0.0) || !(taus.tau_h > 0.0) || !(taus.tau_y > 0.0) || !(taus.tau_ybar > 0.0)) {
    return absl::InvalidArgumentError(absl::StrCat("(dt, tau_h, tau_y, tau_ybar) = (", dt, ", ",
                                                   taus.tau_h, ", ", taus.tau_y, ", ",
                                                   taus.tau_ybar, "); all must be > 0"));
  }
  std::vector<long long> sample_steps;
  for (size_t i = 0; i < times.size(); ++i) {
    const double k = std::round(times[i] / dt);
    if (!(times[i] >= 0.0) || std::abs(k * dt - times[i]) > 1e-9 * std::max(1.0, times[i]) ||
        (i > 0 && times[i] < times[i - 1])) {
      return absl::InvalidArgumentError(absl::StrCat(
          "times[", i, "] = ", times[i], "; times must be non-decreasing multiples of dt = ", dt));
    }
    sample_steps.push_back(static_cast<long long>(k));
  }

  const Eigen::VectorXd dx = data.x2 - data.x1;
  const Eigen::VectorXd dy_star = data.y2_star - data.y1_star;
  const Eigen::VectorXd ybar_star = 0.5 * (data.y1_star + data.y2_star);
  LinearisedParams p = init;
  FlowTrajectory out;
  auto record = [&](double t) {
    const FlowMeasurement m = MeasureLinearised(p, data);
    out.t.push_back(t);
    out.h.push_back(m.h);
    out.y.push_back(m.y);
    out.w.push_back(m.w);
    out.ybar_err2.push_back(m.ybar_err2);
    out.loss.push_back(m.loss);
  };
  long long step = 0;
  for (size_t i = 0; i < sample_steps.size(); ++i) {
    for (; step < sample_steps[i]; ++step) {
      const Eigen::VectorXd dh = p.d_h * dx;
      const Eigen::VectorXd r = p.d_y * dh - dy_star;
      const Eigen::VectorXd e = p.ybar - ybar_star;
      // All three gradients at the same (old) parameters: one explicit Euler step.
      const Eigen::MatrixXd grad_h = 0.25 * (p.d_y.transpose() * r) * dx.transpose();
      const Eigen::MatrixXd grad_y = 0.25 * r * dh.transpose();
      p.ybar -= (dt / taus.tau_ybar) * e;
      p.d_h -= (dt / taus.tau_h) * grad_h;
      p.d_y -= (dt / taus.tau_y) * grad_y;
    }
    if (!p.d_h.allFinite() || !p.d_y.allFinite() || !p.ybar.allFinite()) {
      return absl::InternalError(absl::StrCat("linearised flow diverged before t = ", times[i],
                                              " with dt = ", dt,
                                              "; expected finite parameters "
                                              "(reduce dt)"));
    }
    record(times[i]);
  }
  out.final_params = p;
  return out;
}

}  // namespace replearn
