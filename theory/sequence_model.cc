#include "theory/sequence_model.h"

#include <algorithm>
#include <array>
#include <boost/numeric/odeint.hpp>
#include <cmath>
#include <exception>
#include <initializer_list>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/status_macros.h"

namespace replearn {
namespace {

namespace odeint = boost::numeric::odeint;

bool AllFinite(std::initializer_list<double> values) {
  return std::all_of(values.begin(), values.end(), [](double v) { return std::isfinite(v); });
}

bool AllFinite(const FixedExpansionState& z) {
  const std::array<double, 9> a = z.ToArray();
  return std::all_of(a.begin(), a.end(), [](double v) { return std::isfinite(v); });
}

// Decoder rate including the average over continuations, 1/(N tau_y).
double DecoderRate(const SequencePairParams& p) { return 1.0 / (p.num_continuations * p.tau_y); }

// (N tau_y) / tau_h, the ratio eta_h / eta_y of the equivalent [ODE].
double RateRatio(const SequencePairParams& p) { return p.num_continuations * p.tau_y / p.tau_h; }

absl::Status ValidateTimes(absl::Span<const double> times) {
  if (times.empty()) {
    return absl::InvalidArgumentError("times is empty; need at least the initial time");
  }
  for (size_t i = 0; i < times.size(); ++i) {
    if (!std::isfinite(times[i]) || (i > 0 && !(times[i] > times[i - 1]))) {
      return absl::InvalidArgumentError(absl::StrCat(
          "times[", i, "] = ", times[i], "; times must be finite and strictly increasing"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

double CombinedTauH(double tau_h1, double tau_h2) {
  if (!(tau_h1 > 0.0) || !(tau_h2 > 0.0)) return std::numeric_limits<double>::quiet_NaN();
  return 1.0 / (1.0 / tau_h1 + 1.0 / tau_h2);
}

absl::Status ValidateSequencePairParams(const SequencePairParams& p) {
  if (!(p.tau_h > 0.0) || !std::isfinite(p.tau_h)) {
    return absl::InvalidArgumentError(
        absl::StrCat("tau_h = ", p.tau_h, "; must be finite and > 0"));
  }
  if (!(p.tau_y > 0.0) || !std::isfinite(p.tau_y)) {
    return absl::InvalidArgumentError(
        absl::StrCat("tau_y = ", p.tau_y, "; must be finite and > 0"));
  }
  if (p.num_continuations < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_continuations = ", p.num_continuations, "; must be >= 1"));
  }
  if (!(p.dy_star2 >= 0.0) || !std::isfinite(p.dy_star2)) {
    return absl::InvalidArgumentError(
        absl::StrCat("dy_star2 = ", p.dy_star2, "; must be finite and >= 0"));
  }
  return absl::OkStatus();
}

OdeParams SequencePairOdeParams(const SequencePairParams& p) {
  OdeParams o;
  o.eta_h = 1.0 / (2.0 * p.tau_h);
  o.eta_y = 1.0 / (2.0 * p.num_continuations * p.tau_y);
  o.dx2 = 1.0;
  o.dy2 = p.dy_star2;
  o.variant = Variant::kTrue;
  return o;
}

State SequencePairRhs(const State& s, const SequencePairParams& p) {
  const double inv_tau_h = 1.0 / p.tau_h;
  const double inv_n_tau_y = DecoderRate(p);
  const double h = std::max(s.h, kHFloor);
  State d;
  d.h = -0.5 * inv_tau_h * s.w;
  d.y = -0.5 * (inv_n_tau_y * s.h + inv_tau_h * s.y / h) * s.w;
  d.w = -0.25 * inv_n_tau_y * (3.0 * s.w - s.y + p.dy_star2) * s.h -
        0.25 * inv_tau_h * (s.w / h) * (s.y + s.w);
  return d;
}

double SequencePairConserved(const State& s, const SequencePairParams& p) {
  return s.y / s.h - s.h / RateRatio(p);
}

absl::StatusOr<MergerPrediction> PredictMerger(const State& initial, const SequencePairParams& p) {
  RETURN_IF_ERROR(ValidateSequencePairParams(p));
  if (!(initial.h > 0.0) || !(initial.y >= 0.0) || !AllFinite({initial.h, initial.y})) {
    return absl::InvalidArgumentError(absl::StrCat("initial (h, y) = (", initial.h, ", ", initial.y,
                                                   "); must be finite with h > 0 and y >= 0"));
  }
  const double ratio = RateRatio(p);
  MergerPrediction m;
  m.a_high = FinalAHigh(initial.h, initial.y, 1.0, ratio);
  m.a_low = FinalALow(1.0, p.dy_star2, ratio);
  m.final_h = FinalH(initial.h, initial.y, 1.0, p.dy_star2, ratio);
  m.merges = m.a_low == 0.0 && m.a_high < 0.0;
  return m;
}

double AgreeingPairDistance(double h0, double y0, const SequencePairParams& p, double t) {
  if (!ValidateSequencePairParams(SequencePairParams{p.tau_h, p.tau_y, p.num_continuations, 0.0})
           .ok() ||
      !(h0 > 0.0) || !(y0 >= 0.0) || !AllFinite({h0, y0, t})) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  const double a_high = h0 - RateRatio(p) * y0 / h0;
  const double s = t * DecoderRate(p) / 2.0;  // t / (2 N tau_y)
  const double u = a_high * s;
  // (1 - exp(-u)) / u, with its series near 0 where the quotient cancels.
  const double phi = std::abs(u) < 1e-8 ? 1.0 - u / 2.0 : -std::expm1(-u) / u;
  return h0 / (std::exp(-u) + h0 * s * phi);
}

absl::StatusOr<Trajectory> IntegrateSequencePair(const State& initial, const SequencePairParams& p,
                                                 absl::Span<const double> times,
                                                 const IntegrateOptions& options) {
  RETURN_IF_ERROR(ValidateSequencePairParams(p));
  return IntegrateOde(initial, SequencePairOdeParams(p), times, options);
}

// ------------------------------------------------------------------------------------------

std::array<double, 9> FixedExpansionState::ToArray() const {
  return {h1, h2, bD, by1, by2, b2, D2, Dy1, Dy2};
}

FixedExpansionState FixedExpansionState::FromArray(const std::array<double, 9>& z) {
  FixedExpansionState s;
  s.h1 = z[0];
  s.h2 = z[1];
  s.bD = z[2];
  s.by1 = z[3];
  s.by2 = z[4];
  s.b2 = z[5];
  s.D2 = z[6];
  s.Dy1 = z[7];
  s.Dy2 = z[8];
  return s;
}

void SetScalarTargets(double y1, double y2, FixedExpansionParams* p) {
  p->y11 = y1 * y1;
  p->y12 = y1 * y2;
  p->y22 = y2 * y2;
}

absl::Status ValidateFixedExpansionParams(const FixedExpansionParams& p) {
  const struct {
    const char* name;
    double value;
    bool zero_ok;
  } rates[] = {{"eta_h1", p.eta_h1, false},
               {"eta_h2", p.eta_h2, false},
               {"eta_a", p.eta_a, false},
               {"eta_b", p.eta_b, true}};
  for (const auto& r : rates) {
    if (!std::isfinite(r.value) || !(r.zero_ok ? r.value >= 0.0 : r.value > 0.0)) {
      return absl::InvalidArgumentError(absl::StrCat(
          r.name, " = ", r.value, "; must be finite and ", r.zero_ok ? ">= 0" : "> 0"));
    }
  }
  if (p.num_continuations < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_continuations = ", p.num_continuations, "; must be >= 1"));
  }
  if (!AllFinite({p.y11, p.y12, p.y22}) || !(p.y11 >= 0.0) || !(p.y22 >= 0.0) ||
      p.y12 * p.y12 > p.y11 * p.y22 * (1.0 + 1e-12)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "target moments (y11, y12, y22) = (", p.y11, ", ", p.y12, ", ", p.y22,
        "); must be finite with y11, y22 >= 0 and y12^2 <= y11 y22 (moments of real targets)"));
  }
  return absl::OkStatus();
}

FixedExpansionState FixedExpansionRhs(const FixedExpansionState& z, const FixedExpansionParams& p) {
  const double inv_n = 1.0 / p.num_continuations;
  const double hbar = 0.5 * (z.h1 + z.h2);
  const double h_sq = 0.5 * (z.h1 * z.h1 + z.h2 * z.h2);
  const double h_by = 0.5 * (z.h1 * z.by1 + z.h2 * z.by2);
  const double h_dy = 0.5 * (z.h1 * z.Dy1 + z.h2 * z.Dy2);
  FixedExpansionState d;
  d.h1 = -p.eta_h1 * 0.5 * (z.bD + z.h1 * z.D2 - z.Dy1);
  d.h2 = -p.eta_h2 * 0.5 * (z.bD + z.h2 * z.D2 - z.Dy2);
  d.bD = -p.eta_b * inv_n * (z.bD + hbar * z.D2 - 0.5 * (z.Dy1 + z.Dy2)) -
         p.eta_a * inv_n * (h_sq * z.bD + hbar * z.b2 - h_by);
  d.by1 = -p.eta_b * inv_n * (z.by1 + hbar * z.Dy1 - 0.5 * (p.y11 + p.y12));
  d.by2 = -p.eta_b * inv_n * (z.by2 + hbar * z.Dy2 - 0.5 * (p.y22 + p.y12));
  d.b2 = -p.eta_b * 2.0 * inv_n * (z.b2 + hbar * z.bD - 0.5 * (z.by1 + z.by2));
  d.D2 = -p.eta_a * 2.0 * inv_n * (h_sq * z.D2 + hbar * z.bD - h_dy);
  d.Dy1 = -p.eta_a * inv_n * (h_sq * z.Dy1 + hbar * z.by1 - 0.5 * (z.h1 * p.y11 + z.h2 * p.y12));
  d.Dy2 = -p.eta_a * inv_n * (h_sq * z.Dy2 + hbar * z.by2 - 0.5 * (z.h1 * p.y12 + z.h2 * p.y22));
  return d;
}

double FixedExpansionLoss(const FixedExpansionState& z, const FixedExpansionParams& p) {
  const double hbar = 0.5 * (z.h1 + z.h2);
  const double h_sq = 0.5 * (z.h1 * z.h1 + z.h2 * z.h2);
  const double h_dy = 0.5 * (z.h1 * z.Dy1 + z.h2 * z.Dy2);
  return 0.5 * (z.b2 + z.D2 * h_sq + 0.5 * (p.y11 + p.y22) + 2.0 * z.bD * hbar - 2.0 * h_dy -
                (z.by1 + z.by2));
}

double FixedExpansionConserved(const FixedExpansionState& z, const FixedExpansionParams& p) {
  return z.h1 * z.h1 / p.eta_h1 + z.h2 * z.h2 / p.eta_h2 - p.num_continuations * z.D2 / p.eta_a;
}

absl::StatusOr<FixedExpansionTrajectory> IntegrateFixedExpansion(const FixedExpansionState& initial,
                                                                 const FixedExpansionParams& p,
                                                                 absl::Span<const double> times,
                                                                 const IntegrateOptions& options) {
  RETURN_IF_ERROR(ValidateFixedExpansionParams(p));
  if (!AllFinite(initial) || !(initial.b2 >= 0.0) || !(initial.D2 >= 0.0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "initial state (h1, h2, bD, by1, by2, b2, D2, Dy1, Dy2) = (",
        absl::StrJoin(initial.ToArray(), ", "), "); must be finite with b2 >= 0 and D2 >= 0"));
  }
  RETURN_IF_ERROR(ValidateTimes(times));
  if (!(options.rel_tol > 0.0) || !(options.abs_tol >= 0.0) || options.max_explicit_steps < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("IntegrateOptions (rel_tol, abs_tol, max_explicit_steps) = (", options.rel_tol,
                     ", ", options.abs_tol, ", ", options.max_explicit_steps,
                     "); need rel_tol > 0, abs_tol >= 0 and max_explicit_steps >= 1"));
  }

  FixedExpansionTrajectory out;
  out.t.reserve(times.size());
  out.z.reserve(times.size());
  if (times.size() == 1) {
    out.t.push_back(times[0]);
    out.z.push_back(initial);
    return out;
  }
  using Z = std::array<double, 9>;
  auto rhs = [&p](const Z& x, Z& dxdt, double /*t*/) {
    dxdt = FixedExpansionRhs(FixedExpansionState::FromArray(x), p).ToArray();
  };
  auto observe = [&out](const Z& x, double t) {
    out.t.push_back(t);
    out.z.push_back(FixedExpansionState::FromArray(x));
  };
  Z x = initial.ToArray();
  const double dt0 = 1e-3 * (times[1] - times[0]);
  const int max_steps = static_cast<int>(
      std::min<int64_t>(options.max_explicit_steps, std::numeric_limits<int>::max()));
  try {
    odeint::integrate_times(odeint::make_dense_output(options.abs_tol, options.rel_tol,
                                                      odeint::runge_kutta_dopri5<Z>()),
                            rhs, x, times.begin(), times.end(), dt0, observe,
                            odeint::max_step_checker(max_steps));
  } catch (const odeint::step_adjustment_error& e) {
    return absl::InternalError(absl::StrCat("9-variable model: odeint failed: ", e.what()));
  } catch (const odeint::no_progress_error& e) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "9-variable model: more than ", options.max_explicit_steps, " steps between two samples (",
        e.what(),
        "); expected far fewer (raise IntegrateOptions::max_explicit_steps if intended)"));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("9-variable model: odeint failed: ", e.what()));
  }
  if (out.t.size() != times.size()) {
    return absl::InternalError(absl::StrCat("9-variable model: recorded ", out.t.size(),
                                            " samples; expected ", times.size()));
  }
  for (size_t i = 0; i < out.z.size(); ++i) {
    if (!AllFinite(out.z[i])) {
      return absl::InternalError(absl::StrCat(
          "9-variable model: non-finite state at t = ", out.t[i], "; expected a finite solution"));
    }
  }
  return out;
}

}  // namespace replearn
