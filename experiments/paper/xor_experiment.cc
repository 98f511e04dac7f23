#include "experiments/paper/xor_experiment.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/csv.h"
#include "core/file_util.h"
#include "core/status_macros.h"
#include "experiments/figures.h"
#include "experiments/flags_util.h"
#include "experiments/json_util.h"
#include "experiments/run.h"
#include "experiments/stats.h"
#include "experiments/trial.h"
#include "metrics/distance_matrix.h"
#include "metrics/probe_set.h"

namespace replearn {
namespace {

struct Setting {
  const char* name;
  int64_t paper_steps;  // docs/theory.md section 7
};
constexpr Setting kSettings[] = {
    {"rich", 3000}, {"intermediate", 1000}, {"lazy", 1000}, {"shallow", 2000}};

constexpr int kSmokeWidth = 16;
constexpr int kSmokeSteps = 40;
constexpr int kSmokeEvery = 10;

// One setting, prepared and then measured.
struct Prepared {
  std::string name;
  int64_t paper_steps = 0;
  Experiment spec;
  int layer = 0;
  double spec_ratio = 0;            // the probe's eta_ratio (0 = take the fit's)
  std::vector<std::string> labels;  // per example: its input, e.g. "(0,1)"
};

struct Measured {
  bool ok = false;
  std::string error;
  std::string ratio_source;  // "spec" or "fit"
  double ratio = NAN, fit_loss = NAN, final_loss = NAN;
  int64_t steps = 0;
  Eigen::MatrixXd initial, final, paper, predicted, target;
  std::vector<double> same, different, same_paper, different_paper;
  double same_over_different = NAN, same_over_different_paper = NAN;
  double relative_change = NAN, pearson_r = NAN;
};

// Distances of the pairs (i < j) with equal targets (D_y* = 0) and with different ones.
void SplitPairs(const Eigen::MatrixXd& d, const Eigen::MatrixXd& target, std::vector<double>& same,
                std::vector<double>& different) {
  for (int i = 0; i < d.rows(); ++i) {
    for (int j = i + 1; j < d.cols(); ++j)
      (target(i, j) == 0 ? same : different).push_back(d(i, j));
  }
}

double MaxOverMin(const std::vector<double>& same, const std::vector<double>& different) {
  if (same.empty() || different.empty()) return NAN;
  return *std::max_element(same.begin(), same.end()) /
         *std::min_element(different.begin(), different.end());
}

absl::StatusOr<Prepared> Prepare(const Setting& setting, const StructureOptions& options,
                                 const std::string& specs_dir) {
  Prepared p;
  p.name = setting.name;
  p.paper_steps = setting.paper_steps;
  const std::string path = JoinPath(specs_dir, absl::StrCat(setting.name, ".pbtxt"));
  ASSIGN_OR_RETURN(p.spec, LoadSpecWithOverrides(path, options.sets));
  DistanceMatrixProbeSpec* dm = nullptr;
  for (ProbeSpec& probe : *p.spec.mutable_probe()) {
    if (probe.has_distance_matrix()) dm = probe.mutable_distance_matrix();
  }
  if (dm == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": no distance_matrix probe; the experiment compares its matrices"));
  }
  if (options.smoke) {
    if (p.spec.architecture().has_mlp()) {
      p.spec.mutable_architecture()->mutable_mlp()->set_width(kSmokeWidth);
    }
    p.spec.mutable_training()->set_steps(kSmokeSteps);
    if (dm->every() > 0) dm->set_every(kSmokeEvery);
  }
  p.spec.set_name(absl::StrCat("xor/", setting.name));
  auto trial = BuildTrial(p.spec);
  if (!trial.ok())
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", trial.status().message()));
  p.layer = dm->layers_size() > 0 ? dm->layers(0) : trial->net->num_hidden() / 2;
  p.spec_ratio = dm->eta_ratio();
  ASSIGN_OR_RETURN(const ProbeSet set,
                   ResolveProbeSet(dm->examples(), *trial->data, "probe.distance_matrix.examples"));
  for (int k = 0; k < set.size(); ++k) {
    std::vector<std::string> coords;
    for (int c = 0; c < set.x.cols(); ++c) coords.push_back(absl::StrFormat("%g", set.x(k, c)));
    p.labels.push_back(absl::StrCat("(", absl::StrJoin(coords, ","), ")"));
  }
  if (p.spec_ratio <= 0 && !p.spec.theory().enabled()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path,
                     ": no eta_h / eta_y for the [FINAL] prediction; enable the theory fit (with a "
                     "two_point probe) or set probe.distance_matrix.eta_ratio"));
  }
  return p;
}

absl::StatusOr<Measured> Measure(const Prepared& p, const RunSummary& s, const std::string& dir) {
  Measured m;
  m.final_loss = s.final_loss;
  m.steps = s.steps;
  if (s.status != "finished") {
    return absl::FailedPreconditionError(
        absl::StrCat(p.name, ": run ", s.status, " at step ", s.steps, "; no final matrix"));
  }
  const std::string layer = absl::StrCat(p.layer);
  auto read = [&](const std::string& stem) { return ReadMatrixNpy(JoinPath(dir, stem + ".npy")); };
  ASSIGN_OR_RETURN(m.initial, read(DistanceMatrixStem(layer, 0)));
  ASSIGN_OR_RETURN(m.final, read(DistanceMatrixStem(layer, s.steps)));
  ASSIGN_OR_RETURN(m.target, read("distance_matrix_target"));
  if (p.spec_ratio > 0) {
    m.ratio_source = "spec";
    m.ratio = p.spec_ratio;
    ASSIGN_OR_RETURN(m.predicted, read(PredictedDistanceMatrixStem(layer)));
  } else {
    if (!s.fitted) {
      return absl::FailedPreconditionError(absl::StrCat(p.name, ": the theory was not fitted"));
    }
    m.ratio_source = "fit";
    m.ratio = s.eta_h / s.eta_y;
    m.fit_loss = s.normalised_loss;
    ASSIGN_OR_RETURN(m.predicted, PredictFinalFromRun(dir, p.layer, m.ratio));
  }
  SplitPairs(m.final, m.target, m.same, m.different);
  m.same_over_different = MaxOverMin(m.same, m.different);
  if (p.paper_steps < s.steps) {
    auto paper = read(DistanceMatrixStem(layer, p.paper_steps));
    if (paper.ok()) {
      m.paper = *paper;
      SplitPairs(m.paper, m.target, m.same_paper, m.different_paper);
      m.same_over_different_paper = MaxOverMin(m.same_paper, m.different_paper);
    }
  }
  m.relative_change = (m.final - m.initial).norm() / m.initial.norm();
  m.pearson_r = Pearson(UpperTriangle(m.final), UpperTriangle(m.predicted));
  m.ok = true;
  return m;
}

std::string DistancesCsv(const std::vector<Prepared>& prepared,
                         const std::vector<Measured>& measured) {
  CsvWriter csv({"setting", "matrix", "i", "j", "distance"});
  for (size_t k = 0; k < prepared.size(); ++k) {
    const Measured& m = measured[k];
    if (!m.ok) continue;
    const std::pair<const char*, const Eigen::MatrixXd*> matrices[] = {{"initial", &m.initial},
                                                                       {"final", &m.final},
                                                                       {"paper_steps", &m.paper},
                                                                       {"predicted", &m.predicted}};
    for (const auto& [name, d] : matrices) {
      for (int i = 0; i < d->rows(); ++i) {
        for (int j = 0; j < d->cols(); ++j) {
          csv.AddRow(
              {prepared[k].name, name, absl::StrCat(i), absl::StrCat(j), FormatDouble((*d)(i, j))});
        }
      }
    }
  }
  return csv.contents();
}

absl::Status RenderXorFigures(const std::vector<Prepared>& prepared,
                              const std::vector<Measured>& measured, const std::string& out) {
  std::vector<HeatmapPanel> panels;
  Figure pairs;
  pairs.stem = JoinPath(out, "xor_pairs");
  pairs.width = 1400;
  pairs.height = 380;
  pairs.font_size = 9;
  std::string plots;
  int rows = 0;
  for (size_t k = 0; k < prepared.size(); ++k) {
    const Prepared& p = prepared[k];
    const Measured& m = measured[k];
    if (!m.ok) continue;
    ++rows;
    const std::string layer = absl::StrCat(p.layer);
    std::vector<std::pair<std::string, double>> tics;
    for (size_t i = 0; i < p.labels.size(); ++i) tics.emplace_back(p.labels[i], i);
    const double cb = std::max(m.final.maxCoeff(), m.predicted.maxCoeff());
    panels.push_back(
        {m.initial, absl::StrCat(p.name, ": step 0 (layer ", layer, ")"), tics, NAN, true});
    panels.push_back({m.final, absl::StrCat(p.name, ": measured, step ", m.steps), tics, cb, true});
    panels.push_back(
        {m.predicted,
         absl::StrFormat("%s: [FINAL], eta_h/eta_y = %.3g (%s)", p.name, m.ratio, m.ratio_source),
         tics, cb, true});
    ASSIGN_OR_RETURN(const TidyCurves curves,
                     ReadTidyCurves(JoinPath(JoinPath(out, p.name), "curves.csv")));
    pairs.data.push_back({absl::StrCat("same", k), curves.Rows("dm_within_class", layer)});
    pairs.data.push_back({absl::StrCat("different", k), curves.Rows("dm_between_class", layer)});
    absl::StrAppend(&plots, "set title ", GnuplotString(p.name), "\nplot $same", k,
                    " using 1:2 with lines lw 2 title 'same target', $different", k,
                    " using 1:2 with lines lw 2 title 'different target'\n");
  }
  if (rows == 0) return absl::OkStatus();
  RETURN_IF_ERROR(RenderHeatmaps(panels, rows, 3,
                                 "XOR: hidden distance matrices, measured vs [FINAL] prediction",
                                 JoinPath(out, "xor")));
  pairs.script = absl::StrCat(
      absl::StrFormat("set multiplot layout 1,%d title 'XOR: mean hidden distance of same-target "
                      "and different-target pairs'\n",
                      rows),
      "set logscale y\nset grid\nset xlabel 'step'\nset xtics rotate by 45 right\n"
      "set key bottom right\n",
      plots, "unset multiplot\n");
  return RenderFigure(pairs);
}

}  // namespace

absl::StatusOr<StructureResult> RunXor(const StructureOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const std::string specs_dir =
      options.specs.empty() ? "experiments/paper/specs/xor" : options.specs;
  std::vector<Prepared> prepared;
  std::vector<std::string> problems;
  for (const Setting& setting : kSettings) {
    auto p = Prepare(setting, options, specs_dir);
    if (p.ok()) {
      prepared.push_back(*std::move(p));
    } else {
      problems.emplace_back(p.status().message());
    }
  }
  if (!problems.empty()) return absl::InvalidArgumentError(absl::StrJoin(problems, "\n"));
  RETURN_IF_ERROR(MakeDirs(options.out_dir));
  const std::string summary_path = JoinPath(options.out_dir, "summary.json");
  if (FileExists(summary_path)) std::remove(summary_path.c_str());

  std::vector<Experiment> specs;
  std::vector<std::string> dirs;
  for (const Prepared& p : prepared) {
    specs.push_back(p.spec);
    dirs.push_back(JoinPath(options.out_dir, p.name));
  }
  const auto runs = RunExperiments(specs, dirs, options.threads, options.progress);
  std::vector<Measured> measured(prepared.size());
  for (size_t k = 0; k < prepared.size(); ++k) {
    auto m = runs[k].ok() ? Measure(prepared[k], *runs[k], dirs[k])
                          : absl::StatusOr<Measured>(runs[k].status());
    if (m.ok()) {
      measured[k] = *std::move(m);
    } else {
      measured[k].error = std::string(m.status().message());
      problems.push_back(absl::StrCat(prepared[k].name, ": ", measured[k].error));
    }
  }
  RETURN_IF_ERROR(WriteFileAtomically(JoinPath(options.out_dir, "xor_distances.csv"),
                                      DistancesCsv(prepared, measured)));
  if (options.figures && GnuplotAvailable()) {
    if (const absl::Status s = RenderXorFigures(prepared, measured, options.out_dir); !s.ok()) {
      std::fprintf(stderr, "xor: figures not drawn: %s\n", std::string(s.message()).c_str());
    }
  }

  StructureResult result;
  Json summary;
  summary["experiment"] = "xor";
  summary["smoke"] = options.smoke;
  Json settings = Json::object();
  for (size_t k = 0; k < prepared.size(); ++k) {
    const Measured& m = measured[k];
    Json& o = settings[prepared[k].name];
    if (!m.ok) {
      o["status"] = "failed";
      o["error"] = m.error;
      continue;
    }
    o["status"] = "finished";
    o["layer"] = prepared[k].layer;
    o["steps"] = m.steps;
    o["paper_steps"] = prepared[k].paper_steps;
    o["final_loss"] = JsonNumber(m.final_loss);
    o["eta_h_over_eta_y"] = JsonNumber(m.ratio);
    o["eta_ratio_source"] = m.ratio_source;
    o["fit_normalised_loss"] = JsonNumber(m.fit_loss);
    o["same_target"] = JsonNumbers(m.same);
    o["different_target"] = JsonNumbers(m.different);
    o["same_over_different"] = JsonNumber(m.same_over_different);
    o["same_target_at_paper_steps"] = JsonNumbers(m.same_paper);
    o["different_target_at_paper_steps"] = JsonNumbers(m.different_paper);
    o["same_over_different_at_paper_steps"] = JsonNumber(m.same_over_different_paper);
    o["relative_change"] = JsonNumber(m.relative_change);
    o["pearson_r_predicted"] = JsonNumber(m.pearson_r);
  }
  auto figure = [&](const std::string& key, double value) {
    summary[key] = JsonNumber(value);
    result.key_figures.emplace_back(key, value);
  };
  const Measured& rich = measured[0];
  const Measured& lazy = measured[2];
  figure("rich_same_over_different", rich.same_over_different);
  figure("rich_same_over_different_at_paper_steps", rich.same_over_different_paper);
  summary["rich_same_target_merged"] = rich.ok && rich.same_over_different < 0.1;
  figure("lazy_relative_change", lazy.relative_change);
  for (size_t k = 0; k < prepared.size(); ++k) {
    figure(absl::StrCat(prepared[k].name, "_pearson_r_predicted"), measured[k].pearson_r);
  }
  result.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  summary["wall_seconds"] = JsonNumber(result.wall_seconds);
  summary["settings"] = std::move(settings);
  RETURN_IF_ERROR(WriteJsonFile(summary_path, summary));
  if (!problems.empty()) return absl::InternalError(absl::StrJoin(problems, "\n"));
  return result;
}

}  // namespace replearn
