// bazel run //experiments:fig_final_distance [-- flags]
//
// The paper's "final distance" experiment (docs/theory.md section 7, [FINAL] of section 4):
//   1. train the default network (experiments/specs/two_point_default.pbtxt) with --runs
//      seeds, fit the theory at the tracked layer of each, drop runs whose final loss is
//      above 1e-2, and average eta_h and eta_y over the rest;
//   2. for a --grid x --grid set of two-point datasets (input distance dx in
//      linspace(0.5, 1.5), target distance dy in linspace(0, 1); dx2 = dx^2, dy2 = dy^2)
//      train a fresh network at a fifth of the learning rate for up to 40000 steps, stopping
//      once the loss is below 1e-4, and compare the measured final h at the tracked layer with
//      [FINAL] evaluated at the run's own h0, y0 and the averaged eta_h / eta_y.
// Output folder (default runs/final_distance):
//   rates/<run>/, grid/<point>/   the run folders
//   rates.csv                     run,seed,status,final_loss,eta_h,eta_y,kept
//   final_distance.csv point,dx2,dy2,status,final_loss,h0,y0,h_measured,h_predicted,ratio
//   final_distance.{png,svg}      measured against predicted final h, with y = x and factor 2
//   summary.json                  eta_h, eta_y (averaged), runs_kept, runs, points,
//                                 points_converged, pearson_r, r2, max_ratio (over converged
//                                 points: the largest of measured/predicted and its inverse)
//
//   --out=DIR  --runs=N (50)  --grid=N (5)  --threads=N (all cores)  --quiet
//   --resume   keep runs already completed in --out with the same spec (after a kill)
//   --smoke    4 runs, a 2 x 2 grid, width 64, grid runs of at most 8000 steps (a quick check)
// Exit codes: 0 done, 1 bad input or no run kept.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "core/file_util.h"
#include "experiments/figures.h"
#include "experiments/loader.h"
#include "experiments/paper/universality.h"
#include "theory/closed_form.h"

namespace replearn {
namespace {

constexpr double kKeepLoss = 1e-2;  // rate runs above this final loss are dropped
constexpr double kStopLoss = 1e-4;  // grid runs stop (converge) below this loss
constexpr int kGridSteps = 40000;
constexpr double kGridRateFactor = 0.2;

std::string UserPath(const std::string& path) {
  const char* wd = std::getenv("BUILD_WORKING_DIRECTORY");
  if (path.empty() || path[0] == '/' || wd == nullptr || *wd == '\0') return path;
  return JoinPath(wd, path);
}

std::string Num(double v) { return std::isfinite(v) ? absl::StrFormat("%.10g", v) : ""; }
std::string Json(double v) { return std::isfinite(v) ? absl::StrFormat("%.10g", v) : "null"; }

double Pearson(const std::vector<double>& a, const std::vector<double>& b) {
  const size_t n = a.size();
  if (n < 2) return std::nan("");
  double ma = 0, mb = 0;
  for (size_t i = 0; i < n; ++i) ma += a[i] / n, mb += b[i] / n;
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < n; ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  return sab / std::sqrt(saa * sbb);
}

int Main(int argc, char** argv) {
  std::string out = "runs/final_distance";
  int runs = 50, grid = 5, threads = 0;
  bool smoke = false, progress = true, resume = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    absl::string_view v = arg;
    if (absl::ConsumePrefix(&v, "--out=")) {
      out = std::string(v);
    } else if (absl::ConsumePrefix(&v, "--runs=")) {
      if (!absl::SimpleAtoi(v, &runs) || runs < 1) {
        std::fprintf(stderr, "fig_final_distance: --runs = \"%s\" must be an integer >= 1\n",
                     std::string(v).c_str());
        return 1;
      }
    } else if (absl::ConsumePrefix(&v, "--grid=")) {
      if (!absl::SimpleAtoi(v, &grid) || grid < 2) {
        std::fprintf(stderr, "fig_final_distance: --grid = \"%s\" must be an integer >= 2\n",
                     std::string(v).c_str());
        return 1;
      }
    } else if (absl::ConsumePrefix(&v, "--threads=")) {
      if (!absl::SimpleAtoi(v, &threads) || threads < 0) {
        std::fprintf(stderr, "fig_final_distance: --threads = \"%s\" must be an integer >= 0\n",
                     std::string(v).c_str());
        return 1;
      }
    } else if (arg == "--smoke") {
      smoke = true;
    } else if (arg == "--quiet") {
      progress = false;
    } else if (arg == "--resume") {
      resume = true;
    } else {
      std::fprintf(
          stderr,
          "fig_final_distance: unknown argument \"%s\"\nusage: fig_final_distance "
          "[--out=DIR] [--runs=N] [--grid=N] [--threads=N] [--smoke] [--resume] [--quiet]\n",
          arg.c_str());
      return 1;
    }
  }
  if (smoke) runs = std::min(runs, 4), grid = 2;
  auto base = LoadExperiment("experiments/specs/two_point_default.pbtxt");
  if (!base.ok()) {
    std::fprintf(stderr, "fig_final_distance: %s\n", std::string(base.status().message()).c_str());
    return 1;
  }
  const int layer = base->theory().tracked_layer();
  base->mutable_output()->set_figures(false);
  base->clear_probe();
  auto* probe = base->add_probe()->mutable_two_point();
  probe->add_layers(layer);
  if (smoke) {
    base->mutable_architecture()->mutable_mlp()->set_width(64);
  }
  const std::string out_dir = UserPath(out);

  // 1. Effective rates averaged over seeds.
  std::vector<SuiteRow> rate_rows;
  for (int r = 0; r < runs; ++r) {
    SuiteRow row;
    row.name = absl::StrFormat("seed_%03d", r + 1);
    row.spec = *base;
    row.spec.mutable_training()->set_seed(r + 1);
    rate_rows.push_back(std::move(row));
  }
  if (progress) std::fprintf(stderr, "fig_final_distance: %d rate runs\n", runs);
  const SuiteResult rates =
      RunRows(rate_rows, JoinPath(out_dir, "rates"), threads, progress, resume);
  std::string rates_csv = "run,seed,status,final_loss,eta_h,eta_y,kept\n";
  double eta_h = 0, eta_y = 0;
  int kept = 0;
  for (int r = 0; r < runs; ++r) {
    const RunSummary& s = rates.summaries[r];
    const bool keep = s.fitted && s.final_loss <= kKeepLoss && s.eta_h > 0 && s.eta_y > 0;
    if (keep) eta_h += s.eta_h, eta_y += s.eta_y, ++kept;
    absl::StrAppend(&rates_csv, rate_rows[r].name, ",", r + 1, ",", s.status, ",",
                    Num(s.final_loss), ",", Num(s.fitted ? s.eta_h : NAN), ",",
                    Num(s.fitted ? s.eta_y : NAN), ",", keep ? 1 : 0, "\n");
  }
  if (kept == 0) {
    std::fprintf(stderr, "fig_final_distance: no rate run reached loss <= %g with a fit\n",
                 kKeepLoss);
    return 1;
  }
  eta_h /= kept;
  eta_y /= kept;
  const double ratio = eta_h / eta_y;
  if (progress) {
    std::fprintf(stderr, "fig_final_distance: kept %d of %d runs: eta_h = %.4g, eta_y = %.4g\n",
                 kept, runs, eta_h, eta_y);
  }

  // 2. The grid of datasets.
  std::vector<SuiteRow> grid_rows;
  std::vector<std::pair<double, double>> points;
  for (int i = 0; i < grid; ++i) {
    for (int j = 0; j < grid; ++j) {
      const double dx = 0.5 + 1.0 * i / (grid - 1), dy = 1.0 * j / (grid - 1);
      SuiteRow row;
      row.name = absl::StrFormat("dx%.2f_dy%.2f", dx, dy);
      row.spec = *base;
      row.spec.mutable_dataset()->mutable_two_point()->set_dx2(dx * dx);
      row.spec.mutable_dataset()->mutable_two_point()->set_dy2(dy * dy);
      TrainingSpec* t = row.spec.mutable_training();
      t->set_learning_rate(t->learning_rate() * kGridRateFactor);
      t->set_steps(smoke ? 8000 : kGridSteps);
      t->set_stop_loss(kStopLoss);
      t->set_seed(1000 + i * grid + j);
      row.spec.mutable_theory()->set_enabled(false);
      grid_rows.push_back(std::move(row));
      points.emplace_back(dx * dx, dy * dy);
    }
  }
  if (progress) std::fprintf(stderr, "fig_final_distance: %d grid runs\n", grid * grid);
  const SuiteResult fin = RunRows(grid_rows, JoinPath(out_dir, "grid"), threads, progress, resume);
  std::string csv = "point,dx2,dy2,status,final_loss,h0,y0,h_measured,h_predicted,ratio\n";
  std::vector<double> measured, predicted;
  double max_ratio = 0;
  for (size_t k = 0; k < grid_rows.size(); ++k) {
    const RunSummary& s = fin.summaries[k];
    const auto [dx2, dy2] = points[k];
    const double pred = FinalH(s.h0, s.y0, dx2, dy2, ratio);
    const bool converged = s.status == "converged";
    const double r = s.h_final / pred;
    if (converged && std::isfinite(r) && r > 0) {
      measured.push_back(s.h_final);
      predicted.push_back(pred);
      max_ratio = std::max(max_ratio, std::max(r, 1 / r));
    }
    absl::StrAppend(&csv, grid_rows[k].name, ",", Num(dx2), ",", Num(dy2), ",", s.status, ",",
                    Num(s.final_loss), ",", Num(s.h0), ",", Num(s.y0), ",", Num(s.h_final), ",",
                    Num(pred), ",", Num(r), "\n");
  }
  const double r_pearson = Pearson(measured, predicted);
  double ss_res = 0, ss_tot = 0, mean = 0;
  for (double m : measured) mean += m / measured.size();
  for (size_t k = 0; k < measured.size(); ++k) {
    ss_res += (measured[k] - predicted[k]) * (measured[k] - predicted[k]);
    ss_tot += (measured[k] - mean) * (measured[k] - mean);
  }
  const double r2 = measured.size() >= 2 ? 1 - ss_res / ss_tot : std::nan("");

  const absl::Status w1 = WriteFileAtomically(JoinPath(out_dir, "rates.csv"), rates_csv);
  const absl::Status w2 = WriteFileAtomically(JoinPath(out_dir, "final_distance.csv"), csv);
  if (!w1.ok() || !w2.ok()) {
    std::fprintf(stderr, "fig_final_distance: %s\n",
                 std::string((w1.ok() ? w2 : w1).message()).c_str());
    return 1;
  }
  if (GnuplotAvailable() && !measured.empty()) {
    std::string script = "set datafile separator ','\n";
    std::vector<std::string> outputs;
    const std::string data = JoinPath(out_dir, "final_distance.csv");
    for (const char* ext : {"png", "svg"}) {
      const std::string file = JoinPath(out_dir, absl::StrCat("final_distance.", ext));
      outputs.push_back(file);
      absl::StrAppend(
          &script,
          std::string(ext) == "png" ? "set terminal pngcairo noenhanced size 700,600 font ',10'\n"
                                    : "set terminal svg noenhanced size 700,600 font 'sans,10'\n",
          "set output '", file, ".tmp'\n",
          absl::StrFormat("set title 'Final representational distance, layer %d: Pearson r = "
                          "%.3f, R^2 = %.3f, %zu converged points'\n",
                          layer, r_pearson, r2, measured.size()),
          "set xlabel 'predicted h(inf) [FINAL]'\nset ylabel 'measured h at convergence'\n",
          "set logscale xy\nset grid\nset key top left\n",
          "plot '< awk -F, ''NR > 1 && $4 == \"converged\"'' \"", data,
          "\"' using 9:8 with points pt 7 ps 1.3 title 'grid point', x with lines lc rgb "
          "'black' title 'y = x', 2*x with lines dt 2 lc rgb 'grey' title 'factor 2', x/2 with "
          "lines dt 2 lc rgb 'grey' notitle\n",
          "set output\n");
    }
    if (const absl::Status s = RunGnuplot(script, outputs); !s.ok()) {
      std::fprintf(stderr, "fig_final_distance: figure not drawn: %s\n",
                   std::string(s.message()).c_str());
    }
  }
  const std::string summary = absl::StrCat(
      "{\n  \"eta_h\": ", Json(eta_h), ",\n  \"eta_y\": ", Json(eta_y), ",\n  \"runs\": ", runs,
      ",\n  \"runs_kept\": ", kept, ",\n  \"points\": ", grid_rows.size(),
      ",\n  \"points_converged\": ", measured.size(), ",\n  \"pearson_r\": ", Json(r_pearson),
      ",\n  \"r2\": ", Json(r2), ",\n  \"max_ratio\": ", Json(measured.empty() ? NAN : max_ratio),
      "\n}\n");
  if (const absl::Status s = WriteFileAtomically(JoinPath(out_dir, "summary.json"), summary);
      !s.ok()) {
    std::fprintf(stderr, "fig_final_distance: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  std::printf(
      "eta_h = %.4g, eta_y = %.4g (averaged over %d of %d runs)\n"
      "%zu of %zu grid points converged: Pearson r = %.4f, R^2 = %.4f, max ratio = %.3f\n"
      "output in %s\n",
      eta_h, eta_y, kept, runs, measured.size(), grid_rows.size(), r_pearson, r2, max_ratio,
      out_dir.c_str());
  return 0;
}

}  // namespace
}  // namespace replearn

int main(int argc, char** argv) { return replearn::Main(argc, argv); }
