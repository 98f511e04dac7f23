#include "experiments/paper/final_distance.h"

#include <algorithm>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/file_util.h"
#include "core/status_macros.h"
#include "experiments/figures.h"
#include "experiments/json_util.h"
#include "experiments/loader.h"
#include "experiments/paper/universality.h"
#include "experiments/stats.h"
#include "theory/closed_form.h"

namespace replearn {
namespace {

constexpr double kStopLoss = 1e-4;  // grid runs stop (converge) below this loss
constexpr int kGridSteps = 40000;
constexpr int kSmokeGridSteps = 8000;
constexpr int kSmokeRuns = 4;
constexpr int kSmokeWidth = 64;
constexpr double kGridRateFactor = 0.2;

std::string Num(double v) { return std::isfinite(v) ? absl::StrFormat("%.10g", v) : ""; }

Eigen::VectorXd ToVector(const std::vector<double>& v) {
  return Eigen::Map<const Eigen::VectorXd>(v.data(), static_cast<Eigen::Index>(v.size()));
}

// The default network with one two_point probe at the tracked layer and no figures.
absl::StatusOr<Experiment> BaseSpec(const FinalDistanceOptions& options) {
  ASSIGN_OR_RETURN(Experiment base, LoadExperiment(options.spec));
  const int layer = base.theory().tracked_layer();
  base.mutable_output()->set_figures(false);
  base.clear_probe();
  base.add_probe()->mutable_two_point()->add_layers(layer);
  if (options.smoke) base.mutable_architecture()->mutable_mlp()->set_width(kSmokeWidth);
  return base;
}

std::vector<SuiteRow> RateRows(const Experiment& base, int runs) {
  std::vector<SuiteRow> rows;
  for (int r = 0; r < runs; ++r) {
    SuiteRow row;
    row.name = absl::StrFormat("seed_%03d", r + 1);
    row.spec = base;
    row.spec.mutable_training()->set_seed(r + 1);
    rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<SuiteRow> GridRows(const Experiment& base, const std::vector<GridPoint>& points,
                               bool smoke) {
  std::vector<SuiteRow> rows;
  for (size_t k = 0; k < points.size(); ++k) {
    SuiteRow row;
    row.name = points[k].name;
    row.spec = base;
    row.spec.mutable_dataset()->mutable_two_point()->set_dx2(points[k].dx2);
    row.spec.mutable_dataset()->mutable_two_point()->set_dy2(points[k].dy2);
    TrainingSpec* t = row.spec.mutable_training();
    t->set_learning_rate(t->learning_rate() * kGridRateFactor);
    t->set_steps(smoke ? kSmokeGridSteps : kGridSteps);
    t->set_stop_loss(kStopLoss);
    t->set_seed(1000 + static_cast<int>(k));  // 1000 + i * grid + j
    row.spec.mutable_theory()->set_enabled(false);
    rows.push_back(std::move(row));
  }
  return rows;
}

std::string RatesCsv(const std::vector<SuiteRow>& rows, const std::vector<RunSummary>& runs,
                     const RateAverage& rates) {
  std::string csv = "run,seed,status,final_loss,eta_h,eta_y,kept\n";
  for (size_t r = 0; r < rows.size(); ++r) {
    const RunSummary& s = runs[r];
    absl::StrAppend(&csv, rows[r].name, ",", r + 1, ",", s.status, ",", Num(s.final_loss), ",",
                    Num(s.fitted ? s.eta_h : NAN), ",", Num(s.fitted ? s.eta_y : NAN), ",",
                    rates.keep[r] ? 1 : 0, "\n");
  }
  return csv;
}

std::string GridCsv(const std::vector<GridPoint>& points, const std::vector<RunSummary>& runs,
                    const GridComparison& grid) {
  std::string csv = "point,dx2,dy2,status,final_loss,h0,y0,h_measured,h_predicted,ratio\n";
  for (size_t k = 0; k < points.size(); ++k) {
    const RunSummary& s = runs[k];
    absl::StrAppend(&csv, points[k].name, ",", Num(points[k].dx2), ",", Num(points[k].dy2), ",",
                    s.status, ",", Num(s.final_loss), ",", Num(s.h0), ",", Num(s.y0), ",",
                    Num(s.h_final), ",", Num(grid.predicted[k]), ",", Num(grid.ratio[k]), "\n");
  }
  return csv;
}

// Measured against predicted final h of every converged point, on log axes.
absl::Status RenderFinalDistanceFigure(const std::vector<RunSummary>& runs,
                                       const GridComparison& grid, int layer,
                                       const std::string& out_dir) {
  Figure figure;
  figure.stem = JoinPath(out_dir, "final_distance");
  figure.width = 700;
  figure.height = 600;
  Datablock points{"points", {}};
  for (size_t k = 0; k < runs.size(); ++k) {
    if (runs[k].status == "converged") points.rows.push_back({grid.predicted[k], runs[k].h_final});
  }
  figure.data.push_back(std::move(points));
  figure.script = absl::StrCat(
      "set title ",
      GnuplotString(absl::StrFormat("Final representational distance, layer %d: Pearson r = "
                                    "%.3f, R^2 = %.3f, %d converged points",
                                    layer, grid.pearson_r, grid.r2, grid.converged)),
      "\nset xlabel 'predicted h(inf) [FINAL]'\nset ylabel 'measured h at convergence'\n"
      "set logscale xy\nset grid\nset key top left\n"
      "plot $points using 1:2 with points pt 7 ps 1.3 title 'grid point', x with lines lc rgb "
      "'black' title 'y = x', 2*x with lines dt 2 lc rgb 'grey' title 'factor 2', x/2 with "
      "lines dt 2 lc rgb 'grey' notitle\n");
  return RenderFigure(figure);
}

Json SummaryJson(const FinalDistanceResult& r) {
  Json json;
  json["eta_h"] = JsonNumber(r.rates.eta_h);
  json["eta_y"] = JsonNumber(r.rates.eta_y);
  json["runs"] = r.runs;
  json["runs_kept"] = r.rates.kept;
  json["points"] = r.points;
  json["points_converged"] = r.grid.converged;
  json["pearson_r"] = JsonNumber(r.grid.pearson_r);
  json["r2"] = JsonNumber(r.grid.r2);
  json["max_ratio"] = JsonNumber(r.grid.max_ratio);
  return json;
}

}  // namespace

RateAverage AverageRates(const std::vector<RunSummary>& runs) {
  RateAverage rates;
  double eta_h = 0, eta_y = 0;
  for (const RunSummary& s : runs) {
    const bool keep = s.fitted && s.final_loss <= kKeepLoss && s.eta_h > 0 && s.eta_y > 0;
    rates.keep.push_back(keep);
    if (!keep) continue;
    eta_h += s.eta_h;
    eta_y += s.eta_y;
    ++rates.kept;
  }
  if (rates.kept > 0) {
    rates.eta_h = eta_h / rates.kept;
    rates.eta_y = eta_y / rates.kept;
  }
  return rates;
}

std::vector<GridPoint> GridPoints(int grid) {
  std::vector<GridPoint> points;
  for (int i = 0; i < grid; ++i) {
    for (int j = 0; j < grid; ++j) {
      const double dx = 0.5 + 1.0 * i / (grid - 1), dy = 1.0 * j / (grid - 1);
      points.push_back({absl::StrFormat("dx%.2f_dy%.2f", dx, dy), dx * dx, dy * dy});
    }
  }
  return points;
}

GridComparison CompareGrid(const std::vector<GridPoint>& points,
                           const std::vector<RunSummary>& runs, double eta_h_over_eta_y) {
  GridComparison grid;
  std::vector<double> measured, predicted;
  double max_ratio = 0;
  for (size_t k = 0; k < points.size(); ++k) {
    const RunSummary& s = runs[k];
    const double pred = FinalH(s.h0, s.y0, points[k].dx2, points[k].dy2, eta_h_over_eta_y);
    const double r = s.h_final / pred;
    const bool used = s.status == "converged" && std::isfinite(r) && r > 0;
    grid.predicted.push_back(pred);
    grid.ratio.push_back(r);
    grid.used.push_back(used);
    if (!used) continue;
    measured.push_back(s.h_final);
    predicted.push_back(pred);
    max_ratio = std::max(max_ratio, std::max(r, 1 / r));
  }
  grid.converged = static_cast<int>(measured.size());
  grid.pearson_r = Pearson(ToVector(measured), ToVector(predicted));
  grid.r2 = RSquared(ToVector(measured), ToVector(predicted));
  grid.max_ratio = measured.empty() ? NAN : max_ratio;
  return grid;
}

absl::StatusOr<FinalDistanceResult> RunFinalDistance(const FinalDistanceOptions& options) {
  if (options.runs < 1) {
    return absl::InvalidArgumentError(absl::StrCat("--runs = ", options.runs, "; must be >= 1"));
  }
  if (options.grid < 2) {
    return absl::InvalidArgumentError(absl::StrCat("--grid = ", options.grid, "; must be >= 2"));
  }
  FinalDistanceResult result;
  result.out_dir = options.out_dir;
  result.runs = options.smoke ? std::min(options.runs, kSmokeRuns) : options.runs;
  const int grid = options.smoke ? 2 : options.grid;
  ASSIGN_OR_RETURN(const Experiment base, BaseSpec(options));
  const int layer = base.theory().tracked_layer();

  // 1. Effective rates averaged over seeds.
  const std::vector<SuiteRow> rate_rows = RateRows(base, result.runs);
  if (options.progress) {
    std::fprintf(stderr, "fig_final_distance: %d rate runs\n", result.runs);
  }
  const SuiteResult rates = RunRows(rate_rows, JoinPath(options.out_dir, "rates"), options.threads,
                                    options.progress, options.resume);
  result.rates = AverageRates(rates.summaries);
  if (result.rates.kept == 0) {
    return absl::FailedPreconditionError(
        absl::StrFormat("no rate run reached loss <= %g with a fit (%s)", kKeepLoss,
                        JoinPath(options.out_dir, "rates")));
  }
  if (options.progress) {
    std::fprintf(stderr, "fig_final_distance: kept %d of %d runs: eta_h = %.4g, eta_y = %.4g\n",
                 result.rates.kept, result.runs, result.rates.eta_h, result.rates.eta_y);
  }

  // 2. The grid of datasets.
  const std::vector<GridPoint> points = GridPoints(grid);
  const std::vector<SuiteRow> grid_rows = GridRows(base, points, options.smoke);
  result.points = static_cast<int>(points.size());
  if (options.progress) {
    std::fprintf(stderr, "fig_final_distance: %d grid runs\n", result.points);
  }
  const SuiteResult fin = RunRows(grid_rows, JoinPath(options.out_dir, "grid"), options.threads,
                                  options.progress, options.resume);
  result.grid = CompareGrid(points, fin.summaries, result.rates.eta_h / result.rates.eta_y);

  RETURN_IF_ERROR(WriteFileAtomically(JoinPath(options.out_dir, "rates.csv"),
                                      RatesCsv(rate_rows, rates.summaries, result.rates)));
  RETURN_IF_ERROR(WriteFileAtomically(JoinPath(options.out_dir, "final_distance.csv"),
                                      GridCsv(points, fin.summaries, result.grid)));
  if (options.figures && result.grid.converged > 0 && GnuplotAvailable()) {
    if (const absl::Status s =
            RenderFinalDistanceFigure(fin.summaries, result.grid, layer, options.out_dir);
        !s.ok()) {
      std::fprintf(stderr, "fig_final_distance: figure not drawn: %s\n",
                   std::string(s.message()).c_str());
    }
  }
  RETURN_IF_ERROR(WriteJsonFile(JoinPath(options.out_dir, "summary.json"), SummaryJson(result)));
  return result;
}

}  // namespace replearn
