#include "experiments/run.h"

#include "metrics/two_point.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "core/csv.h"
#include "core/file_util.h"
#include "core/npy.h"
#include "core/status_macros.h"
#include "experiments/analysis.h"
#include "experiments/figures.h"
#include "experiments/loader.h"

namespace replearn {
namespace {

std::string JsonNumber(double v) { return std::isfinite(v) ? FormatDouble(v) : "null"; }

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      absl::StrAppend(&out, "\\u00", c < 0x10 ? "0" : "", absl::Hex(c));
    } else {
      out.push_back(c);
    }
  }
  return out + "\"";
}

// The network's parameters in the architecture.init_npz layout, float32, uncompressed.
absl::Status SaveWeights(Architecture& net, const std::string& path) {
  NpzMembers members;
  for (const Parameter& p : net.parameters()) {
    members.emplace_back(p.name,
                         NpyArray::Float32(p.shape, {p.data, static_cast<size_t>(p.size())}));
  }
  return WriteNpz(path, members);
}

}  // namespace

void ResolveInitNpz(const std::string& working_dir, const std::string& spec_path,
                    Experiment& spec) {
  const std::string& path = spec.architecture().init_npz();
  if (path.empty() || path[0] == '/') return;
  const size_t slash = spec_path.rfind('/');
  const std::string spec_dir = slash == std::string::npos ? "" : spec_path.substr(0, slash);
  for (const std::string& dir : {working_dir, spec_dir}) {
    std::string candidate = JoinPath(dir, path);
    if (!FileExists(candidate)) continue;
    // Absolute, so that spec.pbtxt reruns from any directory.
    char cwd[4096];
    if (candidate[0] != '/' && ::getcwd(cwd, sizeof(cwd)) != nullptr) {
      candidate = JoinPath(cwd, candidate);
    }
    spec.mutable_architecture()->set_init_npz(candidate);
    return;
  }
}

int TrackedLayer(const Experiment& spec, int num_hidden) {
  const int layer = spec.theory().tracked_layer();
  return layer >= 0 ? layer : num_hidden / 2;
}

std::string SummaryJson(const Experiment& spec, const RunSummary& s) {
  std::string json = "{\n";
  auto field = [&json](const std::string& key, const std::string& value, bool last = false) {
    absl::StrAppend(&json, "  ", JsonString(key), ": ", value, last ? "\n" : ",\n");
  };
  field("name", JsonString(spec.name()));
  field("status", JsonString(s.status));
  field("steps", absl::StrCat(s.steps));
  field("final_loss", JsonNumber(s.final_loss));
  field("seed", absl::StrCat(spec.training().seed()));
  field("wall_seconds", JsonNumber(s.wall_seconds));
  field("train_seconds", JsonNumber(s.train_seconds));
  field("diverged_step", s.diverged_step >= 0 ? absl::StrCat(s.diverged_step) : "null");
  field("tracked_layer", absl::StrCat(s.tracked_layer));
  field("h0", JsonNumber(s.h0));
  field("y0", JsonNumber(s.y0));
  field("w0", JsonNumber(s.w0));
  if (std::isfinite(s.test_loss)) field("test_loss", JsonNumber(s.test_loss));
  if (std::isfinite(s.test_accuracy)) field("test_accuracy", JsonNumber(s.test_accuracy));
  if (std::isfinite(s.train_accuracy)) field("train_accuracy", JsonNumber(s.train_accuracy));
  field("h_final", JsonNumber(s.h_final), /*last=*/!s.fitted);
  if (s.fitted) {
    field("eta_h", JsonNumber(s.eta_h));
    field("eta_y", JsonNumber(s.eta_y));
    field("eta_ybar", JsonNumber(s.eta_ybar));
    field("normalised_loss", JsonNumber(s.normalised_loss));
    field("r2_h", JsonNumber(s.r2_h));
    field("r2_y", JsonNumber(s.r2_y));
    field("r2_w", JsonNumber(s.r2_w));
    field("r2_loss", JsonNumber(s.r2_loss));
    for (const auto& [variant, loss] : s.alternative_losses) {
      field(absl::StrCat("normalised_loss_", variant), JsonNumber(loss));
    }
    field("h_final_predicted", JsonNumber(s.h_final_predicted), /*last=*/true);
  }
  return json + "}\n";
}

absl::StatusOr<RunSummary> RunExperiment(const Experiment& spec, const RunOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(Trial trial, BuildTrial(spec));
  RETURN_IF_ERROR(MakeDirs(options.out_dir));
  // A rerun into the same folder must not leave an old summary claiming completion.
  const std::string summary_path = JoinPath(options.out_dir, "summary.json");
  if (FileExists(summary_path)) std::remove(summary_path.c_str());
  RETURN_IF_ERROR(
      WriteFileAtomically(JoinPath(options.out_dir, "spec.pbtxt"), ExperimentToText(spec)));

  if (spec.output().save_weights()) {
    RETURN_IF_ERROR(SaveWeights(*trial.net, JoinPath(options.out_dir, "weights_init.npz")));
  }

  TrainOptions train_options;
  train_options.progress = options.progress;
  train_options.out_dir = options.out_dir;
  ASSIGN_OR_RETURN(TrainResult result, Train(trial, train_options));
  RETURN_IF_ERROR(result.curves.WriteCsv(JoinPath(options.out_dir, "curves.csv")));
  if (spec.output().save_weights()) {
    RETURN_IF_ERROR(SaveWeights(*trial.net, JoinPath(options.out_dir, "weights_final.npz")));
  }

  RunSummary s;
  s.out_dir = options.out_dir;
  s.status = result.status;
  s.steps = result.steps;
  s.final_loss = result.final_loss;
  s.test_loss = result.test_loss;
  s.test_accuracy = result.test_accuracy;
  s.train_accuracy = result.train_accuracy;
  s.diverged_step = result.diverged_step;
  s.train_seconds = result.wall_seconds;
  s.tracked_layer = TrackedLayer(spec, trial.net->num_hidden());
  s.h0 = result.curves.First("h", s.tracked_layer);
  s.y0 = result.curves.First("y");
  s.w0 = result.curves.First("w");
  s.h_final = result.curves.Last("h", s.tracked_layer);
  s.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (spec.theory().enabled() && result.status != "diverged") {
    AnalysisOptions a;
    a.curves_path = JoinPath(options.out_dir, "curves.csv");
    a.out_dir = options.out_dir;
    const Dataset& data = *trial.data;
    // The pair the (first) two_point probe followed; BuildTrial required one.
    std::pair<int, int> pair{0, 1};
    for (const ProbeSpec& p : spec.probe()) {
      if (p.has_two_point()) {
        ASSIGN_OR_RETURN(pair, TwoPointExamples(p.two_point(), data));
        break;
      }
    }
    a.dx2 = (data.x.row(pair.second) - data.x.row(pair.first)).cast<double>().squaredNorm();
    a.dy2 = (data.y.row(pair.second) - data.y.row(pair.first)).cast<double>().squaredNorm();
    a.layers.assign(spec.theory().layers().begin(), spec.theory().layers().end());
    a.tracked_layer = s.tracked_layer;
    a.alternatives = spec.theory().alternatives();
    a.threads = options.fit_threads;  // 0 = std::threads, one per core
    ASSIGN_OR_RETURN(const Analysis analysis, AnalyseCurves(a));
    const FitResult& f = analysis.tracked();
    s.fitted = true;
    s.eta_h = f.eta_h;
    s.eta_y = f.eta_y;
    s.eta_ybar = f.eta_ybar;
    s.normalised_loss = f.normalised_loss;
    s.r2_h = f.r2_h;
    s.r2_y = f.r2_y;
    s.r2_w = f.r2_w;
    s.r2_loss = f.r2_loss;
    s.h_final_predicted = f.h_final_predicted;
    s.alternative_losses = analysis.alternative_losses;
  }
  if (spec.output().figures()) {
    if (!GnuplotAvailable()) {
      std::fprintf(stderr, "replearn: gnuplot not found; no figures (tools/setup.sh installs it)\n");
    } else if (const absl::Status fig = RenderFigures(
                   options.out_dir, JoinPath(options.out_dir, "curves.csv"), s.tracked_layer,
                   spec.name());
               !fig.ok()) {
      std::fprintf(stderr, "replearn: figures not drawn: %s\n", std::string(fig.message()).c_str());
    }
  }
  RETURN_IF_ERROR(WriteFileAtomically(summary_path, SummaryJson(spec, s)));
  return s;
}

}  // namespace replearn
