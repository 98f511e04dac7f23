#include "experiments/paper/context_experiment.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
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
#include "experiments/trial.h"
#include "metrics/distance_matrix.h"
#include "metrics/probe_set.h"

namespace replearn {
namespace {

struct Setting {
  const char* file;    // spec file stem
  const char* regime;  // key prefix in summary.json
};
constexpr Setting kSettings[] = {
    {"gain_2.0", "lazy"}, {"gain_0.5", "intermediate"}, {"gain_0.275", "rich"}};

constexpr int kSmokeWidth = 16;
constexpr int kSmokeSteps = 20;

struct Prepared {
  std::string name, regime;
  Experiment spec;
  std::vector<int> layers;                                // of the distance_matrix probe
  int layer = 0;                                          // reported
  int mds_layer = -1;                                     // -1: no mds probe at the reported layer
  std::vector<int> indices, context, x_centre, y_centre;  // per probe example
};

struct Collapse {
  int layer;
  double initial[3], final[3];  // mean, context 1, context 2
};

struct Measured {
  bool ok = false;
  std::string error;
  int64_t steps = 0;
  double final_loss = NAN;
  std::vector<Collapse> collapse;
  double headline = NAN, headline_initial = NAN;
  // MDS of the reported layer at step 0 and at the end: per step, rows x1, x2, context, target.
  std::map<int64_t, std::vector<std::vector<double>>> mds;
};

absl::StatusOr<Prepared> Prepare(const Setting& setting, const StructureOptions& options,
                                 const std::string& specs_dir) {
  Prepared p;
  p.name = setting.file;
  p.regime = setting.regime;
  const std::string path = JoinPath(specs_dir, absl::StrCat(setting.file, ".pbtxt"));
  ASSIGN_OR_RETURN(p.spec, LoadSpecWithOverrides(path, options.sets));
  if (!p.spec.dataset().has_context()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": dataset is not `context`; the experiment needs the context task"));
  }
  const DistanceMatrixProbeSpec* dm = nullptr;
  const MdsProbeSpec* mds = nullptr;
  for (const ProbeSpec& probe : p.spec.probe()) {
    if (probe.has_distance_matrix()) dm = &probe.distance_matrix();
    if (probe.has_mds()) mds = &probe.mds();
  }
  if (dm == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": no distance_matrix probe; the collapse is measured from it"));
  }
  if (options.smoke) {
    if (p.spec.architecture().has_mlp()) {
      p.spec.mutable_architecture()->mutable_mlp()->set_width(kSmokeWidth);
    }
    p.spec.mutable_training()->set_steps(kSmokeSteps);
  }
  p.spec.set_name(absl::StrCat("context/", setting.file));
  auto trial = BuildTrial(p.spec);
  if (!trial.ok())
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", trial.status().message()));
  std::vector<std::string> unused;
  const int num_hidden = trial->net->num_hidden();
  p.layers = ResolveLayers(dm->layers(), num_hidden, "", unused);
  p.layer = num_hidden / 2;
  if (std::find(p.layers.begin(), p.layers.end(), p.layer) == p.layers.end()) p.layer = p.layers[0];
  if (mds != nullptr) {
    const std::vector<int> mds_layers = ResolveLayers(mds->layers(), num_hidden, "", unused);
    if (std::find(mds_layers.begin(), mds_layers.end(), p.layer) != mds_layers.end()) {
      p.mds_layer = p.layer;
    }
  }
  ASSIGN_OR_RETURN(const ProbeSet set,
                   ResolveProbeSet(dm->examples(), *trial->data, "probe.distance_matrix.examples"));
  const int g = p.spec.dataset().context().grid_size();
  for (int idx : set.indices) {
    p.indices.push_back(idx);
    p.context.push_back(idx / (g * g));
    p.x_centre.push_back((idx % (g * g)) / g);
    p.y_centre.push_back(idx % g);
  }
  return p;
}

// Mean, context-1 and context-2 irrelevant_over_relevant of a probe-set distance matrix.
void CollapseOf(const Prepared& p, const Eigen::MatrixXd& d, double out[3]) {
  double sum = 0;
  int count = 0;
  for (int c = 0; c < 2; ++c) {
    std::vector<int> rows, group;
    for (size_t k = 0; k < p.indices.size(); ++k) {
      if (p.context[k] != c) continue;
      rows.push_back(static_cast<int>(k));
      group.push_back(c == 0 ? p.x_centre[k] : p.y_centre[k]);
    }
    Eigen::MatrixXd sub(rows.size(), rows.size());
    for (size_t a = 0; a < rows.size(); ++a) {
      for (size_t b = 0; b < rows.size(); ++b) sub(a, b) = d(rows[a], rows[b]);
    }
    out[1 + c] = rows.size() >= 2 ? IrrelevantOverRelevant(sub, group) : NAN;
    if (std::isfinite(out[1 + c])) {
      sum += out[1 + c];
      ++count;
    }
  }
  out[0] = count > 0 ? sum / count : NAN;
}

absl::StatusOr<Measured> Measure(const Prepared& p, const RunSummary& s, const std::string& dir) {
  Measured m;
  m.steps = s.steps;
  m.final_loss = s.final_loss;
  if (s.status != "finished") {
    return absl::FailedPreconditionError(
        absl::StrCat("run ", s.status, " at step ", s.steps, "; no final matrix"));
  }
  for (int layer : p.layers) {
    Collapse c;
    c.layer = layer;
    ASSIGN_OR_RETURN(
        const Eigen::MatrixXd d0,
        ReadMatrixNpy(JoinPath(dir, DistanceMatrixStem(absl::StrCat(layer), 0) + ".npy")));
    ASSIGN_OR_RETURN(
        const Eigen::MatrixXd d,
        ReadMatrixNpy(JoinPath(dir, DistanceMatrixStem(absl::StrCat(layer), s.steps) + ".npy")));
    CollapseOf(p, d0, c.initial);
    CollapseOf(p, d, c.final);
    if (layer == p.layer) {
      m.headline = c.final[0];
      m.headline_initial = c.initial[0];
    }
    m.collapse.push_back(c);
  }
  m.ok = true;
  return m;
}

// context_mds.csv rows of one run (reported layer, step 0 and the last step), also kept in
// m.mds for the figure.
absl::Status AppendMds(const Prepared& p, Measured& m, const std::string& dir, CsvWriter& csv) {
  for (int64_t step : {int64_t{0}, m.steps}) {
    ASSIGN_OR_RETURN(
        const CsvTable table,
        ReadCsvFile(JoinPath(dir, absl::StrCat("mds_", p.mds_layer, "_step", step, ".csv"))));
    const int c_pos = table.Column("position"), c_target = table.Column("target"),
              c_x1 = table.Column("x1"), c_x2 = table.Column("x2");
    if (c_pos < 0 || c_target < 0 || c_x1 < 0 || c_x2 < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(dir, ": mds csv lacks position, target, x1 or x2"));
    }
    const auto number = [](const std::string& text) {
      double v = NAN;
      return absl::SimpleAtod(text, &v) ? v : NAN;
    };
    for (const auto& row : table.rows) {
      const int k = std::stoi(row[c_pos]);
      csv.AddRow({p.name, absl::StrCat(step), row[c_pos], absl::StrCat(p.indices[k]),
                  absl::StrCat(p.context[k] + 1), absl::StrCat(p.x_centre[k]),
                  absl::StrCat(p.y_centre[k]), row[c_target], row[c_x1], row[c_x2]});
      m.mds[step].push_back({number(row[c_x1]), number(row[c_x2]),
                             static_cast<double>(p.context[k] + 1), number(row[c_target])});
    }
  }
  return absl::OkStatus();
}

absl::Status RenderMdsFigure(const std::vector<Prepared>& prepared,
                             const std::vector<Measured>& measured, const std::string& out) {
  int rows = 0;
  for (size_t k = 0; k < prepared.size(); ++k) rows += measured[k].ok && prepared[k].mds_layer >= 0;
  if (rows == 0) return absl::OkStatus();
  Figure figure;
  figure.stem = JoinPath(out, "context_mds");
  figure.width = 1200;
  figure.height = 360 * rows + 50;
  figure.font_size = 9;
  figure.script = absl::StrCat(
      absl::StrFormat("set multiplot layout %d,3 title 'Context task: classical MDS of hidden "
                      "layer %d (200 examples)'\n",
                      rows, prepared[0].mds_layer),
      "set palette rgb 33,13,10\nset cblabel 'target'\nset grid\n"
      "set format x '%.2g'\nset xtics rotate by 45 right\nset format y '%.2g'\n"
      "set xlabel 'MDS 1'\nset ylabel 'MDS 2'\n");
  for (size_t k = 0; k < prepared.size(); ++k) {
    const Prepared& p = prepared[k];
    const Measured& m = measured[k];
    if (!m.ok || p.mds_layer < 0) continue;
    const auto rows_at = [&m](int64_t step) {
      const auto it = m.mds.find(step);
      return it == m.mds.end() ? std::vector<std::vector<double>>() : it->second;
    };
    figure.data.push_back({absl::StrCat("initial", k), rows_at(0)});
    figure.data.push_back({absl::StrCat("final", k), rows_at(m.steps)});
    const std::string initial = absl::StrCat("$initial", k), final = absl::StrCat("$final", k);
    // Columns: 1 x1, 2 x2, 3 context (1 or 2), 4 target.
    absl::StrAppend(
        &figure.script, "set key top right\nunset colorbox\nset title ",
        GnuplotString(absl::StrFormat("%s (%s), step %d: by context", p.name, p.regime, m.steps)),
        "\nplot ", final,
        " using 1:(($3 == 1) ? $2 : 1/0) with points pt 6 ps 1.2 lc rgb '#1f77b4' title "
        "'context 1 (target x)', ",
        final,
        " using 1:(($3 == 2) ? $2 : 1/0) with points pt 7 ps 0.5 lc rgb '#d62728' title "
        "'context 2 (target y)'\n",
        "unset key\nset colorbox\nset title ",
        GnuplotString(absl::StrFormat("%s, step %d: by target", p.name, m.steps)), "\nplot ", final,
        " using 1:2:4 with points pt 7 ps 0.5 palette\nset title ",
        GnuplotString(absl::StrFormat("%s, step 0: by target", p.name)), "\nplot ", initial,
        " using 1:2:4 with points pt 7 ps 0.5 palette\n");
  }
  figure.script += "unset multiplot\n";
  return RenderFigure(figure);
}

}  // namespace

double IrrelevantOverRelevant(const Eigen::MatrixXd& d, const std::vector<int>& group) {
  const int m = static_cast<int>(group.size());
  std::map<int, std::vector<int>> members;
  for (int a = 0; a < m; ++a) members[group[a]].push_back(a);
  double total = 0;
  for (int a = 0; a < m; ++a) {
    for (int b = a + 1; b < m; ++b) total += d(a, b) * d(a, b);
  }
  total /= m;
  double within = 0;
  for (const auto& [key, rows] : members) {
    double sum = 0;
    for (size_t a = 0; a < rows.size(); ++a) {
      for (size_t b = a + 1; b < rows.size(); ++b) sum += d(rows[a], rows[b]) * d(rows[a], rows[b]);
    }
    within += sum / rows.size();
  }
  const double between = total - within;
  return between > 0 ? std::sqrt(within / between) : NAN;
}

absl::StatusOr<StructureResult> RunContext(const StructureOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const std::string specs_dir =
      options.specs.empty() ? "experiments/paper/specs/context" : options.specs;
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
  CsvWriter collapse_csv({"gain", "layer", "step", "context", "irrelevant_over_relevant"});
  CsvWriter mds_csv({"gain", "step", "position", "index", "context", "x_centre", "y_centre",
                     "target", "x1", "x2"});
  for (size_t k = 0; k < prepared.size(); ++k) {
    auto m = runs[k].ok() ? Measure(prepared[k], *runs[k], dirs[k])
                          : absl::StatusOr<Measured>(runs[k].status());
    if (m.ok() && prepared[k].mds_layer >= 0) {
      if (const absl::Status s = AppendMds(prepared[k], *m, dirs[k], mds_csv); !s.ok()) m = s;
    }
    if (!m.ok()) {
      measured[k].error = std::string(m.status().message());
      problems.push_back(absl::StrCat(prepared[k].name, ": ", measured[k].error));
      continue;
    }
    measured[k] = *std::move(m);
    for (const Collapse& c : measured[k].collapse) {
      for (int which = 0; which < 3; ++which) {
        for (const auto& [step, value] : {std::make_pair(int64_t{0}, c.initial[which]),
                                          std::make_pair(measured[k].steps, c.final[which])}) {
          collapse_csv.AddRow({prepared[k].name, absl::StrCat(c.layer), absl::StrCat(step),
                               absl::StrCat(which), FormatDouble(value)});
        }
      }
    }
  }
  RETURN_IF_ERROR(WriteFileAtomically(JoinPath(options.out_dir, "context_collapse.csv"),
                                      collapse_csv.contents()));
  RETURN_IF_ERROR(
      WriteFileAtomically(JoinPath(options.out_dir, "context_mds.csv"), mds_csv.contents()));
  if (options.figures && GnuplotAvailable()) {
    if (const absl::Status s = RenderMdsFigure(prepared, measured, options.out_dir); !s.ok()) {
      std::fprintf(stderr, "context: figure not drawn: %s\n", std::string(s.message()).c_str());
    }
  }

  StructureResult result;
  Json summary;
  summary["experiment"] = "context";
  summary["smoke"] = options.smoke;
  summary["layer"] = prepared[0].layer;
  Json gains = Json::object();
  for (size_t k = 0; k < prepared.size(); ++k) {
    const Measured& m = measured[k];
    Json& o = gains[prepared[k].name];
    o["regime"] = prepared[k].regime;
    o["gain"] = JsonNumber(prepared[k].spec.architecture().mlp().gain());
    o["learning_rate"] = JsonNumber(prepared[k].spec.training().learning_rate());
    if (!m.ok) {
      o["status"] = "failed";
      o["error"] = m.error;
      continue;
    }
    o["status"] = "finished";
    o["steps"] = m.steps;
    o["final_loss"] = JsonNumber(m.final_loss);
    std::vector<double> layers, initial, final;
    for (const Collapse& c : m.collapse) {
      layers.push_back(c.layer);
      initial.push_back(c.initial[0]);
      final.push_back(c.final[0]);
    }
    o["layers"] = JsonNumbers(layers);
    o["irrelevant_over_relevant_initial"] = JsonNumbers(initial);
    o["irrelevant_over_relevant_final"] = JsonNumbers(final);
  }
  auto figure = [&](const std::string& key, double value) {
    summary[key] = JsonNumber(value);
    result.key_figures.emplace_back(key, value);
  };
  for (int k = static_cast<int>(prepared.size()) - 1; k >= 0; --k) {  // rich first
    figure(absl::StrCat(prepared[k].regime, "_irrelevant_over_relevant"), measured[k].headline);
    figure(absl::StrCat(prepared[k].regime, "_irrelevant_over_relevant_initial"),
           measured[k].headline_initial);
    figure(absl::StrCat(prepared[k].regime, "_final_loss"), measured[k].final_loss);
  }
  result.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  summary["wall_seconds"] = JsonNumber(result.wall_seconds);
  summary["gains"] = std::move(gains);
  RETURN_IF_ERROR(WriteJsonFile(summary_path, summary));
  if (!problems.empty()) return absl::InternalError(absl::StrJoin(problems, "\n"));
  return result;
}

}  // namespace replearn
