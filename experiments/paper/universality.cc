#include "experiments/paper/universality.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/file_util.h"
#include "core/oneof.h"
#include "core/status_macros.h"
#include "experiments/figures.h"
#include "experiments/json_util.h"
#include "experiments/loader.h"
#include "experiments/trial.h"

namespace replearn {
namespace {

// docs/theory.md section 7's row order.
constexpr const char* kRowOrder[] = {"default",  "shallow",  "narrow",   "linear",   "elu",
                                     "tanh",     "relu",     "swish",    "skip",     "cnn",
                                     "dropout",  "gain_0.9", "gain_1.1", "gain_1.2", "gain_1.3",
                                     "gain_1.4", "gain_1.6", "adam",     "two_layer"};

int RowRank(const std::string& name) {
  const auto* end = std::end(kRowOrder);
  return static_cast<int>(std::find(std::begin(kRowOrder), end, name) - std::begin(kRowOrder));
}

constexpr int kSmokeSteps = 50;
constexpr int kSmokeWidth = 32;

// Shrinks a row for a smoke run; keeps the row's width when the architecture rejects the
// small one (e.g. a CNN whose convolutions need a longer sequence).
void Shrink(Experiment& spec) {
  spec.mutable_training()->set_steps(kSmokeSteps);
  const std::string arm = SetOneofArm(spec.architecture());
  if (arm.empty()) return;
  const auto* arm_field = ArchitectureSpec::descriptor()->FindFieldByName(arm);
  if (arm_field == nullptr) return;
  const auto* width = arm_field->message_type()->FindFieldByName("width");
  if (width == nullptr || width->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_INT32) {
    return;
  }
  Experiment small = spec;
  auto* options = small.mutable_architecture()->GetReflection()->MutableMessage(
      small.mutable_architecture(), arm_field);
  options->GetReflection()->SetInt32(options, width, kSmokeWidth);
  if (BuildTrial(small).ok()) spec = small;
}

std::string Number(double v) { return std::isfinite(v) ? absl::StrFormat("%.10g", v) : ""; }

// Every `every`-th row (gnuplot's `every`), values divided by `scale`.
std::vector<std::vector<double>> Decimated(const std::vector<std::vector<double>>& rows, int every,
                                           double scale) {
  std::vector<std::vector<double>> out;
  for (size_t i = 0; i < rows.size(); i += every) out.push_back({rows[i][0], rows[i][1] / scale});
  return out;
}

// The largest value of (step, value) rows; 1 when none is positive.
double Scale(const std::vector<std::vector<double>>& rows) {
  double max = 0;
  for (const std::vector<double>& row : rows) {
    if (std::isfinite(row[1])) max = std::max(max, row[1]);
  }
  return max > 0 ? max : 1;
}

absl::Status RenderSuiteFigure(const std::vector<SuiteRow>& rows,
                               const std::vector<RunSummary>& summaries,
                               const std::string& out_dir) {
  const int n = static_cast<int>(rows.size());
  const int cols = std::min(n, 5);
  const int grid_rows = (n + cols - 1) / cols;
  Figure figure;
  figure.stem = JoinPath(out_dir, "universality");
  figure.width = 330 * cols;
  figure.height = 260 * grid_rows + 60;
  figure.font_size = 8;
  figure.script = absl::StrCat(
      absl::StrFormat("set multiplot layout %d,%d title 'Universality: h (blue), y (green), w "
                      "(orange) over their measured maximum; measured solid, fitted theory "
                      "dashed'\n",
                      grid_rows, cols),
      "set grid\nunset key\nset xtics font ',7'\nset ytics 0.5\nset yrange [-0.05:1.1]\n");
  for (int r = 0; r < n; ++r) {
    const RunSummary& s = summaries[r];
    const std::string theory_path = JoinPath(s.out_dir, "theory_curves.csv");
    const std::string layer = absl::StrCat(s.tracked_layer);
    const bool fitted = s.fitted && FileExists(theory_path);
    ASSIGN_OR_RETURN(const TidyCurves curves, ReadTidyCurves(JoinPath(s.out_dir, "curves.csv")));
    TidyCurves theory;
    if (fitted) {
      ASSIGN_OR_RETURN(theory, ReadTidyCurves(theory_path));
    }
    absl::StrAppend(
        &figure.script, "set title ",
        GnuplotString(absl::StrCat(
            rows[r].name,
            fitted ? absl::StrFormat("  (fit loss %.3g)", s.normalised_loss) : "  (not fitted)")),
        "\nplot ");
    // About 600 points per curve are plenty for a 330-pixel panel and keep the SVG small.
    const int64_t steps = rows[r].spec.training().steps();
    const int every = steps > 1200 ? static_cast<int>(steps / 600) : 1;
    const std::pair<const char*, const char*> colours[] = {
        {"h", "#1f77b4"}, {"y", "#2ca02c"}, {"w", "#ff7f0e"}};
    for (const auto& [q, colour] : colours) {
      const std::string l = std::string(q) == "h" ? layer : "";
      // Each quantity's scale: its largest measured value.
      const std::vector<std::vector<double>> measured = curves.Rows(q, l);
      const double scale = Scale(measured);
      const std::string name = absl::StrCat("measured", r, "_", q);
      figure.data.push_back({name, Decimated(measured, every, scale)});
      absl::StrAppend(&figure.script, std::string(q) == "h" ? "" : ", ", "$", name,
                      " using 1:2 with lines lw 1.5 lc rgb '", colour, "'");
      if (fitted) {
        const std::string fit = absl::StrCat("theory", r, "_", q);
        figure.data.push_back({fit, Decimated(theory.Rows(q, l), every, scale)});
        absl::StrAppend(&figure.script, ", $", fit, " using 1:2 with lines lw 1.5 dt 2 lc rgb '",
                        colour, "'");
      }
    }
    figure.script += "\n";
  }
  figure.script += "unset multiplot\n";
  return RenderFigure(figure);
}

// The gain rows ("default" is gain 1.0) of an MLP suite, ordered by gain.
std::vector<int> GainRows(const std::vector<SuiteRow>& rows,
                          const std::vector<RunSummary>& summaries) {
  std::vector<int> picked;
  for (size_t r = 0; r < rows.size(); ++r) {
    const bool gain_row = rows[r].name == "default" || absl::StartsWith(rows[r].name, "gain_");
    if (gain_row && rows[r].spec.architecture().has_mlp() && summaries[r].status != "failed") {
      picked.push_back(static_cast<int>(r));
    }
  }
  std::sort(picked.begin(), picked.end(), [&](int a, int b) {
    return rows[a].spec.architecture().mlp().gain() < rows[b].spec.architecture().mlp().gain();
  });
  return picked;
}

// gain_sweep.csv and gain_sweep.{png,svg}: rich to lazy, fit quality and final h against gain.
absl::Status WriteGainSweep(const std::vector<SuiteRow>& rows,
                            const std::vector<RunSummary>& summaries, const std::string& out_dir,
                            bool figures) {
  const std::vector<int> picked = GainRows(rows, summaries);
  if (picked.size() < 2) return absl::OkStatus();
  std::string csv =
      "row,gain,learning_rate,final_loss,normalised_loss,r2_h,h0,h_final,h_final_predicted\n";
  Datablock data{"gain", {}};
  for (int r : picked) {
    const RunSummary& s = summaries[r];
    const double nan = std::nan("");
    const double gain = rows[r].spec.architecture().mlp().gain();
    const double loss = s.fitted ? s.normalised_loss : nan;
    const double predicted = s.fitted ? s.h_final_predicted : nan;
    absl::StrAppend(&csv, rows[r].name, ",", Number(gain), ",",
                    Number(rows[r].spec.training().learning_rate()), ",", Number(s.final_loss), ",",
                    Number(loss), ",", Number(s.fitted ? s.r2_h : nan), ",", Number(s.h0), ",",
                    Number(s.h_final), ",", Number(predicted), "\n");
    data.rows.push_back({gain, loss, s.h0, s.h_final, predicted});
  }
  RETURN_IF_ERROR(WriteFileAtomically(JoinPath(out_dir, "gain_sweep.csv"), csv));
  if (!figures) return absl::OkStatus();
  Figure figure;
  figure.stem = JoinPath(out_dir, "gain_sweep");
  figure.width = 1100;
  figure.height = 450;
  figure.data.push_back(std::move(data));
  figure.script =
      "set multiplot layout 1,2 title 'Gain sweep: rich (small gain) to lazy (large gain)'\n"
      "set grid\nset xlabel 'init gain'\nset logscale y\nset format y '%g'\nset key top left\n"
      "set ylabel 'normalised fit loss'\n"
      "plot $gain using 1:2 with linespoints pt 7 lw 2 title 'fit loss at the tracked layer'\n"
      "set ylabel 'h (tracked layer)'\n"
      "plot $gain using 1:3 with linespoints pt 6 lw 2 title 'h0', $gain using 1:4 with "
      "linespoints pt 7 lw 2 title 'h final (measured)', $gain using 1:5 with linespoints pt 4 "
      "lw 2 dt 2 title 'h final [FINAL] (fitted rates)'\n"
      "unset multiplot\n";
  return RenderFigure(figure);
}

// summary.json of the suite: per row its final loss and fit figures.
Json SuiteSummaryJson(const std::vector<SuiteRow>& rows, const std::vector<RunSummary>& summaries,
                      int failed) {
  Json json;
  json["rows"] = rows.size();
  json["failed"] = failed;
  for (size_t r = 0; r < rows.size(); ++r) {
    const RunSummary& s = summaries[r];
    Json& row = json[rows[r].name];
    row["status"] = s.status;
    row["final_loss"] = JsonNumber(s.final_loss);
    row["normalised_loss"] = JsonNumber(s.fitted ? s.normalised_loss : NAN);
    row["r2_h"] = JsonNumber(s.fitted ? s.r2_h : NAN);
    row["r2_y"] = JsonNumber(s.fitted ? s.r2_y : NAN);
    row["r2_w"] = JsonNumber(s.fitted ? s.r2_w : NAN);
  }
  return json;
}

}  // namespace

absl::StatusOr<std::vector<SuiteRow>> LoadSuite(const std::string& dir,
                                                const SuiteOptions& options) {
  std::error_code ec;
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string path = entry.path().string();
    if (absl::EndsWith(path, ".pbtxt")) files.push_back(path);
  }
  if (ec) return absl::NotFoundError(absl::StrCat("universality suite ", dir, ": ", ec.message()));
  if (files.empty()) {
    return absl::NotFoundError(absl::StrCat("universality suite ", dir, ": no .pbtxt specs"));
  }
  std::vector<SuiteRow> rows;
  std::vector<std::string> problems;
  for (const std::string& path : files) {
    SuiteRow row;
    row.name = std::filesystem::path(path).stem().string();
    if (!options.rows.empty() &&
        std::find(options.rows.begin(), options.rows.end(), row.name) == options.rows.end()) {
      continue;
    }
    auto spec = LoadExperiment(path);
    if (!spec.ok()) {
      problems.emplace_back(spec.status().message());
      continue;
    }
    row.spec = *std::move(spec);
    if (const absl::Status s = ApplyOverrides(row.spec, options.sets); !s.ok()) {
      problems.push_back(absl::StrCat(path, ": ", s.message()));
      continue;
    }
    if (options.smoke) Shrink(row.spec);
    if (const auto trial = BuildTrial(row.spec); !trial.ok()) {
      problems.push_back(absl::StrCat(path, ": ", trial.status().message()));
      continue;
    }
    rows.push_back(std::move(row));
  }
  for (const std::string& wanted : options.rows) {
    if (std::none_of(files.begin(), files.end(), [&](const std::string& f) {
          return std::filesystem::path(f).stem().string() == wanted;
        })) {
      problems.push_back(absl::StrCat("--rows: no spec \"", wanted, ".pbtxt\" in ", dir));
    }
  }
  if (!problems.empty()) return absl::InvalidArgumentError(absl::StrJoin(problems, "\n"));
  std::sort(rows.begin(), rows.end(), [](const SuiteRow& a, const SuiteRow& b) {
    const int ra = RowRank(a.name), rb = RowRank(b.name);
    return ra != rb ? ra < rb : a.name < b.name;
  });
  return rows;
}

std::string SuiteCsv(const std::vector<SuiteRow>& rows, const std::vector<RunSummary>& summaries) {
  std::string csv = "row,final_loss,normalised_loss,eta_h,eta_y,r2_h,r2_y,r2_w,wall_seconds\n";
  for (size_t r = 0; r < rows.size(); ++r) {
    const RunSummary& s = summaries[r];
    const double nan = std::nan("");
    absl::StrAppend(&csv, rows[r].name, ",", Number(s.final_loss), ",",
                    Number(s.fitted ? s.normalised_loss : nan), ",",
                    Number(s.fitted ? s.eta_h : nan), ",", Number(s.fitted ? s.eta_y : nan), ",",
                    Number(s.fitted ? s.r2_h : nan), ",", Number(s.fitted ? s.r2_y : nan), ",",
                    Number(s.fitted ? s.r2_w : nan), ",", absl::StrFormat("%.3f", s.wall_seconds),
                    "\n");
  }
  return csv;
}

SuiteResult RunRows(const std::vector<SuiteRow>& rows, const std::string& out_dir, int threads,
                    bool progress, bool resume) {
  std::vector<Experiment> specs;
  std::vector<std::string> dirs;
  for (const SuiteRow& row : rows) {
    specs.push_back(row.spec);
    specs.back().set_name(row.name);  // progress lines name the row
    dirs.push_back(JoinPath(out_dir, row.name));
  }
  std::vector<absl::StatusOr<RunSummary>> runs =
      RunExperiments(specs, dirs, threads, progress, resume);
  SuiteResult result;
  for (size_t r = 0; r < rows.size(); ++r) {
    if (runs[r].ok()) {
      result.summaries.push_back(*std::move(runs[r]));
      continue;
    }
    RunSummary failed;
    failed.status = "failed";
    failed.out_dir = dirs[r];
    result.summaries.push_back(failed);
    ++result.failed;
    result.errors.push_back(absl::StrCat(rows[r].name, ": ", runs[r].status().message()));
  }
  return result;
}

absl::StatusOr<SuiteResult> RunSuite(const std::vector<SuiteRow>& rows, const std::string& out_dir,
                                     const SuiteOptions& options) {
  RETURN_IF_ERROR(MakeDirs(out_dir));
  const int n = static_cast<int>(rows.size());
  SuiteResult result = RunRows(rows, out_dir, options.threads, options.progress, options.resume);
  RETURN_IF_ERROR(
      WriteFileAtomically(JoinPath(out_dir, "universality.csv"), SuiteCsv(rows, result.summaries)));
  const bool draw = options.figures && GnuplotAvailable();
  if (const absl::Status g = WriteGainSweep(rows, result.summaries, out_dir, draw); !g.ok()) {
    std::fprintf(stderr, "universality: gain sweep figure not drawn: %s\n",
                 std::string(g.message()).c_str());
  }
  if (options.figures && GnuplotAvailable() && result.failed < n) {
    std::vector<SuiteRow> drawn;
    std::vector<RunSummary> drawn_summaries;
    for (int r = 0; r < n; ++r) {
      if (result.summaries[r].status != "failed") {
        drawn.push_back(rows[r]);
        drawn_summaries.push_back(result.summaries[r]);
      }
    }
    if (const absl::Status s = RenderSuiteFigure(drawn, drawn_summaries, out_dir); !s.ok()) {
      std::fprintf(stderr, "universality: figure not drawn: %s\n",
                   std::string(s.message()).c_str());
    }
  }
  // Last, so its presence means the suite completed.
  RETURN_IF_ERROR(WriteJsonFile(JoinPath(out_dir, "summary.json"),
                                SuiteSummaryJson(rows, result.summaries, result.failed)));
  return result;
}

}  // namespace replearn
