#include "experiments/paper/mnist_structure_experiment.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "architectures/architecture.h"
#include "core/file_util.h"
#include "core/npy.h"
#include "core/rng.h"
#include "core/status_macros.h"
#include "experiments/figures.h"
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

// What the experiment needs from the validated spec, so that the dataset BuildTrial loads is
// not kept while the networks train.
struct SpecFacts {
  int input_dim = 0, output_dim = 0;
  int layer = 0;            // the distance_matrix probe's (first) layer
  std::vector<int> labels;  // per probe example (all 0 without class labels)
  bool has_labels = false;
};

absl::StatusOr<SpecFacts> Inspect(const Experiment& spec, const DistanceMatrixProbeSpec& dm,
                                  const std::string& path) {
  auto trial = BuildTrial(spec);
  if (!trial.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", trial.status().message()));
  }
  SpecFacts facts;
  facts.input_dim = trial->data->input_dim();
  facts.output_dim = trial->data->output_dim();
  facts.layer = dm.layers_size() > 0 ? dm.layers(0) : trial->net->num_hidden() / 2;
  ASSIGN_OR_RETURN(const ProbeSet set,
                   ResolveProbeSet(dm.examples(), *trial->data, "probe.distance_matrix.examples"));
  facts.has_labels = !set.labels.empty();
  facts.labels = facts.has_labels ? set.labels : std::vector<int>(set.size(), 0);
  return facts;
}

}  // namespace

absl::StatusOr<StructureResult> RunMnistStructure(const StructureOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const std::string path =
      options.specs.empty() ? "experiments/paper/specs/mnist_structure.pbtxt" : options.specs;
  ASSIGN_OR_RETURN(Experiment spec, LoadSpecWithOverrides(path, options.sets));
  DistanceMatrixProbeSpec* dm = nullptr;
  TwoPointProbeSpec* two_point = nullptr;
  for (ProbeSpec& probe : *spec.mutable_probe()) {
    if (probe.has_distance_matrix()) dm = probe.mutable_distance_matrix();
    if (probe.has_two_point()) two_point = probe.mutable_two_point();
  }
  if (dm == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": no distance_matrix probe; the experiment averages its matrices"));
  }
  if (!spec.architecture().init_npz().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": architecture.init_npz = ", spec.architecture().init_npz(),
        "; the experiment draws each network's initialisation itself, leave it empty"));
  }
  if (options.smoke) {
    if (spec.architecture().has_mlp()) {
      spec.mutable_architecture()->mutable_mlp()->set_width(kSmokeWidth);
    }
    spec.mutable_training()->set_epochs(1);
    if (spec.dataset().has_mnist()) {
      spec.mutable_dataset()->mutable_mnist()->set_max_train(kSmokeTrain);
      spec.mutable_dataset()->mutable_mnist()->set_max_test(kSmokeTest);
    }
    if (two_point != nullptr) two_point->set_every(1);
  }
  const int networks =
      options.seeds > 0 ? options.seeds : (options.smoke ? kSmokeNetworks : kDefaultNetworks);
  ASSIGN_OR_RETURN(const SpecFacts facts, Inspect(spec, *dm, path));
  const int layer = facts.layer;

  const std::string out = Absolute(options.out_dir);
  const std::string summary_path = JoinPath(out, "summary.json");
  RETURN_IF_ERROR(MakeDirs(JoinPath(out, "init")));
  if (FileExists(summary_path)) std::remove(summary_path.c_str());
  std::vector<Experiment> specs;
  std::vector<std::string> dirs;
  std::vector<uint64_t> seeds;
  for (int k = 0; k < networks; ++k) {
    const uint64_t seed =
        k == 0 ? spec.training().seed() : Rng::DeriveSeed(spec.training().seed(), k);
    BuildContext ctx;
    ctx.input_dim = facts.input_dim;
    ctx.output_dim = facts.output_dim;
    ctx.seed = seed;
    ASSIGN_OR_RETURN(std::unique_ptr<Architecture> net,
                     CreateArchitecture(spec.architecture(), ctx));
    NpzMembers members;
    for (const Parameter& p : net->parameters()) {
      members.emplace_back(p.name,
                           NpyArray::Float32(p.shape, {p.data, static_cast<size_t>(p.size())}));
    }
    const std::string init = JoinPath(out, absl::StrCat("init/seed_", k, ".npz"));
    RETURN_IF_ERROR(WriteNpz(init, members));
    Experiment s = spec;
    s.set_name(absl::StrCat("mnist_structure/seed_", k));
    s.mutable_architecture()->set_init_npz(init);
    specs.push_back(std::move(s));
    dirs.push_back(JoinPath(out, absl::StrCat("seed_", k)));
    seeds.push_back(seed);
  }
  const auto runs = RunExperiments(specs, dirs, options.threads, options.progress);
  const std::string name = absl::StrCat(layer);
  const int n = static_cast<int>(facts.labels.size());
  Eigen::MatrixXd initial = Eigen::MatrixXd::Zero(n, n), measured = initial, predicted = initial;
  Eigen::MatrixXd target, input;
  std::vector<double> r_block_each, accuracy_each, ratio_each;
  std::vector<std::string> problems;
  int used = 0, predicted_count = 0;
  for (int k = 0; k < networks; ++k) {
    auto read = [&](const std::string& stem) {
      return ReadMatrixNpy(JoinPath(dirs[k], stem + ".npy"));
    };
    const absl::Status status = [&]() -> absl::Status {
      if (!runs[k].ok()) return runs[k].status();
      const RunSummary& s = *runs[k];
      if (s.status != "finished") {
        return absl::FailedPreconditionError(absl::StrCat("run ", s.status, " at step ", s.steps));
      }
      ASSIGN_OR_RETURN(const Eigen::MatrixXd d0, read(DistanceMatrixStem(name, 0)));
      ASSIGN_OR_RETURN(const Eigen::MatrixXd d, read(DistanceMatrixStem(name, s.steps)));
      if (target.size() == 0) {
        ASSIGN_OR_RETURN(target, read("distance_matrix_target"));
        ASSIGN_OR_RETURN(input, read("distance_matrix_input"));
      }
      initial += d0;
      measured += d;
      ++used;
      Eigen::MatrixXd block = (target.array() > 0).cast<double>();
      r_block_each.push_back(Pearson(UpperTriangle(d), UpperTriangle(block)));
      accuracy_each.push_back(s.test_accuracy);
      double ratio = dm->eta_ratio();
      if (ratio <= 0 && s.fitted) ratio = s.eta_h / s.eta_y;
      ratio_each.push_back(ratio > 0 ? ratio : NAN);
      if (ratio > 0) {
        ASSIGN_OR_RETURN(const Eigen::MatrixXd p, dm->eta_ratio() > 0
                                                      ? read(PredictedDistanceMatrixStem(name))
                                                      : PredictFinalFromRun(dirs[k], layer, ratio));
        predicted += p;
        ++predicted_count;
      }
      return absl::OkStatus();
    }();
    if (!status.ok()) problems.push_back(absl::StrCat("seed_", k, ": ", status.message()));
  }
  if (used == 0) return absl::InternalError(absl::StrJoin(problems, "\n"));
  initial /= used;
  measured /= used;
  if (predicted_count > 0) {
    predicted /= predicted_count;
  } else {
    predicted.setConstant(NAN);
  }
  const Eigen::MatrixXd block = (target.array() > 0).cast<double>();
  const Eigen::VectorXd block_ut = UpperTriangle(block);
  RETURN_IF_ERROR(WriteMatrixFiles(out, "mnist_structure_initial", initial));
  RETURN_IF_ERROR(WriteMatrixFiles(out, "mnist_structure_measured", measured));
  RETURN_IF_ERROR(WriteMatrixFiles(out, "mnist_structure_predicted", predicted));
  RETURN_IF_ERROR(WriteMatrixFiles(out, "mnist_structure_block", block));

  if (options.figures && GnuplotAvailable()) {
    std::map<int, std::pair<double, int>> centres;  // label -> (sum of positions, count)
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
        std::max(measured.maxCoeff(), predicted.allFinite() ? predicted.maxCoeff() : 0);
    const std::vector<HeatmapPanel> panels = {
        {JoinPath(out, "mnist_structure_initial.csv"), "step 0 (mean)", tics, NAN, false},
        {JoinPath(out, "mnist_structure_measured.csv"),
         absl::StrFormat("trained (mean of %d)", used), tics, cb, false},
        {JoinPath(out, "mnist_structure_predicted.csv"), "[FINAL] prediction (mean)", tics, cb,
         false},
        {JoinPath(out, "mnist_structure_block.csv"), "class blocks", tics, NAN, false}};
    if (const absl::Status s = RenderHeatmaps(
            panels, 1, 4,
            absl::StrFormat("MNIST: hidden layer %d distances of %d training images sorted by "
                            "label",
                            layer, n),
            JoinPath(out, "mnist_structure"));
        !s.ok()) {
      std::fprintf(stderr, "mnist_structure: figure not drawn: %s\n",
                   std::string(s.message()).c_str());
    }
  }

  StructureResult result;
  JsonObject summary;
  summary.String("experiment", "mnist_structure")
      .Bool("smoke", options.smoke)
      .Integer("layer", layer)
      .Integer("examples", n)
      .Integer("networks", networks)
      .Integer("networks_used", used)
      .Integer("epochs", spec.training().epochs());
  auto figure = [&](const std::string& key, double value) {
    summary.Number(key, value);
    result.key_figures.emplace_back(key, value);
  };
  figure("pearson_r_block", Pearson(UpperTriangle(measured), block_ut));
  figure("pearson_r_final", Pearson(UpperTriangle(measured), UpperTriangle(predicted)));
  figure("pearson_r_block_initial", Pearson(UpperTriangle(initial), block_ut));
  figure("pearson_r_block_input", Pearson(UpperTriangle(input), block_ut));
  figure("mean_within_class", MeanOver(measured, target, true));
  figure("mean_between_class", MeanOver(measured, target, false));
  double acc = 0;
  for (double a : accuracy_each) acc += a;
  figure("test_accuracy_mean", accuracy_each.empty() ? NAN : acc / accuracy_each.size());
  summary.String("init_seeds", absl::StrJoin(seeds, ","))
      .Numbers("pearson_r_block_each", r_block_each)
      .Numbers("test_accuracy_each", accuracy_each)
      .Numbers("eta_h_over_eta_y_each", ratio_each);
  result.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  summary.Number("wall_seconds", result.wall_seconds);
  if (!problems.empty()) summary.String("errors", absl::StrJoin(problems, "; "));
  RETURN_IF_ERROR(WriteFileAtomically(summary_path, summary.ToString() + "\n"));
  if (!problems.empty()) return absl::InternalError(absl::StrJoin(problems, "\n"));
  return result;
}

}  // namespace replearn
