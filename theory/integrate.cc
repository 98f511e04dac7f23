#include "theory/integrate.h"

#include <algorithm>
#include <array>
#include <boost/numeric/odeint.hpp>
#include <boost/numeric/ublas/matrix.hpp>
#include <boost/numeric/ublas/vector.hpp>
#include <cmath>
#include <exception>
#include <string>
#include <utility>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace replearn {
namespace {

namespace odeint = boost::numeric::odeint;
namespace ublas = boost::numeric::ublas;

using ImplicitState = ublas::vector<double>;
using ImplicitMatrix = ublas::matrix<double>;

// A trial stage far outside the solution can overflow. A huge finite derivative makes the error
// estimate huge, so the controller rejects that step and shrinks it; non-finite values would
// poison the error norm instead (NaN compares false and is accepted).
constexpr double kHugeRate = 1e100;

template <size_t N>
void Sanitize(double (&d)[N]) {
  for (double v : d) {
    if (!std::isfinite(v)) {
      std::fill(d, d + N, kHugeRate);
      return;
    }
  }
}

// [ODE] in (l, r, s) = (log h, y/h, w/h), any variant, with the merged-pair freeze.
class LogModel {
 public:
  static constexpr size_t kDim = 3;

  LogModel(const OdeParams& p, double l_merged) : p_(p), l_merged_(l_merged) {}

  void Rhs(const double* x, double (&dxdt)[kDim]) const {
    const LogState d =
        OdeRhsLog(LogState{x[0], x[1], x[2]}, p_.eta_h, p_.eta_y, p_.dx2, p_.dy2, p_.variant);
    dxdt[0] = d.l;
    dxdt[1] = Frozen(x[0]) ? 0.0 : d.r;
    dxdt[2] = Frozen(x[0]) ? 0.0 : d.s;
    Sanitize(dxdt);
  }
  void Jacobian(const double* x, double (&jac)[kDim * kDim]) const {
    OdeJacobianLog(LogState{x[0], x[1], x[2]}, p_.eta_h, p_.eta_y, p_.dx2, p_.dy2, p_.variant, jac);
    if (Frozen(x[0])) std::fill(jac + 3, jac + 9, 0.0);
    for (double& v : jac) {
      if (!std::isfinite(v)) v = 0.0;
    }
  }
  State Physical(const double* x) const { return FromLogState(LogState{x[0], x[1], x[2]}); }
  // For dy2 > 0, h -> 0 only when the representations cross (a singularity of [ODE]).
  bool Singular(const double* x) const { return p_.dy2 > 0.0 && x[0] < l_merged_; }

 private:
  // For dy2 = 0 a merging pair has r, s -> Q while the off-manifold deviation s - r grows
  // relative to them like (h0/h)^(1/2) (see the header); below kMergedFraction * h0 the ratios
  // are frozen at their (converged) values and only l keeps decreasing.
  bool Frozen(double l) const { return p_.dy2 == 0.0 && l < l_merged_; }

  OdeParams p_;
  double l_merged_;
};

// [ODE] (true variant) in the signed coordinates (c, d) of OdeRhsSigned: no singularity.
// Rhs and Physical are OdeRhsSigned and FromSignedState with the same arithmetic (so the same
// results), written out here so that they inline into the stepper, with sqrt(dy2) and the
// rate factors computed once.
class SignedModel {
 public:
  static constexpr size_t kDim = 2;

  explicit SignedModel(const OdeParams& p)
      : p_(p), b_(std::sqrt(p.dy2)), f_c_(-0.5 * p.eta_h * p.dx2), f_d_(-0.5 * p.eta_y) {}

  void Rhs(const double* x, double (&dxdt)[kDim]) const {
    const double residual = x[1] * x[0] - b_;
    dxdt[0] = f_c_ * x[1] * residual;
    dxdt[1] = f_d_ * x[0] * residual;
    Sanitize(dxdt);
  }
  void Jacobian(const double* x, double (&jac)[kDim * kDim]) const {
    OdeJacobianSigned(SignedState{x[0], x[1]}, p_.eta_h, p_.eta_y, p_.dx2, p_.dy2, jac);
    for (double& v : jac) {
      if (!std::isfinite(v)) v = 0.0;
    }
  }
  State Physical(const double* x) const {
    const double dc = x[1] * x[0];
    return State{x[0] * x[0], dc * dc, dc * dc - b_ * dc};
  }
  bool Singular(const double* /*x*/) const { return false; }

 private:
  OdeParams p_;
  double b_;    // sqrt(dy2)
  double f_c_;  // -1/2 eta_h dx2
  double f_d_;  // -1/2 eta_y
};

enum class Outcome { kOk, kStepCap, kNonFinite, kSingular, kOdeintError, kStopped };

struct RunResult {
  Outcome outcome = Outcome::kOk;
  double t_fail = 0.0;  // where the run stopped (any outcome but kOk)
  std::string what;
  // Where the run stopped, to continue it with another method: the first sample not yet
  // visited, the state at t_fail (first Model::kDim entries) and the last step size.
  size_t next = 0;
  std::array<double, 3> x{};
  double dt = 0.0;
};

bool Finite(const State& s) {
  return std::isfinite(s.h) && std::isfinite(s.y) && std::isfinite(s.w);
}

// Drives a dense-output stepper from (t0, x0) over times[first..] (each >= t0), calling
// sink(i, state at times[i]) for each of them in order; a sink returning false stops the run
// (kStopped). Mirrors odeint's integrate_times (including a last step that ends exactly on the
// final time, so the solution is never evaluated beyond it) but checks every accepted step and
// caps their number.
template <typename Model, typename Stepper, typename OdeSystem, typename StateT, typename Sink>
RunResult Drive(const Model& model, Stepper& stepper, OdeSystem ode_system, const StateT& x0,
                double t0, absl::Span<const double> times, size_t first, double dt0,
                int64_t max_steps, Sink& sink) {
  RunResult result;
  StateT x = x0;
  size_t next = first;
  auto stop_here = [&](Outcome outcome) {
    result.outcome = outcome;
    result.t_fail = stepper.current_time();
    result.next = next;
    const StateT& c = stepper.current_state();
    for (size_t i = 0; i < Model::kDim; ++i) result.x[i] = c[i];
    result.dt = stepper.current_time_step();
    return result;
  };
  try {
    stepper.initialize(x0, t0, dt0);
    if (next < times.size() && times[next] <= t0) {
      if (!sink(next, model.Physical(&x0[0]))) {
        ++next;
        return stop_here(Outcome::kStopped);
      }
      ++next;
    }
    int64_t steps = 0;
    const double t_end = times.back();
    while (next < times.size()) {
      while (next < times.size() && times[next] <= stepper.current_time()) {
        stepper.calc_state(times[next], x);
        const bool go_on = sink(next, model.Physical(&x[0]));
        ++next;
        if (!go_on) return stop_here(Outcome::kStopped);
      }
      if (next == times.size()) break;
      if (++steps > max_steps) return stop_here(Outcome::kStepCap);
      if (stepper.current_time() + stepper.current_time_step() > t_end) {
        stepper.initialize(stepper.current_state(), stepper.current_time(),
                           t_end - stepper.current_time());
      }
      stepper.do_step(ode_system);
      const StateT& c = stepper.current_state();
      if (!Finite(model.Physical(&c[0]))) return stop_here(Outcome::kNonFinite);
      if (model.Singular(&c[0])) return stop_here(Outcome::kSingular);
    }
  } catch (const std::exception& e) {
    result.outcome = Outcome::kOdeintError;
    result.what = e.what();
  } catch (...) {
    result.outcome = Outcome::kOdeintError;
    result.what = "unknown exception";
  }
  result.next = next;
  return result;
}

// Dormand-Prince 5(4) with dense output.
template <typename Model, typename Sink>
RunResult RunExplicit(const Model& model, const std::array<double, Model::kDim>& x0, double t0,
                      absl::Span<const double> times, size_t first, const IntegrateOptions& options,
                      double dt0, Sink& sink) {
  using StateT = std::array<double, Model::kDim>;
  auto ode_system = [&model](const StateT& x, StateT& dxdt, double /*t*/) {
    double d[Model::kDim];
    model.Rhs(x.data(), d);
    std::copy(d, d + Model::kDim, dxdt.begin());
  };
  auto stepper = odeint::make_dense_output(options.abs_tol, options.rel_tol,
                                           odeint::runge_kutta_dopri5<StateT>());
  return Drive(model, stepper, ode_system, x0, t0, times, first, dt0, options.max_explicit_steps,
               sink);
}

// Rosenbrock 4(3) with dense output (L-stable, for the stiff case).
template <typename Model, typename Sink>
RunResult RunImplicit(const Model& model, const std::array<double, Model::kDim>& start, double t0,
                      absl::Span<const double> times, size_t first, const IntegrateOptions& options,
                      double dt0, Sink& sink) {
  constexpr size_t n = Model::kDim;
  auto rhs = [&model](const ImplicitState& x, ImplicitState& dxdt, double /*t*/) {
    double d[n];
    model.Rhs(&x[0], d);
    for (size_t i = 0; i < n; ++i) dxdt[i] = d[i];
  };
  auto jacobian = [&model](const ImplicitState& x, ImplicitMatrix& jac, double /*t*/,
                           ImplicitState& dfdt) {
    double j[n * n];
    model.Jacobian(&x[0], j);
    for (size_t r = 0; r < n; ++r) {
      for (size_t c = 0; c < n; ++c) jac(r, c) = j[n * r + c];
      dfdt[r] = 0.0;  // autonomous
    }
  };
  auto stepper =
      odeint::make_dense_output(options.abs_tol, options.rel_tol, odeint::rosenbrock4<double>());
  ImplicitState x0(n);
  for (size_t i = 0; i < n; ++i) x0[i] = start[i];
  return Drive(model, stepper, std::make_pair(rhs, jacobian), x0, t0, times, first, dt0,
               options.max_implicit_steps, sink);
}

void Clear(Trajectory* tr) {
  tr->t.clear();
  tr->h.clear();
  tr->y.clear();
  tr->w.clear();
}

// First step: 1e-3 of the first sampling interval, or less if the initial relative rate of
// change is fast; the controller adapts from there.
template <typename Model>
double FirstStep(const Model& model, const std::array<double, Model::kDim>& x0,
                 absl::Span<const double> times) {
  double d0[Model::kDim];
  model.Rhs(x0.data(), d0);
  double rate = 0.0;
  for (size_t i = 0; i < Model::kDim; ++i) {
    rate = std::max(rate, std::abs(d0[i]) / (std::abs(x0[i]) + 1e-12));
  }
  double dt0 = 1e-3 * (times[1] - times[0]);
  if (std::isfinite(rate) && rate > 0.0) dt0 = std::min(dt0, 1e-2 / rate);
  return dt0;
}

// Explicit first, the whole interval again with Rosenbrock if the explicit step cap is hit.
template <typename Model>
RunResult Run(const Model& model, const std::array<double, Model::kDim>& x0,
              absl::Span<const double> times, const IntegrateOptions& options, Trajectory* out) {
  out->t.reserve(times.size());
  out->h.reserve(times.size());
  out->y.reserve(times.size());
  out->w.reserve(times.size());
  auto record = [out, times](size_t i, const State& s) {
    out->t.push_back(times[i]);
    out->h.push_back(s.h);
    out->y.push_back(s.y);
    out->w.push_back(s.w);
    return true;
  };
  const double dt0 = FirstStep(model, x0, times);
  RunResult run = RunExplicit(model, x0, times[0], times, 0, options, dt0, record);
  if (run.outcome == Outcome::kStepCap) {
    Clear(out);
    out->used_implicit = true;
    run = RunImplicit(model, x0, times[0], times, 0, options, dt0, record);
  }
  return run;
}

// Explicit first; if the explicit step cap is hit, Rosenbrock continues from that point.
template <typename Model>
RunResult RunVisit(const Model& model, const std::array<double, Model::kDim>& x0,
                   absl::Span<const double> times, const IntegrateOptions& options,
                   absl::FunctionRef<bool(size_t, const State&)> visit) {
  const double dt0 = FirstStep(model, x0, times);
  RunResult run = RunExplicit(model, x0, times[0], times, 0, options, dt0, visit);
  if (run.outcome == Outcome::kStepCap) {
    std::array<double, Model::kDim> x;
    std::copy(run.x.begin(), run.x.begin() + Model::kDim, x.begin());
    run = RunImplicit(model, x, run.t_fail, times, run.next, options, run.dt, visit);
  }
  return run;
}

std::string Describe(const State& s, const OdeParams& p) {
  return absl::StrCat("[ODE] variant ", VariantName(p.variant), " from (h, y, w) = (", s.h, ", ",
                      s.y, ", ", s.w, ") with eta_h = ", p.eta_h, ", eta_y = ", p.eta_y,
                      ", dx2 = ", p.dx2, ", dy2 = ", p.dy2);
}

absl::Status ValidateInputs(const State& initial, const OdeParams& params,
                            absl::Span<const double> times, const IntegrateOptions& options) {
  if (!Finite(initial) || !(initial.h > 0.0)) {
    return absl::InvalidArgumentError(absl::StrCat("initial (h, y, w) = (", initial.h, ", ",
                                                   initial.y, ", ", initial.w,
                                                   "); must be finite with h > 0"));
  }
  if (!(params.eta_h >= 0.0) || !(params.eta_y >= 0.0) || !std::isfinite(params.eta_h) ||
      !std::isfinite(params.eta_y)) {
    return absl::InvalidArgumentError(absl::StrCat("rates (eta_h, eta_y) = (", params.eta_h, ", ",
                                                   params.eta_y, "); must be finite and >= 0"));
  }
  if (!(params.dx2 > 0.0) || !std::isfinite(params.dx2) || !(params.dy2 >= 0.0) ||
      !std::isfinite(params.dy2)) {
    return absl::InvalidArgumentError(absl::StrCat("(dx2, dy2) = (", params.dx2, ", ", params.dy2,
                                                   "); must be finite with dx2 > 0, dy2 >= 0"));
  }
  if (times.empty()) {
    return absl::InvalidArgumentError("times is empty; need at least the initial time");
  }
  for (size_t i = 0; i < times.size(); ++i) {
    if (!std::isfinite(times[i]) || (i > 0 && !(times[i] > times[i - 1]))) {
      return absl::InvalidArgumentError(absl::StrCat(
          "times[", i, "] = ", times[i], "; times must be finite and strictly increasing"));
    }
  }
  if (!(options.rel_tol > 0.0) || !(options.abs_tol >= 0.0) || options.max_explicit_steps < 1 ||
      options.max_implicit_steps < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "IntegrateOptions (rel_tol, abs_tol, max_explicit_steps, max_implicit_steps) = (",
        options.rel_tol, ", ", options.abs_tol, ", ", options.max_explicit_steps, ", ",
        options.max_implicit_steps, "); need rel_tol > 0, abs_tol >= 0 and positive step caps"));
  }
  return absl::OkStatus();
}

// The Status for how a run ended (kStopped: the caller asked for it, OK).
absl::Status OutcomeStatus(const RunResult& run, const State& initial, const OdeParams& params,
                           absl::Span<const double> times, const IntegrateOptions& options) {
  switch (run.outcome) {
    case Outcome::kOk:
    case Outcome::kStopped:
      return absl::OkStatus();
    case Outcome::kStepCap:
      return absl::ResourceExhaustedError(absl::StrCat(
          Describe(initial, params), ": more than ", options.max_explicit_steps, " explicit and ",
          options.max_implicit_steps, " implicit steps, stopped at t = ", run.t_fail, " of ",
          times.back(), "; expected far fewer (raise IntegrateOptions step caps if intended)"));
    case Outcome::kNonFinite:
      return absl::InternalError(absl::StrCat(Describe(initial, params),
                                              ": non-finite state at t = ", run.t_fail,
                                              "; expected a finite solution"));
    case Outcome::kSingular:
      return absl::InvalidArgumentError(absl::StrCat(
          Describe(initial, params), ": h fell below ", kMergedFraction,
          " * h0 at t = ", run.t_fail,
          " with dy2 > 0, i.e. the representations cross (dh passes through 0) where the "
          "(h, y, w) form of [ODE] is singular; expected a trajectory with h > 0 (only the "
          "true variant from a state with (y - w)^2 = dy2 y can follow a crossing)"));
    case Outcome::kOdeintError:
      return absl::InternalError(
          absl::StrCat(Describe(initial, params), ": odeint failed: ", run.what));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Trajectory> IntegrateOde(const State& initial, const OdeParams& params,
                                        absl::Span<const double> times,
                                        const IntegrateOptions& options) {
  if (absl::Status s = ValidateInputs(initial, params, times, options); !s.ok()) return s;

  Trajectory out;
  if (times.size() == 1) {
    out.t = {times[0]};
    out.h = {initial.h};
    out.y = {initial.y};
    out.w = {initial.w};
    return out;
  }
  RunResult run;
  if (params.variant == Variant::kTrue && options.use_signed_coordinates &&
      HasSignedForm(initial, params.dy2)) {
    out.used_signed_coordinates = true;
    const SignedState x0 = ToSignedState(initial);
    run = Run(SignedModel(params), {x0.c, x0.d}, times, options, &out);
  } else {
    const LogState x0 = ToLogState(initial);
    run = Run(LogModel(params, x0.l + std::log(kMergedFraction)), {x0.l, x0.r, x0.s}, times,
              options, &out);
  }
  if (absl::Status s = OutcomeStatus(run, initial, params, times, options); !s.ok()) return s;
  if (out.t.size() != times.size()) {
    return absl::InternalError(absl::StrCat(Describe(initial, params), ": recorded ", out.t.size(),
                                            " samples; expected ", times.size()));
  }
  return out;
}

absl::StatusOr<Trajectory> IntegrateSteps(const State& initial, const OdeParams& params,
                                          int num_steps, const IntegrateOptions& options) {
  if (num_steps < 1) {
    return absl::InvalidArgumentError(absl::StrCat("num_steps = ", num_steps, "; must be >= 1"));
  }
  std::vector<double> times(num_steps);
  for (int i = 0; i < num_steps; ++i) times[i] = i;
  return IntegrateOde(initial, params, times, options);
}

absl::Status IntegrateOdeVisit(const State& initial, const OdeParams& params,
                               absl::Span<const double> times, const IntegrateOptions& options,
                               absl::FunctionRef<bool(size_t, const State&)> visit) {
  if (absl::Status s = ValidateInputs(initial, params, times, options); !s.ok()) return s;
  if (times.size() == 1) {
    visit(0, initial);
    return absl::OkStatus();
  }
  RunResult run;
  if (params.variant == Variant::kTrue && options.use_signed_coordinates &&
      HasSignedForm(initial, params.dy2)) {
    const SignedState x0 = ToSignedState(initial);
    run = RunVisit(SignedModel(params), {x0.c, x0.d}, times, options, visit);
  } else {
    const LogState x0 = ToLogState(initial);
    run = RunVisit(LogModel(params, x0.l + std::log(kMergedFraction)), {x0.l, x0.r, x0.s}, times,
                   options, visit);
  }
  return OutcomeStatus(run, initial, params, times, options);
}

}  // namespace replearn
