#include "theory/closed_form.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "glog/logging.h"

namespace replearn {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Multipliers that turn [ODE] into one of its variants:
//   dh/dt = -c_h eta_h dx2 w
//   dy/dt = -c_y w (eta_y h + s_y eta_h dx2 y / h)
//   dw/dt = -1/2 eta_y (3w - y + dy2) h - s_w 1/2 eta_h dx2 (y + w) w / h
struct VariantCoefficients {
  double c_h = 1.0;
  double c_y = 1.0;
  double s_y = 1.0;
  double s_w = 1.0;
};

VariantCoefficients Coefficients(Variant variant) {
  VariantCoefficients c;
  switch (variant) {
    case Variant::kTrue:
      break;
    case Variant::kDhDoubled:
      c.c_h = 2.0;
      break;
    case Variant::kDyDoubled:
      c.c_y = 2.0;
      break;
    case Variant::kDwSecondTermFlipped:
      c.s_w = -1.0;
      break;
    case Variant::kDyNoHTerm:
      c.s_y = 0.0;
      break;
  }
  return c;
}

}  // namespace

absl::string_view VariantName(Variant variant) {
  switch (variant) {
    case Variant::kTrue:
      return "true";
    case Variant::kDhDoubled:
      return "dh_doubled";
    case Variant::kDyDoubled:
      return "dy_doubled";
    case Variant::kDwSecondTermFlipped:
      return "dw_second_term_flipped";
    case Variant::kDyNoHTerm:
      return "dy_no_h_term";
  }
  return "unknown";
}

State OdeRhs(const State& s, double eta_h, double eta_y, double dx2, double dy2, Variant variant) {
  const VariantCoefficients c = Coefficients(variant);
  const double h = std::max(s.h, kHFloor);
  const double a = eta_h * dx2;
  State d;
  d.h = -c.c_h * a * s.w;
  d.y = -c.c_y * s.w * (eta_y * s.h + c.s_y * a * s.y / h);
  d.w = -0.5 * eta_y * (3.0 * s.w - s.y + dy2) * s.h - c.s_w * 0.5 * a * (s.y + s.w) * s.w / h;
  return d;
}

LogState ToLogState(const State& s) { return LogState{std::log(s.h), s.y / s.h, s.w / s.h}; }

State FromLogState(const LogState& s) {
  const double h = std::exp(s.l);
  return State{h, s.r * h, s.s * h};
}

LogState OdeRhsLog(const LogState& x, double eta_h, double eta_y, double dx2, double dy2,
                   Variant variant) {
  const VariantCoefficients c = Coefficients(variant);
  const double h = std::exp(x.l);
  const double a = eta_h * dx2;
  // (dh/dt)/h, (dy/dt)/h, (dw/dt)/h with y = r h and w = s h.
  const double dh = -c.c_h * a * x.s;
  const double dy = -c.c_y * x.s * (eta_y * h + c.s_y * a * x.r);
  const double dw =
      -0.5 * eta_y * (3.0 * x.s * h - x.r * h + dy2) - c.s_w * 0.5 * a * (x.r + x.s) * x.s;
  return LogState{dh, dy - x.r * dh, dw - x.s * dh};
}

void OdeJacobianLog(const LogState& x, double eta_h, double eta_y, double dx2,
                    double /*dy2: enters f_s as a constant*/, Variant variant, double jac[9]) {
  const VariantCoefficients c = Coefficients(variant);
  const double h = std::exp(x.l);  // dh/dl = h
  const double a = eta_h * dx2;
  // f_l = -c_h a s
  jac[0] = 0.0;
  jac[1] = 0.0;
  jac[2] = -c.c_h * a;
  // f_r = -c_y s (eta_y h + s_y a r) + c_h a r s
  jac[3] = -c.c_y * x.s * eta_y * h;
  jac[4] = -c.c_y * x.s * c.s_y * a + c.c_h * a * x.s;
  jac[5] = -c.c_y * (eta_y * h + c.s_y * a * x.r) + c.c_h * a * x.r;
  // f_s = -1/2 eta_y (3 s h - r h + dy2) - s_w/2 a (r + s) s + c_h a s^2
  jac[6] = -0.5 * eta_y * (3.0 * x.s - x.r) * h;
  jac[7] = 0.5 * eta_y * h - c.s_w * 0.5 * a * x.s;
  jac[8] = -1.5 * eta_y * h - c.s_w * 0.5 * a * (x.r + 2.0 * x.s) + 2.0 * c.c_h * a * x.s;
}

bool HasSignedForm(const State& s, double dy2, double rel_tol) {
  if (!(s.h > 0.0) || !(s.y >= 0.0)) return false;
  const double lhs = (s.y - s.w) * (s.y - s.w);
  const double rhs = dy2 * s.y;
  return std::abs(lhs - rhs) <= rel_tol * (lhs + rhs);
}

SignedState ToSignedState(const State& s) {
  const double c = std::sqrt(s.h);
  const double d = std::sqrt(s.y / s.h);
  return SignedState{c, s.y - s.w < 0.0 ? -d : d};
}

State ProjectToSignedForm(const State& s, double dy2) {
  const double sign = s.y - s.w < 0.0 ? -1.0 : 1.0;
  return State{s.h, s.y, s.y - sign * std::sqrt(dy2 * std::max(s.y, 0.0))};
}

State FromSignedState(const SignedState& s, double dy2) {
  const double dc = s.d * s.c;
  return State{s.c * s.c, dc * dc, dc * dc - std::sqrt(dy2) * dc};
}

SignedState OdeRhsSigned(const SignedState& s, double eta_h, double eta_y, double dx2, double dy2) {
  const double residual = s.d * s.c - std::sqrt(dy2);
  return SignedState{-0.5 * eta_h * dx2 * s.d * residual, -0.5 * eta_y * s.c * residual};
}

void OdeJacobianSigned(const SignedState& s, double eta_h, double eta_y, double dx2, double dy2,
                       double jac[4]) {
  const double b = std::sqrt(dy2);
  const double a = eta_h * dx2;
  jac[0] = -0.5 * a * s.d * s.d;
  jac[1] = -0.5 * a * (2.0 * s.d * s.c - b);
  jac[2] = -0.5 * eta_y * (2.0 * s.c * s.d - b);
  jac[3] = -0.5 * eta_y * s.c * s.c;
}

double ConservedQ(const State& s, double eta_h, double eta_y, double dx2) {
  return s.y / s.h - eta_y / (eta_h * dx2) * s.h;
}

double FinalAHigh(double h0, double y0, double dx2, double eta_h_over_eta_y) {
  return (h0 / dx2 - eta_h_over_eta_y * y0 / h0) * dx2;
}

double FinalALow(double dx2, double dy2, double eta_h_over_eta_y) {
  return std::sqrt(eta_h_over_eta_y) * std::sqrt(dx2) * std::sqrt(dy2);
}

double FinalH(double h0, double y0, double dx2, double dy2, double eta_h_over_eta_y) {
  if (!(h0 > 0.0) || !(dx2 > 0.0) || !(dy2 >= 0.0) || !(eta_h_over_eta_y > 0.0)) return kNaN;
  const double a_high = FinalAHigh(h0, y0, dx2, eta_h_over_eta_y);
  const double a_low = FinalALow(dx2, dy2, eta_h_over_eta_y);
  const double half = 0.5 * a_high;
  const double root = std::hypot(half, a_low);
  if (half >= 0.0) return half + root;
  // half + root cancels for A_high << 0; (root + half)(root - half) = A_low^2.
  return a_low * a_low / (root - half);
}

double FinalDistance(double dh0, double dy0, double dx, double dy_star, double eta_h_over_eta_y) {
  if (!(dh0 > 0.0) || !(dx > 0.0) || !(dy_star >= 0.0) || !(eta_h_over_eta_y > 0.0)) {
    return kNaN;
  }
  const double a_low = std::sqrt(eta_h_over_eta_y) * dy_star * dx;
  const double a_high =
      ((dh0 / dx) * (dh0 / dx) - (dy0 / dh0) * (dy0 / dh0) * eta_h_over_eta_y) * dx * dx;
  const double root = std::sqrt(a_high * a_high + 4.0 * a_low * a_low);
  const double sum = a_high >= 0.0 ? a_high + root : 4.0 * a_low * a_low / (root - a_high);
  return std::sqrt(0.5 * sum);
}

double YbarError(double t, double ybar0_err2, double eta_ybar) {
  return ybar0_err2 * std::exp(-2.0 * t * eta_ybar);
}

double AnalyticLoss(double t, double ybar0_err2, double eta_ybar, double y_t, double w_t,
                    double dy2) {
  return 0.25 * (2.0 * YbarError(t, ybar0_err2, eta_ybar) + w_t + 0.5 * (dy2 - y_t));
}

TwoPointTerms MeasureTwoPointTerms(absl::Span<const double> yhat1, absl::Span<const double> yhat2,
                                   absl::Span<const double> y1_star,
                                   absl::Span<const double> y2_star) {
  CHECK_EQ(yhat1.size(), yhat2.size());
  CHECK_EQ(yhat1.size(), y1_star.size());
  CHECK_EQ(yhat1.size(), y2_star.size());
  TwoPointTerms terms;
  double target_dot_output = 0.0;
  for (size_t i = 0; i < yhat1.size(); ++i) {
    const double mean_err = 0.5 * (yhat1[i] + yhat2[i]) - 0.5 * (y1_star[i] + y2_star[i]);
    const double d_out = yhat2[i] - yhat1[i];
    const double d_target = y2_star[i] - y1_star[i];
    terms.ybar_err2 += mean_err * mean_err;
    terms.y += d_out * d_out;
    terms.dy2 += d_target * d_target;
    target_dot_output += d_target * d_out;
  }
  terms.w = terms.y - target_dot_output;
  return terms;
}

double HalfMse(absl::Span<const double> yhat1, absl::Span<const double> yhat2,
               absl::Span<const double> y1_star, absl::Span<const double> y2_star) {
  CHECK_EQ(yhat1.size(), yhat2.size());
  CHECK_EQ(yhat1.size(), y1_star.size());
  CHECK_EQ(yhat1.size(), y2_star.size());
  double sum = 0.0;
  for (size_t i = 0; i < yhat1.size(); ++i) {
    const double e1 = yhat1[i] - y1_star[i];
    const double e2 = yhat2[i] - y2_star[i];
    sum += e1 * e1 + e2 * e2;
  }
  return 0.25 * sum;
}

double LossSplit(double ybar_err2, double w, double y, double dy2) {
  return 0.5 * ybar_err2 + 0.25 * (w + 0.5 * (dy2 - y));
}

double LossSplit(absl::Span<const double> yhat1, absl::Span<const double> yhat2,
                 absl::Span<const double> y1_star, absl::Span<const double> y2_star) {
  const TwoPointTerms t = MeasureTwoPointTerms(yhat1, yhat2, y1_star, y2_star);
  return LossSplit(t.ybar_err2, t.w, t.y, t.dy2);
}

State LogisticSolution(const State& initial, double eta_h, double eta_y, double dx2, double t) {
  const double h0 = initial.h;
  const double y0 = initial.y;
  const double k = eta_y / (eta_h * dx2);
  const double a = FinalAHigh(h0, y0, dx2, eta_h / eta_y);
  const double u = eta_y * a * t;
  // phi(u) = (1 - e^-u) / u, continuous at u = 0.
  const double phi = std::abs(u) < 1e-300 ? 1.0 : -std::expm1(-u) / u;
  const double decay = std::exp(-u);
  State s;
  s.h = h0 / (decay + h0 * eta_y * t * phi);
  s.y = s.h * (y0 / h0 + k * (s.h - h0));
  s.w = s.y;
  return s;
}

}  // namespace replearn
