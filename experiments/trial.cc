#include "experiments/trial.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <new>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/dnnl.h"
#include "core/file_util.h"
#include "core/memory.h"
#include "core/npy.h"
#include "core/progress.h"
#include "core/rng.h"
#include "core/status_macros.h"

namespace replearn {
namespace {

// Overwrites the network's parameters with those of architecture.init_npz, or appends every
// problem (missing, unexpected, misshapen or non-float keys) to `problems` and leaves the
// network as built.
void LoadInitialParameters(const std::string& path, Architecture& net,
                           std::vector<std::string>& problems) {
  const std::string where = absl::StrCat("architecture.init_npz = ", path);
  // Caps from the network's own sizes, so a huge or hostile file costs no memory: a member
  // may hold its parameter as float64 plus a generous .npy header; other members (reported
  // as unexpected below) only a little; the archive at most about their sum.
  constexpr uint64_t kNpyHeaderBytes = 1 << 16;
  NpzReadLimits limits;
  limits.other_max_bytes = 1 << 20;
  uint64_t total = limits.other_max_bytes;
  for (const Parameter& p : net.parameters()) {
    uint64_t count = 1;
    for (const int64_t d : p.shape) count *= static_cast<uint64_t>(d);
    limits.max_bytes[p.name] = 8 * count + kNpyHeaderBytes;
    total += limits.max_bytes[p.name] + 1024;  // + zip headers
  }
  const auto bytes = ReadFile(path, total + total / 64);  // deflate may grow data slightly
  if (!bytes.ok()) {
    problems.push_back(absl::StrCat(where, ": ", bytes.status().message(),
                                    path[0] == '/'
                                        ? ""
                                        : " (a relative path is looked for in the working "
                                          "directory, then in the spec file's folder)"));
    return;
  }
  const auto members = ParseNpzMembers(*bytes, where, &limits);
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
      std::vector<float> v = array->ToFloats();
      const auto bad = std::find_if(v.begin(), v.end(), [](float x) { return !std::isfinite(x); });
      if (bad != v.end()) {
        problems.push_back(absl::StrCat(where, ": key ", p.name, " holds a non-finite value (",
                                        *bad, " at flat index ", bad - v.begin(),
                                        "; every value must be finite in float32)"));
      } else {
        values.push_back(std::move(v));
      }
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

// Every double or float field under architecture, dataset and training must be finite and
// fit in float32 (the network computes in float32; a larger value would overflow to inf
// and the run would "diverge" for a reason that is not the learning dynamics).
// Top-level fields named in `skip` have checks of their own.
void CheckFloat32Range(const google::protobuf::Message& msg, const std::string& prefix,
                       std::vector<std::string>& problems,
                       const std::vector<std::string>& skip = {}) {
  using google::protobuf::FieldDescriptor;
  const auto* r = msg.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(msg, &fields);
  for (const FieldDescriptor* f : fields) {
    if (std::find(skip.begin(), skip.end(), f->name()) != skip.end()) continue;
    const std::string name = absl::StrCat(prefix, ".", f->name());
    const int count = f->is_repeated() ? r->FieldSize(msg, f) : 1;
    for (int i = 0; i < count; ++i) {
      const std::string where = f->is_repeated() ? absl::StrCat(name, "[", i, "]") : name;
      double v = 0;
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
        CheckFloat32Range(
            f->is_repeated() ? r->GetRepeatedMessage(msg, f, i) : r->GetMessage(msg, f), where,
            problems);
        continue;
      } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_DOUBLE) {
        v = f->is_repeated() ? r->GetRepeatedDouble(msg, f, i) : r->GetDouble(msg, f);
      } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_FLOAT) {
        v = f->is_repeated() ? r->GetRepeatedFloat(msg, f, i) : r->GetFloat(msg, f);
      } else {
        continue;
      }
      if (!std::isfinite(v) || std::abs(v) > std::numeric_limits<float>::max()) {
        problems.push_back(absl::StrCat(where, " = ", v, "; must be finite and at most ",
                                        std::numeric_limits<float>::max(),
                                        " in magnitude (the network computes in float32)"));
      }
    }
  }
}

}  // namespace

absl::StatusOr<Trial> BuildTrial(const Experiment& spec) {
  Trial trial;
  trial.spec = spec;
  std::vector<std::string> problems;
  auto note = [&](const absl::Status& s) {
    if (!s.ok()) problems.emplace_back(s.message());
  };

  const TrainingSpec& t = spec.training();
  constexpr double kFloatMax = std::numeric_limits<float>::max();
  if (!(t.learning_rate() > 0) || !(t.learning_rate() <= kFloatMax)) {
    problems.push_back(absl::StrCat("training.learning_rate = ", t.learning_rate(),
                                    "; must be > 0 and at most ", kFloatMax, " (float32)"));
  }
  if (t.steps() < 0) {
    problems.push_back(absl::StrCat("training.steps = ", t.steps(), "; must be >= 0"));
  }
  if (!(t.stop_loss() >= 0) || !(t.stop_loss() <= kFloatMax)) {
    problems.push_back(absl::StrCat("training.stop_loss = ", t.stop_loss(),
                                    "; must be finite and >= 0 (0 = never stop early)"));
  }
  CheckFloat32Range(spec.architecture(), "architecture", problems);
  CheckFloat32Range(spec.dataset(), "dataset", problems);
  CheckFloat32Range(t, "training", problems, {"learning_rate", "stop_loss"});
  if (t.batch_size() < 0) {
    problems.push_back(
        absl::StrCat("training.batch_size = ", t.batch_size(), "; must be >= 0 (0 = full batch)"));
  }
  if (t.epochs() < 0) {
    problems.push_back(absl::StrCat("training.epochs = ", t.epochs(), "; must be >= 0"));
  }
  if (t.epochs() > 0 && t.has_steps()) {
    problems.push_back(absl::StrCat("training.epochs = ", t.epochs(), " and training.steps = ",
                                    t.steps(), " are both set; set one of them"));
  }
  if (t.eval_every_epochs() < 0) {
    problems.push_back(absl::StrCat("training.eval_every_epochs = ", t.eval_every_epochs(),
                                    "; must be >= 0 (0 = never)"));
  }
  if (t.threads() < 0 || t.threads() > kMaxTrainingThreads) {
    problems.push_back(absl::StrCat("training.threads = ", t.threads(), "; must be in 0..",
                                    kMaxTrainingThreads, " (0 = all cores)"));
  }
  note(CreateOptimizer(t).status());
  if (!spec.has_dataset()) problems.push_back("dataset: missing; the spec must set a dataset");
  if (!spec.has_architecture()) {
    problems.push_back("architecture: missing; the spec must set an architecture");
  }

  bool have_data = false;
  if (spec.has_dataset()) {
    absl::StatusOr<Dataset> data = absl::UnknownError("");
    try {
      data = CreateDataset(spec.dataset(), DatasetContext{t.seed()});
    } catch (const std::bad_alloc& e) {
      data = absl::ResourceExhaustedError(
          absl::StrCat("dataset: building it ", e.what(), "; reduce its size"));
    }
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
    absl::StatusOr<std::unique_ptr<Architecture>> net = absl::UnknownError("");
    try {
      net = CreateArchitecture(spec.architecture(), ctx);
    } catch (const std::bad_alloc& e) {
      net = absl::ResourceExhaustedError(absl::StrCat("architecture: building the network ",
                                                      e.what(), "; reduce its width or depth"));
    }
    note(net.status());
    if (net.ok()) {
      trial.net = *std::move(net);
      if (trial.net->input_dim() != trial.data->input_dim() ||
          trial.net->output_dim() != trial.data->output_dim()) {
        problems.push_back(absl::StrCat("architecture: input/output dims ", trial.net->input_dim(),
                                        "/", trial.net->output_dim(),
                                        " do not match the dataset's ", trial.data->input_dim(),
                                        "/", trial.data->output_dim()));
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
    int two_point_probes = 0;
    for (int i = 0; i < spec.probe_size(); ++i) {
      if (spec.probe(i).has_two_point() && ++two_point_probes == 2) {
        problems.push_back(
            absl::StrCat("probe.", i,
                         ".two_point: a second two_point probe; a run records one pair of "
                         "examples (list every layer in one probe's `layers`)"));
      }
    }
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
    const auto& fit_layers = spec.theory().layers();
    for (int i = 0; i < fit_layers.size(); ++i) {
      const int layer = fit_layers[i];
      if (std::find(fit_layers.begin(), fit_layers.begin() + i, layer) != fit_layers.begin() + i) {
        problems.push_back(absl::StrCat("theory.layers: layer ", layer, " is listed twice"));
      }
      if (trial.net != nullptr && (layer < 0 || layer >= trial.net->num_hidden())) {
        problems.push_back(absl::StrCat("theory.layers: layer ", layer,
                                        " does not exist; the network has hidden layers 0..",
                                        trial.net->num_hidden() - 1));
      }
    }
  }
  // The curves of a run are held in memory until it ends (the fit reads them): refuse a run
  // whose two-point curves could not fit, before it trains for days and then dies.
  if (trial.net != nullptr && t.epochs() == 0) {
    for (const ProbeSpec& p : spec.probe()) {
      if (!p.has_two_point()) continue;
      const int every = std::max(1, p.two_point().every());
      const int layers =
          p.two_point().layers_size() > 0 ? p.two_point().layers_size() : trial.net->num_hidden();
      const double bytes = (static_cast<double>(t.steps()) / every + 2) * (layers + 4) *
                           sizeof(CurveLog::Row) * 2;  // x2: vector growth and the fit's copy
      const double available = static_cast<double>(AvailableMemoryBytes());
      if (bytes > available) {
        problems.push_back(absl::StrFormat(
            "training.steps = %d with probe.two_point.every = %d keeps about %.4g bytes (%s) "
            "of curves in memory, more than the %.4g bytes (%s) available; record less often "
            "(probe.two_point.every) or train fewer steps",
            t.steps(), every, bytes, HumanBytes(static_cast<uint64_t>(std::min(bytes, 1.8e19))),
            available, HumanBytes(static_cast<uint64_t>(available))));
      }
    }
  }
  if (!problems.empty()) return absl::InvalidArgumentError(absl::StrJoin(problems, "\n"));
  return trial;
}

namespace {

// Rng stream of the per-epoch shuffles (initialisations use small streams, dropout 2^32).
constexpr uint64_t kShuffleStream = uint64_t{3} << 32;

// 1/2 mean over rows of ||yhat - y||^2 (summed over output units); when d_output is not
// null also dL/dyhat = (yhat - y) / rows.
double MseLoss(const float* yhat, const float* y, int rows, int out, float* d_output) {
  double loss = 0;
  const int64_t count = int64_t{rows} * out;
  for (int64_t i = 0; i < count; ++i) {
    const float r = yhat[i] - y[i];
    loss += static_cast<double>(r) * r;
    if (d_output != nullptr) d_output[i] = r / static_cast<float>(rows);
  }
  return loss * 0.5 / rows;
}

struct EvalResult {
  double loss = 0;
  double accuracy = std::numeric_limits<double>::quiet_NaN();  // NaN without labels
};

// Eval-mode loss (and accuracy when labels are given) over all rows of (x, y), in chunks of
// `chunk` rows so the network's buffers keep the training batch size.
absl::StatusOr<EvalResult> Evaluate(Architecture& net, const MatrixRM& x, const MatrixRM& y,
                                    const std::vector<int>& labels, int chunk) {
  const int n = static_cast<int>(x.rows());
  const int out = static_cast<int>(y.cols());
  EvalResult result;
  double loss_sum = 0;
  int64_t correct = 0;
  for (int begin = 0; begin < n; begin += chunk) {
    const int rows = std::min(chunk, n - begin);
    RETURN_IF_ERROR(net.Forward(x.row(begin).data(), rows, /*train=*/false));
    const float* yhat = net.output();
    loss_sum += MseLoss(yhat, y.row(begin).data(), rows, out, nullptr) * rows;
    if (!labels.empty()) {
      for (int r = 0; r < rows; ++r) {
        const float* row = yhat + int64_t{r} * out;
        correct += std::max_element(row, row + out) - row == labels[begin + r];
      }
    }
  }
  result.loss = loss_sum / n;
  if (!labels.empty()) result.accuracy = static_cast<double>(correct) / n;
  return result;
}

}  // namespace

int64_t TrainingSteps(const TrainingSpec& t, int num_examples) {
  if (t.epochs() <= 0) return t.steps();
  const int batch = t.batch_size() > 0 ? std::min(t.batch_size(), num_examples) : num_examples;
  const int64_t per_epoch = (int64_t{num_examples} + batch - 1) / batch;
  return int64_t{t.epochs()} * per_epoch;
}

absl::StatusOr<TrainResult> Train(Trial& trial, const TrainOptions& options) {
  const TrainingSpec& t = trial.spec.training();
  SetDnnlThreads(t.threads() > 0 ? t.threads() : omp_get_num_procs());
  Architecture& net = *trial.net;
  const Dataset& data = *trial.data;
  const int n = data.size();
  const int in = data.input_dim();
  const int out = data.output_dim();
  const int batch = t.batch_size() > 0 ? std::min(t.batch_size(), n) : n;
  const bool minibatch = batch < n;
  const int64_t per_epoch = (int64_t{n} + batch - 1) / batch;
  const int64_t last_step = TrainingSteps(t, n);
  ASSIGN_OR_RETURN(std::unique_ptr<Optimizer> optimizer, CreateOptimizer(t));
  std::vector<float> d_output(static_cast<size_t>(batch) * out);
  // Minibatch rows are gathered here in the epoch's order; full batch trains on data.x.
  std::vector<int> order(n);
  for (int i = 0; i < n; ++i) order[i] = i;
  MatrixRM batch_x(minibatch ? batch : 0, in), batch_y(minibatch ? batch : 0, out);
  const bool evaluate = t.eval_every_epochs() > 0 && data.test_size() > 0;

  TrainResult result;
  TrainerProbeContext ctx(net);
  ctx.out_dir = options.out_dir;
  Progress progress(options.label.empty() ? trial.spec.name() : options.label, last_step, "step");
  double epoch_loss = 0;
  int64_t epoch_batches = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int64_t step = 0;; ++step) {
    const int64_t epoch = step / per_epoch;
    const bool epoch_start = step % per_epoch == 0;
    if (minibatch && epoch_start && step > 0 && epoch_batches > 0) {
      result.curves.Add(step, -1, "train_loss", epoch_loss / epoch_batches);
      epoch_loss = 0;
      epoch_batches = 0;
    }
    if (evaluate && epoch_start && (epoch % t.eval_every_epochs() == 0 || step == last_step)) {
      ctx.Invalidate();
      ASSIGN_OR_RETURN(const EvalResult e,
                       Evaluate(net, data.x_test, data.y_test, data.test_labels, batch));
      result.curves.Add(step, -1, "test_loss", e.loss);
      if (std::isfinite(e.accuracy)) result.curves.Add(step, -1, "test_accuracy", e.accuracy);
      result.test_loss = e.loss;
      result.test_accuracy = e.accuracy;
    }
    for (auto& probe : trial.probes) {
      if (probe->ObservesStep(step, last_step)) {
        RETURN_IF_ERROR(probe->Observe(step, ctx, result.curves));
      }
    }
    if (step == last_step && minibatch) {
      result.steps = step;
      result.status = RunSummaryProto::FINISHED;
      break;
    }
    const float* x = data.x.data();
    const float* y = data.y.data();
    int rows = n;
    if (minibatch) {
      if (epoch_start && t.shuffle()) {
        Rng rng(Rng::DeriveSeed(t.seed(), kShuffleStream + static_cast<uint64_t>(epoch)));
        for (int i = n - 1; i > 0; --i) std::swap(order[i], order[rng.UniformInt(i + 1)]);
      }
      const int64_t first = (step % per_epoch) * batch;
      rows = static_cast<int>(std::min<int64_t>(batch, n - first));
      for (int r = 0; r < rows; ++r) {
        batch_x.row(r) = data.x.row(order[first + r]);
        batch_y.row(r) = data.y.row(order[first + r]);
      }
      x = batch_x.data();
      y = batch_y.data();
    }
    if (!ctx.Holds(x, rows)) RETURN_IF_ERROR(net.Forward(x, rows, /*train=*/true));
    ctx.Invalidate();

    // L = 1/2 mean_i ||yhat_i - y_i||^2 (sum over output units); dL/dyhat_i = r_i / rows.
    const double loss = MseLoss(net.output(), y, rows, out, d_output.data());
    result.final_loss = loss;
    result.steps = step;
    if (!std::isfinite(loss)) {
      result.status = RunSummaryProto::DIVERGED;
      result.diverged_step = step;
      break;
    }
    if (t.stop_loss() > 0 && loss < t.stop_loss()) {
      result.status = RunSummaryProto::CONVERGED;
      break;
    }
    if (step == last_step) {
      result.status = RunSummaryProto::FINISHED;
      break;
    }
    RETURN_IF_ERROR(net.Backward(d_output.data(), *optimizer));
    epoch_loss += loss;
    ++epoch_batches;
    if (options.progress) {
      progress.Update(step + 1, minibatch ? absl::StrFormat("epoch %d  loss %.3e", epoch + 1, loss)
                                          : absl::StrFormat("loss %.3e", loss));
    }
  }
  if (result.status != RunSummaryProto::DIVERGED && (minibatch || net.has_train_only_behaviour())) {
    // Report the network itself on the whole training set, not one minibatch or one draw
    // of its dropout masks.
    ASSIGN_OR_RETURN(const EvalResult e, Evaluate(net, data.x, data.y, data.labels, batch));
    result.final_loss = e.loss;
    result.train_accuracy = e.accuracy;
  }
  result.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (options.progress) {
    progress.Finish(absl::StrFormat("%s after %d steps, loss %.3e",
                                    RunSummaryProto::Status_Name(result.status), result.steps,
                                    result.final_loss));
  }
  return result;
}

}  // namespace replearn
