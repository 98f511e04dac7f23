#include "experiments/paper/mnist_structure_experiment.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "architectures/architecture.h"
#include "architectures/weights_io.h"
#include "core/file_util.h"
#include "core/rng.h"
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

constexpr int kDefaultNetworks = 10;
constexpr int kSmokeNetworks = 2;
constexpr int kSmokeWidth = 16;
constexpr int kSmokeTrain = 1000;
constexpr int kSmokeTest = 200;

std::string Absolute(const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  char cwd[4096];
  return ::getcwd(cwd, sizeof(cwd)) != nullptr ? JoinPath(cwd, path) : path;
}

double MeanOver(const Eigen::MatrixXd& d, const Eigen::MatrixXd& target, bool same_class) {
  double sum = 0;
  int64_t count = 0;
  for (int i = 0; i < d.rows(); ++i) {
    for (int j = i + 1; j < d.cols(); ++j) {
      if ((target(i, j) == 0) == same_class) {
        sum += d(i, j);
        ++count;
      }
    }
  }
  return count > 0 ? sum / count : NAN;
}

// The spec as the experiment runs it: loaded, checked and (for --smoke) reduced.
struct PreparedSpec {
  std::string path;
  Experiment spec;
  DistanceMatrixProbeSpec dm;  // the spec's distance_matrix probe
};

absl::StatusOr<PreparedSpec> PrepareSpec(const StructureOptions& options) {
  PreparedSpec p;
  p.path = options.specs.empty() ? "experiments/paper/specs/mnist_structure.pbtxt" : options.specs;
  ASSIGN_OR_RETURN(p.spec, LoadSpecWithOverrides(p.path, options.sets));
  const DistanceMatrixProbeSpec* dm = nullptr;
  TwoPointProbeSpec* two_point = nullptr;
  for (ProbeSpec& probe : *p.spec.mutable_probe()) {
    if (probe.has_distance_matrix()) dm = &probe.distance_matrix();
    if (probe.has_two_point()) two_point = probe.mutable_two_point();
  }
  if (dm == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(p.path, ": no distance_matrix probe; the experiment averages its matrices"));
  }
  p.dm = *dm;
  if (!p.spec.architecture().init_npz().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        p.path, ": architecture.init_npz = ", p.spec.architecture().init_npz(),
        "; the experiment draws each network's initialisation itself, leave it empty"));
  }
  if (options.smoke) {
    if (p.spec.architecture().has_mlp()) {
      p.spec.mutable_architecture()->mutable_mlp()->set_width(kSmokeWidth);
    }
    p.spec.mutable_training()->set_epochs(1);
    if (p.spec.dataset().has_mnist()) {
      p.spec.mutable_dataset()->mutable_mnist()->set_max_train(kSmokeTrain);
      p.spec.mutable_dataset()->mutable_mnist()->set_max_test(kSmokeTest);
    }
    if (two_point != nullptr) two_point->set_every(1);
  }
  return p;
}

// What the experiment needs from the validated spec, so that the dataset BuildTrial loads is
// not kept while the networks train.
struct SpecFacts {
  int input_dim = 0, output_dim = 0;
  int layer = 0;            // the distance_matrix probe's (first) layer
  std::vector<int> labels;  // per probe example (all 0 without class labels)
  bool has_labels = false;
};

absl::StatusOr<SpecFacts> Inspect(const PreparedSpec& p) {
  auto trial = BuildTrial(p.spec);
  if (!trial.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(p.path, ": ", trial.status().message()));
  }
  SpecFacts facts;
  facts.input_dim = trial->data->input_dim();
  facts.output_dim = trial->data->output_dim();
  facts.layer = p.dm.layers_size() > 0 ? p.dm.layers(0) : trial->net->num_hidden() / 2;
  ASSIGN_OR_RETURN(const ProbeSet set, ResolveProbeSet(p.dm.examples(), *trial->data,
                                                       "probe.distance_matrix.examples"));
  facts.has_labels = !set.labels.empty();
  facts.labels = facts.has_labels ? set.labels : std::vector<int>(set.size(), 0);
  return facts;
}

// The networks to train: network k's spec starts from init/seed_<k>.npz.
struct Networks {
  std::vector<Experiment> specs;
  std::vector<std::string> dirs;
  std::vector<uint64_t> seeds;
};

// Draws each network's initial parameters (seed Rng::DeriveSeed(training.seed, k), network 0:
// training.seed) and writes them to <out>/init/seed_<k>.npz.
absl::StatusOr<Networks> WriteInitialisations(const Experiment& spec, const SpecFacts& facts,
                                              int networks, const std::string& out) {
  RETURN_IF_ERROR(MakeDirs(JoinPath(out, "init")));
  Networks n;
  for (int k = 0; k < networks; ++k) {
    const uint64_t seed =
        k == 0 ? spec.training().seed() : Rng::DeriveSeed(spec.training().seed(), k);
    BuildContext ctx;
    ctx.input_dim = facts.input_dim;
    ctx.output_dim = facts.output_dim;
    ctx.seed = seed;
    ASSIGN_OR_RETURN(std::unique_ptr<Architecture> net,
                     CreateArchitecture(spec.architecture(), ctx));
    const std::string init = JoinPath(out, absl::StrCat("init/seed_", k, ".npz"));
    RETURN_IF_ERROR(SaveWeights(*net, init));
    Experiment s = spec;
    s.set_name(absl::StrCat("mnist_structure/seed_", k));
    s.mutable_architecture()->set_init_npz(init);
    n.specs.push_back(std::move(s));
    n.dirs.push_back(JoinPath(out, absl::StrCat("seed_", k)));
    n.seeds.push_back(seed);
  }
  return n;
}

// The matrices averaged over the networks that finished, and per-network figures.
struct Averages {
  Eigen::MatrixXd initial, measured, predicted;  // NaN predicted when no network had a ratio
  Eigen::MatrixXd target, input;                 // of the probe set (the same for every run)
  int used = 0;                                  // networks averaged
  int predicted_used = 0;                        // of them, networks with an eta_h / eta_y
  std::vector<double> r_block_each, accuracy_each, ratio_each;
  std::vector<std::string> problems;  // one per network that could not be used
};

// Adds network k's matrices to `a`; eta_h / eta_y comes from the spec's eta_ratio, else from
// the run's own theory fit.
absl::Status AddNetwork(const absl::StatusOr<RunSummary>& run, const std::string& dir,
                        const DistanceMatrixProbeSpec& dm, int layer, Averages& a) {
  if (!run.ok()) return run.status();
  const RunSummary& s = *run;
  if (s.status != "finished") {
    return absl::FailedPreconditionError(absl::StrCat("run ", s.status, " at step ", s.steps));
  }
  const std::string name = absl::StrCat(layer);
  auto read = [&](const std::string& stem) { return ReadMatrixNpy(JoinPath(dir, stem + ".npy")); };
  ASSIGN_OR_RETURN(const Eigen::MatrixXd d0, read(DistanceMatrixStem(name, 0)));
  ASSIGN_OR_RETURN(const Eigen::MatrixXd d, read(DistanceMatrixStem(name, s.steps)));
  if (a.target.size() == 0) {
    ASSIGN_OR_RETURN(a.target, read("distance_matrix_target"));
    ASSIGN_OR_RETURN(a.input, read("distance_matrix_input"));
  }
  a.initial += d0;
  a.measured += d;
  ++a.used;
  const Eigen::MatrixXd block = (a.target.array() > 0).cast<double>();
  a.r_block_each.push_back(Pearson(UpperTriangle(d), UpperTriangle(block)));
  a.accuracy_each.push_back(s.test_accuracy);
  double ratio = dm.eta_ratio();
  if (ratio <= 0 && s.fitted) ratio = s.eta_h / s.eta_y;
  a.ratio_each.push_back(ratio > 0 ? ratio : NAN);
  if (ratio > 0) {
    ASSIGN_OR_RETURN(const Eigen::MatrixXd p, dm.eta_ratio() > 0
                                                  ? read(PredictedDistanceMatrixStem(name))
                                                  : PredictFinalFromRun(dir, layer, ratio));
    a.predicted += p;
    ++a.predicted_used;
  }
  return absl::OkStatus();
}

Averages Average(const std::vector<absl::StatusOr<RunSummary>>& runs, const Networks& networks,
                 const DistanceMatrixProbeSpec& dm, int layer, int examples) {
  Averages a;
  a.initial = Eigen::MatrixXd::Zero(examples, examples);
  a.measured = a.initial;
  a.predicted = a.initial;
  for (size_t k = 0; k < runs.size(); ++k) {
    const absl::Status status = AddNetwork(runs[k], networks.dirs[k], dm, layer, a);
    if (!status.ok()) a.problems.push_back(absl::StrCat("seed_", k, ": ", status.message()));
  }
  if (a.used == 0) return a;
  a.initial /= a.used;
  a.measured /= a.used;
  if (a.predicted_used > 0) {
    a.predicted /= a.predicted_used;
  } else {
    a.predicted.setConstant(NAN);
  }
  return a;
}

absl::Status RenderMnistFigure(const Averages& a, const SpecFacts& facts, const std::string& out) {
  std::map<int, std::pair<double, int>> centres;  // label -> (sum of positions, count)
  const int n = static_cast<int>(facts.labels.size());
  for (int i = 0; i < n; ++i) {
    auto& c = centres[facts.labels[i]];
    c.first += i;
    ++c.second;
  }
  std::vector<std::pair<std::string, double>> tics;
  if (facts.has_labels) {
    for (const auto& [label, c] : centres)
      tics.emplace_back(absl::StrCat(label), c.first / c.second);
  }
  const double cb =
      std::max(a.measured.maxCoeff(), a.predicted.allFinite() ? a.predicted.maxCoeff() : 0);
  const Eigen::MatrixXd block = (a.target.array() > 0).cast<double>();
  const std::vector<HeatmapPanel> panels = {
      {a.initial, "step 0 (mean)", tics, NAN, false},
      {a.measured, absl::StrFormat("trained (mean of %d)", a.used), tics, cb, false},
      {a.predicted, "[FINAL] prediction (mean)", tics, cb, false},
      {block, "class blocks", tics, NAN, false}};
  return RenderHeatmaps(
      panels, 1, 4,
      absl::StrFormat("MNIST: hidden layer %d distances of %d training images sorted by label",
                      facts.layer, n),
      JoinPath(out, "mnist_structure"));
}

}  // namespace

absl::StatusOr<StructureResult> RunMnistStructure(const StructureOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(const PreparedSpec prepared, PrepareSpec(options));
  const Experiment& spec = prepared.spec;
  const int networks =
      options.seeds > 0 ? options.seeds : (options.smoke ? kSmokeNetworks : kDefaultNetworks);
  ASSIGN_OR_RETURN(const SpecFacts facts, Inspect(prepared));
  const int layer = facts.layer;
  const int n = static_cast<int>(facts.labels.size());

  const std::string out = Absolute(options.out_dir);
  const std::string summary_path = JoinPath(out, "summary.json");
  RETURN_IF_ERROR(MakeDirs(out));
  if (FileExists(summary_path)) std::remove(summary_path.c_str());
  ASSIGN_OR_RETURN(const Networks nets, WriteInitialisations(spec, facts, networks, out));
  const auto runs = RunExperiments(nets.specs, nets.dirs, options.threads, options.progress);
  const Averages a = Average(runs, nets, prepared.dm, layer, n);
  if (a.used == 0) return absl::InternalError(absl::StrJoin(a.problems, "\n"));
  const Eigen::MatrixXd block = (a.target.array() > 0).cast<double>();
  const Eigen::VectorXd block_ut = UpperTriangle(block);
  RETURN_IF_ERROR(WriteMatrixFiles(out, "mnist_structure_initial", a.initial));
  RETURN_IF_ERROR(WriteMatrixFiles(out, "mnist_structure_measured", a.measured));
  RETURN_IF_ERROR(WriteMatrixFiles(out, "mnist_structure_predicted", a.predicted));
  RETURN_IF_ERROR(WriteMatrixFiles(out, "mnist_structure_block", block));
  if (options.figures && GnuplotAvailable()) {
    if (const absl::Status s = RenderMnistFigure(a, facts, out); !s.ok()) {
      std::fprintf(stderr, "mnist_structure: figure not drawn: %s\n",
                   std::string(s.message()).c_str());
    }
  }

  StructureResult result;
  Json summary;
  summary["experiment"] = "mnist_structure";
  summary["smoke"] = options.smoke;
  summary["layer"] = layer;
  summary["examples"] = n;
  summary["networks"] = networks;
  summary["networks_used"] = a.used;
  summary["epochs"] = spec.training().epochs();
  auto figure = [&](const std::string& key, double value) {
    summary[key] = JsonNumber(value);
    result.key_figures.emplace_back(key, value);
  };
  figure("pearson_r_block", Pearson(UpperTriangle(a.measured), block_ut));
  figure("pearson_r_final", Pearson(UpperTriangle(a.measured), UpperTriangle(a.predicted)));
  figure("pearson_r_block_initial", Pearson(UpperTriangle(a.initial), block_ut));
  figure("pearson_r_block_input", Pearson(UpperTriangle(a.input), block_ut));
  figure("mean_within_class", MeanOver(a.measured, a.target, true));
  figure("mean_between_class", MeanOver(a.measured, a.target, false));
  double acc = 0;
  for (double v : a.accuracy_each) acc += v;
  figure("test_accuracy_mean", a.accuracy_each.empty() ? NAN : acc / a.accuracy_each.size());
  summary["init_seeds"] = absl::StrJoin(nets.seeds, ",");
  summary["pearson_r_block_each"] = JsonNumbers(a.r_block_each);
  summary["test_accuracy_each"] = JsonNumbers(a.accuracy_each);
  summary["eta_h_over_eta_y_each"] = JsonNumbers(a.ratio_each);
  result.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  summary["wall_seconds"] = JsonNumber(result.wall_seconds);
  if (!a.problems.empty()) summary["errors"] = absl::StrJoin(a.problems, "; ");
  RETURN_IF_ERROR(WriteJsonFile(summary_path, summary));
  if (!a.problems.empty()) return absl::InternalError(absl::StrJoin(a.problems, "\n"));
  return result;
}

}  // namespace replearn
