#include "theory/fit.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "ceres/ceres.h"

namespace replearn {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Central-difference step in log-rate space for the Levenberg-Marquardt Jacobian: truncation
// ~1e-10 relative, integration noise (rel_tol 1e-10) amplified to ~1e-5 relative.
constexpr double kLogStep = 1e-5;
// Box for the log-rates during refinement.
const double kMinLogRate = std::log(1e-12);
const double kMaxLogRate = std::log(1e6);
// Grid for eta_ybar.
constexpr double kEtaYbarMin = 1e-8;
constexpr double kEtaYbarMax = 1e3;

// The samples one objective evaluation compares against.
struct OdeProblem {
  std::vector<double> t, h, y, w;
  double weight_h = 1.0, weight_y = 1.0, weight_w = 1.0;  // residual = weight * (model - data)
  State initial;
  double dx2 = 0.0, dy2 = 0.0;
  Variant variant = Variant::kTrue;
  IntegrateOptions integrate;
  int num_residuals() const { return 3 * static_cast<int>(t.size()); }
};

double SumSquares(absl::Span<const double> x) {
  double s = 0.0;
  for (double v : x) s += v * v;
  return s;
}

double CurveWeight(absl::Span<const double> x, FitObjective objective) {
  if (objective == FitObjective::kRawSse) return 1.0;
  const double s = SumSquares(x);
  return s > 0.0 ? 1.0 / std::sqrt(s) : 1.0;
}

OdeProblem MakeProblem(const Curves& c, const FitOptions& options, int max_samples) {
  OdeProblem p;
  const int n = static_cast<int>(c.t.size());
  const int m = std::min(n, std::max(max_samples, 2));
  for (int k = 0; k < m; ++k) {
    const int i = m == n ? k : static_cast<int>(std::llround(k * (n - 1.0) / (m - 1.0)));
    p.t.push_back(c.t[i]);
    p.h.push_back(c.h[i]);
    p.y.push_back(c.y[i]);
    p.w.push_back(c.w[i]);
  }
  p.weight_h = CurveWeight(p.h, options.objective);
  p.weight_y = CurveWeight(p.y, options.objective);
  p.weight_w = CurveWeight(p.w, options.objective);
  p.initial = State{c.h[0], c.y[0], c.w[0]};
  if (options.project_initial_state) p.initial = ProjectToSignedForm(p.initial, c.dy2);
  p.dx2 = c.dx2;
  p.dy2 = c.dy2;
  p.variant = options.variant;
  p.integrate = options.integrate;
  return p;
}

absl::StatusOr<Trajectory> Solve(const OdeProblem& p, double log_eta_h, double log_eta_y) {
  return IntegrateOde(p.initial,
                      OdeParams{std::exp(log_eta_h), std::exp(log_eta_y), p.dx2, p.dy2, p.variant},
                      p.t, p.integrate);
}

// Residuals in the order h[0..n), y[0..n), w[0..n). False if the integration fails.
bool Residuals(const OdeProblem& p, double log_eta_h, double log_eta_y, double* r) {
  const absl::StatusOr<Trajectory> tr = Solve(p, log_eta_h, log_eta_y);
  if (!tr.ok()) return false;
  const size_t n = p.t.size();
  for (size_t i = 0; i < n; ++i) {
    r[i] = p.weight_h * (tr->h[i] - p.h[i]);
    r[n + i] = p.weight_y * (tr->y[i] - p.y[i]);
    r[2 * n + i] = p.weight_w * (tr->w[i] - p.w[i]);
  }
  return true;
}

double Objective(const OdeProblem& p, double log_eta_h, double log_eta_y) {
  std::vector<double> r(p.num_residuals());
  if (!Residuals(p, log_eta_h, log_eta_y, r.data())) return kInf;
  return SumSquares(r);
}

// Residuals of [ODE] against the curves as a function of (log eta_h, log eta_y), with a
// central-difference Jacobian.
class OdeCost final : public ceres::CostFunction {
 public:
  explicit OdeCost(const OdeProblem* p) : p_(p) {
    set_num_residuals(p->num_residuals());
    mutable_parameter_block_sizes()->push_back(2);
  }

  bool Evaluate(double const* const* parameters, double* residuals,
                double** jacobians) const override {
    const double* x = parameters[0];
    if (!Residuals(*p_, x[0], x[1], residuals)) return false;
    if (jacobians == nullptr || jacobians[0] == nullptr) return true;
    const int n = num_residuals();
    std::vector<double> plus(n), minus(n);
    for (int j = 0; j < 2; ++j) {
      double xp[2] = {x[0], x[1]}, xm[2] = {x[0], x[1]};
      xp[j] += kLogStep;
      xm[j] -= kLogStep;
      const bool ok_plus = Residuals(*p_, xp[0], xp[1], plus.data());
      const bool ok_minus = Residuals(*p_, xm[0], xm[1], minus.data());
      // Next to the edge of the integrable region (e.g. a variant that cannot follow a
      // crossing) one side may fail: fall back to a one-sided difference there.
      if (ok_plus && ok_minus) {
        for (int i = 0; i < n; ++i) jacobians[0][2 * i + j] = (plus[i] - minus[i]) / (2 * kLogStep);
      } else if (ok_plus) {
        for (int i = 0; i < n; ++i) jacobians[0][2 * i + j] = (plus[i] - residuals[i]) / kLogStep;
      } else if (ok_minus) {
        for (int i = 0; i < n; ++i) jacobians[0][2 * i + j] = (residuals[i] - minus[i]) / kLogStep;
      } else {
        return false;
      }
    }
    return true;
  }

 private:
  const OdeProblem* p_;
};

// [LOSS] residuals 1/2 E0 exp(-2 tau eta_ybar) + c - loss as a function of log eta_ybar, with
// c = (w + (dy2 - y)/2) / 4 from the fitted curves and tau = t - t0.
class LossCost final : public ceres::CostFunction {
 public:
  LossCost(const std::vector<double>* tau, const std::vector<double>* c,
           const std::vector<double>* loss, double e0)
      : tau_(tau), c_(c), loss_(loss), e0_(e0) {
    set_num_residuals(static_cast<int>(tau->size()));
    mutable_parameter_block_sizes()->push_back(1);
  }

  bool Evaluate(double const* const* parameters, double* residuals,
                double** jacobians) const override {
    const double eta = std::exp(parameters[0][0]);
    for (size_t i = 0; i < tau_->size(); ++i) {
      const double decay = 0.5 * e0_ * std::exp(-2.0 * (*tau_)[i] * eta);
      residuals[i] = decay + (*c_)[i] - (*loss_)[i];
      if (jacobians != nullptr && jacobians[0] != nullptr) {
        jacobians[0][i] = decay * (-2.0 * (*tau_)[i] * eta);
      }
    }
    return true;
  }

 private:
  const std::vector<double>* tau_;
  const std::vector<double>* c_;
  const std::vector<double>* loss_;
  double e0_;
};

ceres::Solver::Options LmOptions(int max_iterations) {
  ceres::Solver::Options o;
  o.minimizer_type = ceres::TRUST_REGION;
  o.trust_region_strategy_type = ceres::LEVENBERG_MARQUARDT;
  o.linear_solver_type = ceres::DENSE_QR;
  o.max_num_iterations = max_iterations;
  o.function_tolerance = 1e-14;
  o.gradient_tolerance = 1e-16;
  o.parameter_tolerance = 1e-12;
  o.num_threads = 1;  // determinism; layers run in parallel instead
  o.logging_type = ceres::SILENT;
  o.minimizer_progress_to_stdout = false;
  return o;
}

std::vector<double> LogGrid(double lo, double hi, int per_decade) {
  const int count =
      std::max(2, static_cast<int>(std::lround(std::log10(hi / lo) * per_decade)) + 1);
  std::vector<double> grid(count);
  for (int i = 0; i < count; ++i) {
    grid[i] = std::log(lo) + (std::log(hi) - std::log(lo)) * i / (count - 1.0);
  }
  return grid;
}

std::vector<double> CandidateRatios(const Curves& c) {
  const size_t last = c.t.size() - 1;
  std::vector<double> base;
  if (c.dy2 > 0.0) base.push_back(c.h[last] * c.h[last] / (c.dx2 * c.dy2));
  if (c.h[last] > 0.0) {
    const double conserved =
        (c.h[last] - c.h[0]) / (c.dx2 * (c.y[last] / c.h[last] - c.y[0] / c.h[0]));
    if (std::isfinite(conserved) && conserved > 0.0) base.push_back(conserved);
  }
  std::vector<double> ratios;
  for (double r : base) {
    if (!(r > 0.0) || !std::isfinite(r)) continue;
    for (double f : {0.1, 1.0, 10.0}) ratios.push_back(r * f);
  }
  if (ratios.empty()) {
    for (int e = -4; e <= 4; ++e) ratios.push_back(std::pow(10.0, e));
  }
  return ratios;
}

absl::Status ValidateCurves(const Curves& c) {
  const size_t n = c.t.size();
  if (n < 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("curves.t.size() = ", n, "; need at least 3 samples"));
  }
  const std::pair<const char*, const std::vector<double>*> series[] = {
      {"h", &c.h}, {"y", &c.y}, {"w", &c.w}, {"loss", &c.loss}};
  for (const auto& [name, v] : series) {
    if (v->size() != n && !(v == &c.loss && v->empty())) {
      return absl::InvalidArgumentError(absl::StrCat("curves.", name, ".size() = ", v->size(),
                                                     "; expected ", n, " (= t.size())",
                                                     v == &c.loss ? " or 0" : ""));
    }
    for (size_t i = 0; i < v->size(); ++i) {
      if (!std::isfinite((*v)[i])) {
        return absl::InvalidArgumentError(
            absl::StrCat("curves.", name, "[", i, "] = ", (*v)[i], "; expected finite"));
      }
    }
  }
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(c.t[i]) || (i > 0 && !(c.t[i] > c.t[i - 1]))) {
      return absl::InvalidArgumentError(absl::StrCat("curves.t[", i, "] = ", c.t[i],
                                                     "; expected finite and strictly increasing"));
    }
  }
  if (!(c.h[0] > 0.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("curves.h[0] = ", c.h[0], "; expected > 0 (the initial state of [ODE])"));
  }
  if (!(c.dx2 > 0.0) || !std::isfinite(c.dx2) || !(c.dy2 >= 0.0) || !std::isfinite(c.dy2)) {
    return absl::InvalidArgumentError(absl::StrCat("curves (dx2, dy2) = (", c.dx2, ", ", c.dy2,
                                                   "); expected dx2 > 0 and dy2 >= 0"));
  }
  return absl::OkStatus();
}

absl::Status ValidateOptions(const FitOptions& o) {
  if (!(o.grid_eta_y_min > 0.0) || !(o.grid_eta_y_max > o.grid_eta_y_min) ||
      o.grid_points_per_decade < 1 || o.grid_max_samples < 2 || o.max_lm_iterations < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "FitOptions (grid_eta_y_min, grid_eta_y_max, grid_points_per_decade, grid_max_samples, "
        "max_lm_iterations) = (",
        o.grid_eta_y_min, ", ", o.grid_eta_y_max, ", ", o.grid_points_per_decade, ", ",
        o.grid_max_samples, ", ", o.max_lm_iterations,
        "); expected 0 < min < max, >= 1 point per decade, >= 2 samples, >= 0 iterations"));
  }
  return absl::OkStatus();
}

// Step 3: eta_ybar by grid + Levenberg-Marquardt on [LOSS]; fills the loss fields of `out`.
void FitEtaYbar(const Curves& curves, const FitOptions& options, FitResult* out) {
  if (curves.loss.empty()) return;
  const size_t n = curves.t.size();
  double e0 = curves.ybar0_err2;
  if (!std::isfinite(e0)) {
    e0 = 2.0 * (curves.loss[0] - 0.25 * (curves.w[0] + 0.5 * (curves.dy2 - curves.y[0])));
  }
  e0 = std::max(e0, 0.0);
  out->ybar0_err2 = e0;
  std::vector<double> tau(n), c(n);
  for (size_t i = 0; i < n; ++i) {
    tau[i] = curves.t[i] - curves.t[0];
    c[i] = 0.25 * (out->w[i] + 0.5 * (curves.dy2 - out->y[i]));
  }
  double log_eta = kNaN;
  if (e0 > 0.0) {
    LossCost cost(&tau, &c, &curves.loss, e0);
    auto sse = [&](double q) {
      std::vector<double> r(n);
      const double* params[] = {&q};
      cost.Evaluate(params, r.data(), nullptr);
      return SumSquares(r);
    };
    double best = kInf;
    for (double q : LogGrid(kEtaYbarMin, kEtaYbarMax, 8)) {
      const double s = sse(q);
      if (s < best) {
        best = s;
        log_eta = q;
      }
    }
    double q = log_eta;
    ceres::Problem problem;
    problem.AddResidualBlock(new LossCost(&tau, &c, &curves.loss, e0), nullptr, &q);
    problem.SetParameterLowerBound(&q, 0, std::log(kEtaYbarMin) - 5.0);
    problem.SetParameterUpperBound(&q, 0, std::log(kEtaYbarMax) + 5.0);
    ceres::Solver::Summary summary;
    ceres::Solve(LmOptions(options.max_lm_iterations), &problem, &summary);
    if (summary.IsSolutionUsable() && sse(q) <= best) log_eta = q;
  }
  out->eta_ybar = std::exp(log_eta);  // NaN when not identifiable
  const double eta_for_curve = std::isfinite(out->eta_ybar) ? out->eta_ybar : 0.0;
  out->loss.resize(n);
  out->sse_loss = 0.0;
  for (size_t i = 0; i < n; ++i) {
    out->loss[i] = AnalyticLoss(tau[i], e0, eta_for_curve, out->y[i], out->w[i], curves.dy2);
    const double d = out->loss[i] - curves.loss[i];
    out->sse_loss += d * d;
  }
  out->r2_loss = RSquared(curves.loss, out->loss);
}

}  // namespace

double RSquared(absl::Span<const double> data, absl::Span<const double> model) {
  if (data.empty() || data.size() != model.size()) return kNaN;
  double mean = 0.0;
  for (double v : data) mean += v;
  mean /= data.size();
  double sse = 0.0, sst = 0.0;
  for (size_t i = 0; i < data.size(); ++i) {
    sse += (model[i] - data[i]) * (model[i] - data[i]);
    sst += (data[i] - mean) * (data[i] - mean);
  }
  return sst > 0.0 ? 1.0 - sse / sst : kNaN;
}

absl::StatusOr<FitResult> Fit(const Curves& curves, const FitOptions& options) {
  if (absl::Status s = ValidateCurves(curves); !s.ok()) return s;
  if (absl::Status s = ValidateOptions(options); !s.ok()) return s;
  FitResult out;
  out.variant = options.variant;

  // Step 1: grid start on a subsample.
  const OdeProblem coarse = MakeProblem(curves, options, options.grid_max_samples);
  double best = kInf, best_lh = 0.0, best_ly = 0.0;
  for (double ratio : CandidateRatios(curves)) {
    for (double ly :
         LogGrid(options.grid_eta_y_min, options.grid_eta_y_max, options.grid_points_per_decade)) {
      const double lh = ly + std::log(ratio);
      const double obj = Objective(coarse, lh, ly);
      ++out.grid_evaluations;
      if (obj < best) {
        best = obj;
        best_lh = lh;
        best_ly = ly;
      }
    }
  }
  if (!std::isfinite(best)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "[FIT] variant ", VariantName(options.variant), ": none of the ", out.grid_evaluations,
        " grid points (eta_y in [", options.grid_eta_y_min, ", ", options.grid_eta_y_max,
        "]) could be integrated from (h, y, w) = (", coarse.initial.h, ", ", coarse.initial.y, ", ",
        coarse.initial.w, "); expected at least one finite solution"));
  }

  // Step 2: Levenberg-Marquardt on all samples.
  const OdeProblem full = MakeProblem(curves, options, static_cast<int>(curves.t.size()));
  best_lh = std::clamp(best_lh, kMinLogRate, kMaxLogRate);
  best_ly = std::clamp(best_ly, kMinLogRate, kMaxLogRate);
  double x[2] = {best_lh, best_ly};
  const double start_objective = Objective(full, x[0], x[1]);
  if (options.max_lm_iterations > 0 && std::isfinite(start_objective)) {
    ceres::Problem problem;
    problem.AddResidualBlock(new OdeCost(&full), nullptr, x);
    for (int j = 0; j < 2; ++j) {
      problem.SetParameterLowerBound(x, j, kMinLogRate);
      problem.SetParameterUpperBound(x, j, kMaxLogRate);
    }
    ceres::Solver::Summary summary;
    ceres::Solve(LmOptions(options.max_lm_iterations), &problem, &summary);
    out.lm_iterations = static_cast<int>(summary.iterations.size());
    out.lm_converged = summary.termination_type == ceres::CONVERGENCE;
    if (!summary.IsSolutionUsable() || !(Objective(full, x[0], x[1]) <= start_objective)) {
      x[0] = best_lh;
      x[1] = best_ly;
    }
  }
  out.eta_h = std::exp(x[0]);
  out.eta_y = std::exp(x[1]);
  out.initial = full.initial;

  // Metrics and fitted curves on all samples.
  const absl::StatusOr<Trajectory> tr = Solve(full, x[0], x[1]);
  if (!tr.ok()) {
    return absl::InternalError(absl::StrCat("[FIT] fitted rates (eta_h, eta_y) = (", out.eta_h,
                                            ", ", out.eta_y,
                                            ") no longer integrate: ", tr.status().message()));
  }
  out.t = curves.t;
  out.h = tr->h;
  out.y = tr->y;
  out.w = tr->w;
  auto sse = [](const std::vector<double>& model, const std::vector<double>& data) {
    double s = 0.0;
    for (size_t i = 0; i < data.size(); ++i) s += (model[i] - data[i]) * (model[i] - data[i]);
    return s;
  };
  auto normalised = [](double sse_k, const std::vector<double>& data) {
    const double s = SumSquares(data);
    return s > 0.0 ? sse_k / s : sse_k;
  };
  out.sse_h = sse(out.h, curves.h);
  out.sse_y = sse(out.y, curves.y);
  out.sse_w = sse(out.w, curves.w);
  out.sse = out.sse_h + out.sse_y + out.sse_w;
  out.normalised_loss = normalised(out.sse_h, curves.h) + normalised(out.sse_y, curves.y) +
                        normalised(out.sse_w, curves.w);
  out.r2_h = RSquared(curves.h, out.h);
  out.r2_y = RSquared(curves.y, out.y);
  out.r2_w = RSquared(curves.w, out.w);
  out.h_final_predicted =
      FinalH(curves.h[0], curves.y[0], curves.dx2, curves.dy2, out.eta_h / out.eta_y);

  // Step 3: eta_ybar.
  FitEtaYbar(curves, options, &out);
  return out;
}

std::vector<absl::StatusOr<FitResult>> FitLayers(absl::Span<const Curves> layers,
                                                 const FitOptions& options, int num_threads) {
  std::vector<absl::StatusOr<FitResult>> results(layers.size(),
                                                 absl::UnknownError("layer was not fitted"));
  if (num_threads <= 0) num_threads = static_cast<int>(std::thread::hardware_concurrency());
  num_threads = std::max(1, std::min<int>(num_threads, static_cast<int>(layers.size())));
  std::atomic<size_t> next{0};
  auto worker = [&]() {
    for (size_t i = next++; i < layers.size(); i = next++) {
      results[i] = Fit(layers[i], options);
    }
  };
  std::vector<std::thread> pool;
  for (int k = 1; k < num_threads; ++k) pool.emplace_back(worker);
  worker();
  for (std::thread& th : pool) th.join();
  return results;
}

absl::StatusOr<Curves> SimulateCurves(const State& initial, const Rates& rates, double dx2,
                                      double dy2, double ybar0_err2, absl::Span<const double> t,
                                      Variant variant, const IntegrateOptions& options) {
  absl::StatusOr<Trajectory> tr =
      IntegrateOde(initial, OdeParams{rates.eta_h, rates.eta_y, dx2, dy2, variant}, t, options);
  if (!tr.ok()) return tr.status();
  Curves c;
  c.t.assign(t.begin(), t.end());
  c.h = std::move(tr->h);
  c.y = std::move(tr->y);
  c.w = std::move(tr->w);
  c.dx2 = dx2;
  c.dy2 = dy2;
  c.ybar0_err2 = ybar0_err2;
  c.loss.resize(c.t.size());
  for (size_t i = 0; i < c.t.size(); ++i) {
    c.loss[i] = AnalyticLoss(c.t[i] - c.t[0], ybar0_err2, rates.eta_ybar, c.y[i], c.w[i], dy2);
  }
  return c;
}

}  // namespace replearn
