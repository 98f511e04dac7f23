#include "theory/fit.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "ceres/ceres.h"
#include "core/thread_pool.h"

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

// Residuals in the order h[0..n), y[0..n), w[0..n), written as the integration passes the
// samples (no trajectory is stored); the solution itself goes to `states` unless null. False if
// the integration fails.
bool Residuals(const OdeProblem& p, double log_eta_h, double log_eta_y, double* r,
               State* states = nullptr) {
  const size_t n = p.t.size();
  auto visit = [&](size_t i, const State& s) {
    r[i] = p.weight_h * (s.h - p.h[i]);
    r[n + i] = p.weight_y * (s.y - p.y[i]);
    r[2 * n + i] = p.weight_w * (s.w - p.w[i]);
    if (states != nullptr) states[i] = s;
    return true;
  };
  return IntegrateOdeVisit(
             p.initial,
             OdeParams{std::exp(log_eta_h), std::exp(log_eta_y), p.dx2, p.dy2, p.variant}, p.t,
             p.integrate, visit)
      .ok();
}

double Objective(const OdeProblem& p, double log_eta_h, double log_eta_y) {
  std::vector<double> r(p.num_residuals());
  if (!Residuals(p, log_eta_h, log_eta_y, r.data())) return kInf;
  return SumSquares(r);
}

// Residuals of [ODE] against the curves as a function of (log eta_h, log eta_y).
//
// Jacobian. The right-hand side of [ODE] (every variant) is a sum of terms each linear in
// eta_h or in eta_y, so the solution depends on the rates only through the ratio and a time
// scale: x(t; eta_h, eta_y) = X(eta_y (t - t0); eta_h / eta_y). Scaling both rates by e^eps
// is therefore the time change t - t0 -> e^eps (t - t0):
//   d x / d log eta_h + d x / d log eta_y = (t - t0) dx/dt = (t - t0) f(x(t)),
// with f the right-hand side at the solution. So only the log eta_h column needs a central
// difference (two integrations); the log eta_y column is (t - t0) f - (log eta_h column).
// Ceres evaluates the residuals of a trial point and, if it accepts the step, the Jacobian at
// the same point, sometimes more than once: the residuals and Jacobian of the last point are
// cached for that.
class OdeCost final : public ceres::CostFunction {
 public:
  explicit OdeCost(const OdeProblem* p) : p_(p) {
    set_num_residuals(p->num_residuals());
    mutable_parameter_block_sizes()->push_back(2);
  }

  bool Evaluate(double const* const* parameters, double* residuals,
                double** jacobians) const override {
    const double* x = parameters[0];
    const int n = num_residuals();
    const size_t m = p_->t.size();
    const bool cached = cache_valid_ && cache_x_[0] == x[0] && cache_x_[1] == x[1];
    if (!cached) {
      cache_valid_ = false;
      cache_jacobian_valid_ = false;
      cache_r_.resize(n);
      states_.resize(m);
      if (!Residuals(*p_, x[0], x[1], cache_r_.data(), states_.data())) return false;
      cache_x_[0] = x[0];
      cache_x_[1] = x[1];
      cache_valid_ = true;
    }
    std::copy(cache_r_.begin(), cache_r_.end(), residuals);
    if (jacobians == nullptr || jacobians[0] == nullptr) return true;
    double* jac = jacobians[0];
    if (cache_jacobian_valid_) {
      std::copy(cache_jacobian_.begin(), cache_jacobian_.end(), jac);
      return true;
    }
    // Column 0: d r / d log eta_h at fixed eta_y.
    plus_.resize(n);
    minus_.resize(n);
    const bool ok_plus = Residuals(*p_, x[0] + kLogStep, x[1], plus_.data());
    const bool ok_minus = Residuals(*p_, x[0] - kLogStep, x[1], minus_.data());
    // Next to the edge of the integrable region (e.g. a variant that cannot follow a
    // crossing) one side may fail: fall back to a one-sided difference there.
    if (ok_plus && ok_minus) {
      for (int i = 0; i < n; ++i) jac[2 * i] = (plus_[i] - minus_[i]) / (2 * kLogStep);
    } else if (ok_plus) {
      for (int i = 0; i < n; ++i) jac[2 * i] = (plus_[i] - cache_r_[i]) / kLogStep;
    } else if (ok_minus) {
      for (int i = 0; i < n; ++i) jac[2 * i] = (cache_r_[i] - minus_[i]) / kLogStep;
    } else {
      return false;
    }
    // Column 1: (t - t0) f(x(t)) - column 0.
    const double eta_h = std::exp(x[0]), eta_y = std::exp(x[1]);
    for (size_t i = 0; i < m; ++i) {
      const State f = OdeRhs(states_[i], eta_h, eta_y, p_->dx2, p_->dy2, p_->variant);
      const double tau = p_->t[i] - p_->t[0];
      jac[2 * i + 1] = p_->weight_h * tau * f.h - jac[2 * i];
      jac[2 * (m + i) + 1] = p_->weight_y * tau * f.y - jac[2 * (m + i)];
      jac[2 * (2 * m + i) + 1] = p_->weight_w * tau * f.w - jac[2 * (2 * m + i)];
    }
    cache_jacobian_.assign(jac, jac + 2 * n);
    cache_jacobian_valid_ = true;
    return true;
  }

 private:
  const OdeProblem* p_;
  // Residuals, solution and (once computed) Jacobian at cache_x_, and scratch; Ceres runs
  // single-threaded here (LmOptions), so Evaluate is never called concurrently.
  mutable bool cache_valid_ = false, cache_jacobian_valid_ = false;
  mutable double cache_x_[2] = {0.0, 0.0};
  mutable std::vector<double> cache_r_, cache_jacobian_, plus_, minus_;
  mutable std::vector<State> states_;
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

// Step 1 of Fit: the objective on the subsample `p` at every point of the grid
// (log eta_h, log eta_y) = (log eta_y + log ratio, log eta_y), log eta_y in `log_eta_y_grid`
// (increasing), for each ratio passed to Scan, keeping the smallest.
//
// Two exact shortcuts make this cheap:
//  - Time scaling (see OdeCost): for a fixed ratio rho, every grid point is the same solution
//    X(tau) of [ODE] with rates (rho, 1), sampled at tau = eta_y (t - t0). So one integration
//    per ratio, over the merged, sorted set of those tau (IntegrateOdeVisit), serves the whole
//    eta_y grid.
//  - Early abort: the objective of a grid point is a sum of non-negative terms, accumulated as
//    the integration passes its samples. Once a point's partial sum reaches the best complete
//    objective so far, it cannot become the minimum (ties keep the earlier point, as a plain
//    scan in the order ratio, eta_y would), so it is dropped; the integration stops when no
//    point is left. Points complete in increasing eta_y, i.e. in scan order, so the result is
//    the minimum of the plain scan (up to the rounding of the sums).
// A point whose samples are not all reached because the integration fails (e.g. a variant
// that cannot follow a crossing, or the step caps) counts as not integrable, like a failed
// integration of that point on its own.
class GridSearch {
 public:
  GridSearch(const OdeProblem& p, const std::vector<double>& log_eta_y_grid)
      : p_(p), log_eta_y_(log_eta_y_grid) {
    // Samples (tau, point, index) in increasing tau; tau is the same for every ratio.
    const size_t m = p.t.size();
    const size_t points = log_eta_y_.size();
    struct Sample {
      double tau;
      uint32_t point, index;
    };
    std::vector<Sample> samples;
    samples.reserve(points * m);
    for (size_t j = 0; j < points; ++j) {
      const double eta_y = std::exp(log_eta_y_[j]);
      for (size_t i = 0; i < m; ++i) {
        samples.push_back(
            Sample{eta_y * (p.t[i] - p.t[0]), static_cast<uint32_t>(j), static_cast<uint32_t>(i)});
      }
    }
    std::sort(samples.begin(), samples.end(), [](const Sample& a, const Sample& b) {
      return a.tau < b.tau || (a.tau == b.tau && a.point < b.point);
    });
    // Distinct tau, each with the range of samples it serves.
    for (size_t k = 0; k < samples.size(); ++k) {
      if (taus_.empty() || samples[k].tau != taus_.back()) {
        taus_.push_back(samples[k].tau);
        first_.push_back(static_cast<uint32_t>(k));
      }
      point_.push_back(samples[k].point);
      index_.push_back(samples[k].index);
    }
    first_.push_back(static_cast<uint32_t>(samples.size()));
  }

  void Scan(double ratio) {
    const size_t points = log_eta_y_.size();
    const size_t m = p_.t.size();
    evaluations_ += static_cast<int>(points);
    if (!(ratio > 0.0) || !std::isfinite(ratio)) return;
    std::vector<double> partial(points, 0.0);
    std::vector<uint32_t> seen(points, 0);
    std::vector<char> alive(points, 1);
    size_t num_alive = points;
    const double wh2 = p_.weight_h * p_.weight_h, wy2 = p_.weight_y * p_.weight_y,
                 ww2 = p_.weight_w * p_.weight_w;
    const double log_ratio = std::log(ratio);
    auto visit = [&](size_t u, const State& s) {
      for (uint32_t k = first_[u]; k < first_[u + 1]; ++k) {
        const uint32_t j = point_[k];
        if (!alive[j]) continue;
        const uint32_t i = index_[k];
        const double dh = s.h - p_.h[i], dy = s.y - p_.y[i], dw = s.w - p_.w[i];
        partial[j] += wh2 * dh * dh + wy2 * dy * dy + ww2 * dw * dw;
        if (++seen[j] == m) {
          if (partial[j] < best_) {
            best_ = partial[j];
            best_lh_ = log_eta_y_[j] + log_ratio;
            best_ly_ = log_eta_y_[j];
          }
          alive[j] = 0;
          --num_alive;
        } else if (!(partial[j] < best_)) {
          alive[j] = 0;
          --num_alive;
        }
      }
      return num_alive > 0;
    };
    // Rates (ratio, 1): time is tau. A failed integration leaves the unfinished points out.
    IntegrateOdeVisit(p_.initial, OdeParams{ratio, 1.0, p_.dx2, p_.dy2, p_.variant}, taus_,
                      p_.integrate, visit)
        .IgnoreError();
  }

  int evaluations() const { return evaluations_; }
  double best() const { return best_; }
  double best_log_eta_h() const { return best_lh_; }
  double best_log_eta_y() const { return best_ly_; }

 private:
  const OdeProblem& p_;
  std::vector<double> log_eta_y_;
  std::vector<double> taus_;     // distinct sample times in tau, increasing
  std::vector<uint32_t> first_;  // samples of taus_[u]: [first_[u], first_[u + 1])
  std::vector<uint32_t> point_;  // grid point of each sample
  std::vector<uint32_t> index_;  // index into p_.t of each sample
  int evaluations_ = 0;
  double best_ = kInf, best_lh_ = 0.0, best_ly_ = 0.0;
};

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
    // SSE of [LOSS] at log eta_ybar = q, summed in time order; stops (returning a partial sum
    // >= bound) once it reaches `bound`, which cannot make q the grid minimum.
    auto sse = [&](double q, double bound) {
      const double eta = std::exp(q);
      double s = 0.0;
      for (size_t i = 0; i < n; ++i) {
        const double r = 0.5 * e0 * std::exp(-2.0 * tau[i] * eta) + c[i] - curves.loss[i];
        s += r * r;
        if (!(s < bound)) break;
      }
      return s;
    };
    double best = kInf;
    for (double q : LogGrid(kEtaYbarMin, kEtaYbarMax, 8)) {
      const double s = sse(q, best);
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
    if (summary.IsSolutionUsable() && sse(q, kInf) <= best) log_eta = q;
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
  const std::vector<double> log_eta_y_grid =
      LogGrid(options.grid_eta_y_min, options.grid_eta_y_max, options.grid_points_per_decade);
  const std::vector<double> ratios = CandidateRatios(curves);
  GridSearch grid(coarse, log_eta_y_grid);
  for (double ratio : ratios) grid.Scan(ratio);
  out.grid_evaluations = grid.evaluations();
  const double best = grid.best();
  const double best_lh_grid = grid.best_log_eta_h(), best_ly_grid = grid.best_log_eta_y();
  if (!std::isfinite(best)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "[FIT] variant ", VariantName(options.variant), ": none of the ", out.grid_evaluations,
        " grid points (eta_y in [", options.grid_eta_y_min, ", ", options.grid_eta_y_max,
        "]) could be integrated from (h, y, w) = (", coarse.initial.h, ", ", coarse.initial.y, ", ",
        coarse.initial.w, "); expected at least one finite solution"));
  }

  // Step 2: Levenberg-Marquardt on all samples.
  const OdeProblem full = MakeProblem(curves, options, static_cast<int>(curves.t.size()));
  const double best_lh = std::clamp(best_lh_grid, kMinLogRate, kMaxLogRate);
  const double best_ly = std::clamp(best_ly_grid, kMinLogRate, kMaxLogRate);
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
  ParallelFor(static_cast<int>(layers.size()), num_threads,
              [&](int i) { results[i] = Fit(layers[i], options); });
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
