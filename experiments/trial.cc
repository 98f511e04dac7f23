#include "experiments/trial.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/dnnl.h"
#include "core/file_util.h"
#include "core/npy.h"
#include "core/progress.h"
#include "core/status_macros.h"

namespace replearn {
namespace {

// Overwrites the network's parameters with those of architecture.init_npz, or appends every
// problem (missing, unexpected, misshapen or non-float keys) to `problems` and leaves the
// network as built.
void LoadInitialParameters(const std::string& path, Architecture& net,
                           std::vector<std::string>& problems) {
  const std::string where = absl::StrCat("architecture.init_npz = ", path);
  const auto bytes = ReadFile(path);
  if (!bytes.ok()) {
    problems.push_back(absl::StrCat(where, ": ", bytes.status().message(),
                                    path[0] == '/'
                                        ? ""
                                        : " (a relative path is looked for in the working "
                                          "directory, then in the spec file's folder)"));
    return;
  }
  const auto members = ParseNpzMembers(*bytes, where);
  if (!members.ok()) {
    problems.emplace_back(members.status().message());
    return;
  }
  const std::vector<Parameter> params = net.parameters();
  std::vector<std::string> names;
  std::vector<std::vector<float>> values;
  const size_t before = problems.size();
  for (const Parameter& p : params) {
    names.push_back(p.name);
    const std::string expected = ShapeString(p.shape);
    const auto it = members->find(p.name);
    if (it == members->end()) {
      problems.push_back(
          absl::StrCat(where, ": missing key ", p.name, "; expected shape ", expected));
      continue;
    }
    const auto array = ParseNpy(it->second, absl::StrCat(where, ": key ", p.name));
    if (!array.ok()) {
      problems.push_back(absl::StrCat(array.status().message(), " (", p.name,
                                      " must be float32 or float64 of shape ", expected, ")"));
    } else if (array->shape != p.shape) {
      problems.push_back(absl::StrCat(where, ": key ", p.name, " has shape ",
                                      ShapeString(array->shape), "; expected ", expected));
    } else {
      values.push_back(array->ToFloats());
    }
  }
  for (const auto& [name, npy] : *members) {
    if (std::find(names.begin(), names.end(), name) != names.end()) continue;
    const auto array = ParseNpy(npy, name);
    problems.push_back(
        absl::StrCat(where, ": unexpected key ", name,
                     array.ok() ? absl::StrCat(" (shape ", ShapeString(array->shape), ")") : "",
                     "; the network's parameters are ", absl::StrJoin(names, ", ")));
  }
  if (problems.size() != before) return;
  for (size_t i = 0; i < params.size(); ++i) {
    std::copy(values[i].begin(), values[i].end(), params[i].data);
  }
}

// Runs eval-mode forwards for probes and remembers what the network last computed, so
// the training step can reuse an identical forward.
class TrainerProbeContext final : public ProbeContext {
 public:
  explicit TrainerProbeContext(Architecture& net) : net_(net) {}
  absl::StatusOr<const Architecture*> EvalForward(const float* x, int batch) override {
    if (!(x == last_x_ && batch == last_batch_)) {
      RETURN_IF_ERROR(net_.Forward(x, batch, /*train=*/false));
      last_x_ = x;
      last_batch_ = batch;
    }
    return &net_;
  }
  // True when the last forward was an eval forward on exactly (x, batch) that training
  // may reuse (the architecture behaves the same in train mode).
  bool Holds(const float* x, int batch) const {
    return x == last_x_ && batch == last_batch_ && !net_.has_train_only_behaviour();
  }
  void Invalidate() { last_x_ = nullptr; }

 private:
  Architecture& net_;
  const float* last_x_ = nullptr;
  int last_batch_ = 0;
};

}  // namespace

absl::StatusOr<Trial> BuildTrial(const Experiment& spec) {
  Trial trial;
  trial.spec = spec;
  std::vector<std::string> problems;
  auto note = [&](const absl::Status& s) {
    if (!s.ok()) problems.emplace_back(s.message());
  };

  const TrainingSpec& t = spec.training();
  if (!(t.learning_rate() > 0) || !std::isfinite(t.learning_rate())) {
    problems.push_back(
        absl::StrCat("training.learning_rate = ", t.learning_rate(), "; must be > 0"));
  }
  if (t.steps() < 0) {
    problems.push_back(absl::StrCat("training.steps = ", t.steps(), "; must be >= 0"));
  }
  if (!(t.stop_loss() >= 0)) {
    problems.push_back(absl::StrCat("training.stop_loss = ", t.stop_loss(), "; must be >= 0"));
  }
  if (t.threads() < 0) {
    problems.push_back(
        absl::StrCat("training.threads = ", t.threads(), "; must be >= 0 (0 = all cores)"));
  }
  if (!spec.has_dataset()) problems.push_back("dataset: missing; the spec must set a dataset");
  if (!spec.has_architecture()) {
    problems.push_back("architecture: missing; the spec must set an architecture");
  }

  bool have_data = false;
  if (spec.has_dataset()) {
    auto data = CreateDataset(spec.dataset(), DatasetContext{t.seed()});
    note(data.status());
    if (data.ok()) {
      trial.data = std::make_unique<Dataset>(*std::move(data));
      have_data = true;
    }
  }
  if (spec.has_architecture() && have_data) {
    BuildContext ctx;
    ctx.input_dim = trial.data->input_dim();
    ctx.output_dim = trial.data->output_dim();
    ctx.seed = t.seed();
    auto net = CreateArchitecture(spec.architecture(), ctx);
    note(net.status());
    if (net.ok()) {
      trial.net = *std::move(net);
      if (trial.net->input_dim() != trial.data->input_dim() ||
          trial.net->output_dim() != trial.data->output_dim()) {
        problems.push_back(absl::StrCat(
            "architecture: input/output dims ", trial.net->input_dim(), "/",
            trial.net->output_dim(), " do not match the dataset's ", trial.data->input_dim(), "/",
            trial.data->output_dim()));
      } else if (!spec.architecture().init_npz().empty()) {
        LoadInitialParameters(spec.architecture().init_npz(), *trial.net, problems);
      }
    }
  }
  if (trial.net != nullptr) {
    const int tracked = spec.theory().tracked_layer();
    if (tracked < -1 || tracked >= trial.net->num_hidden()) {
      problems.push_back(absl::StrCat("theory.tracked_layer = ", tracked,
                                      "; must be -1 (middle layer) or in 0..",
                                      trial.net->num_hidden() - 1));
    }
    ProbeBuildContext pctx{trial.data.get(), trial.net.get()};
    for (const ProbeSpec& p : spec.probe()) {
      auto probe = CreateProbe(p, pctx);
      note(probe.status());
      if (probe.ok()) trial.probes.push_back(*std::move(probe));
    }
  }
  if (spec.theory().enabled()) {
    bool two_point = false;
    for (const ProbeSpec& p : spec.probe()) two_point |= p.has_two_point();
    if (!two_point) {
      problems.push_back(
          "theory.enabled = true but no probe records two-point curves; add "
          "probe { two_point {} } or set theory.enabled: false");
    }
    for (int layer : spec.theory().layers()) {
      if (trial.net != nullptr && (layer < 0 || layer >= trial.net->num_hidden())) {
        problems.push_back(absl::StrCat("theory.layers: layer ", layer,
                                        " does not exist; the network has hidden layers 0..",
                                        trial.net->num_hidden() - 1));
      }
    }
  }
  if (!problems.empty()) return absl::InvalidArgumentError(absl::StrJoin(problems, "\n"));
  return trial;
}

absl::StatusOr<TrainResult> Train(Trial& trial, const TrainOptions& options) {
  const TrainingSpec& t = trial.spec.training();
  SetDnnlThreads(t.threads() > 0 ? t.threads() : omp_get_num_procs());
  Architecture& net = *trial.net;
  const Dataset& data = *trial.data;
  const int n = data.size();
  const int out = data.output_dim();
  const float* x = data.x.data();
  const float lr = static_cast<float>(t.learning_rate());
  std::vector<float> d_output(static_cast<size_t>(n) * out);

  TrainResult result;
  TrainerProbeContext ctx(net);
  Progress progress(options.label.empty() ? trial.spec.name() : options.label, t.steps(), "step");
  const auto start = std::chrono::steady_clock::now();
  for (int64_t step = 0;; ++step) {
    for (auto& probe : trial.probes) {
      if (probe->ObservesStep(step, t.steps())) {
        RETURN_IF_ERROR(probe->Observe(step, ctx, result.curves));
      }
    }
    if (!ctx.Holds(x, n)) RETURN_IF_ERROR(net.Forward(x, n, /*train=*/true));
    ctx.Invalidate();

    // L = 1/2 mean_i ||yhat_i - y_i||^2 (sum over output units); dL/dyhat_i = r_i / n.
    const float* yhat = net.output();
    double loss = 0;
    for (int i = 0; i < n * out; ++i) {
      const float r = yhat[i] - data.y.data()[i];
      loss += static_cast<double>(r) * r;
      d_output[i] = r / static_cast<float>(n);
    }
    loss *= 0.5 / n;
    result.final_loss = loss;
    result.steps = step;
    if (!std::isfinite(loss)) {
      result.status = "diverged";
      result.diverged_step = step;
      break;
    }
    if (t.stop_loss() > 0 && loss < t.stop_loss()) {
      result.status = "converged";
      break;
    }
    if (step == t.steps()) {
      result.status = "finished";
      break;
    }
    RETURN_IF_ERROR(net.BackwardSgd(d_output.data(), lr));
    if (options.progress) progress.Update(step + 1, absl::StrFormat("loss %.3e", loss));
  }
  result.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (options.progress) {
    progress.Finish(absl::StrFormat("%s after %d steps, loss %.3e", result.status, result.steps,
                                    result.final_loss));
  }
  return result;
}

}  // namespace replearn
