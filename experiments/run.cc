#include "experiments/run.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <mutex>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "architectures/weights_io.h"
#include "core/file_util.h"
#include "core/npy.h"
#include "core/status_macros.h"
#include "core/thread_pool.h"
#include "experiments/analysis.h"
#include "experiments/figures.h"
#include "experiments/loader.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/json_util.h"
#include "metrics/two_point.h"

namespace replearn {
namespace {

namespace fs = std::filesystem;
using ::google::protobuf::FieldDescriptor;

constexpr char kSummaryFile[] = "summary.json";
constexpr char kSpecFile[] = "spec.pbtxt";
constexpr char kErrorFile[] = "error.txt";
constexpr char kAlternativePrefix[] = "normalised_loss_";

// The JSON mapping writes NaN and infinities as the strings "NaN" and "Infinity", which
// readers expecting numbers trip over; summary.json leaves them out instead.
void ClearNonFinite(RunSummaryProto& summary) {
  const auto* reflection = summary.GetReflection();
  const auto* descriptor = summary.GetDescriptor();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* field = descriptor->field(i);
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_DOUBLE &&
        reflection->HasField(summary, field) &&
        !std::isfinite(reflection->GetDouble(summary, field))) {
      reflection->ClearField(&summary, field);
    }
  }
}

// An optional double field as a plain value: NaN when absent.
double Value(const RunSummaryProto& summary, const FieldDescriptor* field) {
  return summary.GetReflection()->HasField(summary, field)
             ? summary.GetReflection()->GetDouble(summary, field)
             : std::nan("");
}

double OrNaN(bool has, double value) { return has ? value : std::nan(""); }

bool IsDirectory(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec);
}

// Regular files directly in `dir`, sorted.
absl::StatusOr<std::vector<std::string>> ListFiles(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code type_ec;
    if (it->is_regular_file(type_ec)) names.push_back(it->path().filename().string());
  }
  if (ec) return absl::InternalError(absl::StrCat("cannot list ", dir, ": ", ec.message()));
  std::sort(names.begin(), names.end());
  return names;
}

// Removes the files an interrupted or failed attempt left in a run folder. A path that is
// not a directory is left for RunExperiment to report.
absl::Status EmptyFolder(const std::string& dir) {
  if (!IsDirectory(dir)) return absl::OkStatus();
  ASSIGN_OR_RETURN(const std::vector<std::string> names, ListFiles(dir));
  for (const std::string& name : names) {
    const std::string path = JoinPath(dir, name);
    if (::unlink(path.c_str()) != 0) {
      return absl::InternalError(absl::StrCat("cannot remove ", path, " of an earlier attempt"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<RunSummary> RunJobOnce(const RunJob& job, int fit_threads, bool fresh_folder) {
  absl::StatusOr<RunSummary> summary = absl::UnknownError("not run");
  if (const absl::Status emptied = fresh_folder ? EmptyFolder(job.out_dir) : absl::OkStatus();
      !emptied.ok()) {
    summary = emptied;
  } else {
    RunOptions options;
    options.out_dir = job.out_dir;
    options.progress = false;
    options.fit_threads = fit_threads;
    summary = RunExperiment(*job.spec, options);
  }
  if (fresh_folder && !summary.ok() && IsDirectory(job.out_dir)) {
    // Best effort: a sweep also learns of the failure from the outcome.
    (void)WriteFileAtomically(JoinPath(job.out_dir, kErrorFile),
                              absl::StrCat(summary.status().message(), "\n"));
  }
  return summary;
}

}  // namespace

absl::string_view RunStatusName(RunStatus status) {
  const auto* value = RunSummaryProto::Status_descriptor()->FindValueByNumber(status);
  return value != nullptr ? absl::string_view(value->name()) : "unknown";
}

RunSummary MakeRunSummary(std::string out_dir, RunSummaryProto proto) {
  RunSummary s;
  s.out_dir = std::move(out_dir);
  s.status = std::string(RunStatusName(proto.status()));
  s.steps = proto.steps();
  s.final_loss = OrNaN(proto.has_final_loss(), proto.final_loss());
  s.test_loss = OrNaN(proto.has_test_loss(), proto.test_loss());
  s.test_accuracy = OrNaN(proto.has_test_accuracy(), proto.test_accuracy());
  s.train_accuracy = OrNaN(proto.has_train_accuracy(), proto.train_accuracy());
  s.diverged_step = proto.has_diverged_step() ? proto.diverged_step() : -1;
  s.wall_seconds = OrNaN(proto.has_wall_seconds(), proto.wall_seconds());
  s.train_seconds = OrNaN(proto.has_train_seconds(), proto.train_seconds());
  s.tracked_layer = proto.tracked_layer();
  s.h0 = OrNaN(proto.has_h0(), proto.h0());
  s.y0 = OrNaN(proto.has_y0(), proto.y0());
  s.w0 = OrNaN(proto.has_w0(), proto.w0());
  s.h_final = OrNaN(proto.has_h_final(), proto.h_final());
  s.fitted = proto.has_eta_h();
  s.eta_h = OrNaN(proto.has_eta_h(), proto.eta_h());
  s.eta_y = OrNaN(proto.has_eta_y(), proto.eta_y());
  s.eta_ybar = OrNaN(proto.has_eta_ybar(), proto.eta_ybar());
  s.normalised_loss = OrNaN(proto.has_normalised_loss(), proto.normalised_loss());
  s.r2_h = OrNaN(proto.has_r2_h(), proto.r2_h());
  s.r2_y = OrNaN(proto.has_r2_y(), proto.r2_y());
  s.r2_w = OrNaN(proto.has_r2_w(), proto.r2_w());
  s.r2_loss = OrNaN(proto.has_r2_loss(), proto.r2_loss());
  s.h_final_predicted = OrNaN(proto.has_h_final_predicted(), proto.h_final_predicted());
  s.alternative_losses = AlternativeLosses(proto);
  s.proto = std::move(proto);
  return s;
}

std::vector<std::pair<std::string, double>> AlternativeLosses(const RunSummaryProto& summary) {
  std::vector<std::pair<std::string, double>> losses;
  const auto* descriptor = summary.GetDescriptor();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    absl::string_view variant = descriptor->field(i)->name();
    if (absl::ConsumePrefix(&variant, kAlternativePrefix) &&
        summary.GetReflection()->HasField(summary, descriptor->field(i))) {
      losses.emplace_back(std::string(variant), Value(summary, descriptor->field(i)));
    }
  }
  return losses;
}

std::string RunSummaryJson(const RunSummaryProto& summary) {
  RunSummaryProto finite = summary;
  ClearNonFinite(finite);
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  std::string json;
  // Printing a generated message fails only for a broken descriptor pool.
  (void)google::protobuf::util::MessageToJsonString(finite, &json, options);
  if (json.empty() || json.back() != '\n') json.push_back('\n');
  return json;
}

absl::StatusOr<RunSummaryProto> ParseRunSummaryJson(absl::string_view text,
                                                    absl::string_view source) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  RunSummaryProto summary;
  const auto status =
      google::protobuf::util::JsonStringToMessage(std::string(text), &summary, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": ", status.message().ToString(),
                     "; expected summary.json as replearn writes it"));
  }
  if (summary.status() == RunSummaryProto::STATUS_UNSPECIFIED) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": no \"status\" (finished, converged or diverged)"));
  }
  return summary;
}

absl::StatusOr<RunSummary> ReadRunSummary(const std::string& dir) {
  const std::string path = JoinPath(dir, kSummaryFile);
  ASSIGN_OR_RETURN(const std::string text, ReadFile(path));
  ASSIGN_OR_RETURN(RunSummaryProto summary, ParseRunSummaryJson(text, path));
  return MakeRunSummary(dir, std::move(summary));
}

absl::StatusOr<RunSummary> ReadCompletedRun(const std::string& dir, const Experiment& spec) {
  ASSIGN_OR_RETURN(RunSummary summary, ReadRunSummary(dir));
  const absl::StatusOr<std::string> text = ReadFile(JoinPath(dir, kSpecFile));
  if (!text.ok() || *text != ExperimentToText(spec)) {
    return absl::FailedPreconditionError(
        absl::StrCat(dir, ": completed, but its spec.pbtxt is not this run's spec"));
  }
  return summary;
}

absl::Status CopyRunFolder(const std::string& from, const std::string& to) {
  RETURN_IF_ERROR(MakeDirs(to));
  ASSIGN_OR_RETURN(std::vector<std::string> names, ListFiles(from));
  std::stable_partition(names.begin(), names.end(),
                        [](const std::string& n) { return n != kSummaryFile; });
  for (const std::string& name : names) {
    if (absl::StrContains(name, ".tmp")) continue;  // "<name>.tmp.<pid>", "<name>.tmp"
    ASSIGN_OR_RETURN(const std::string contents, ReadFile(JoinPath(from, name)));
    RETURN_IF_ERROR(WriteFileAtomically(JoinPath(to, name), contents));
  }
  return absl::OkStatus();
}

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

absl::StatusOr<RunSummary> RunExperiment(const Experiment& spec, const RunOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(Trial trial, BuildTrial(spec));
  if (const int64_t steps = TrainingSteps(spec.training(), trial.data->size()); steps > INT_MAX) {
    return absl::InvalidArgumentError(absl::StrCat(
        "training: ", steps, " steps; summary.json counts at most ", INT_MAX, " (int32)"));
  }
  RETURN_IF_ERROR(MakeDirs(options.out_dir));
  // A rerun into the same folder must not leave an old summary claiming completion.
  const std::string summary_path = JoinPath(options.out_dir, kSummaryFile);
  if (FileExists(summary_path)) std::remove(summary_path.c_str());
  RETURN_IF_ERROR(
      WriteFileAtomically(JoinPath(options.out_dir, kSpecFile), ExperimentToText(spec)));

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

  RunSummaryProto s;
  s.set_name(spec.name());
  s.set_status(result.status);
  s.set_steps(static_cast<int32_t>(result.steps));
  s.set_final_loss(result.final_loss);
  s.set_seed(spec.training().seed());
  if (result.diverged_step >= 0) s.set_diverged_step(static_cast<int32_t>(result.diverged_step));
  const int tracked_layer = TrackedLayer(spec, trial.net->num_hidden());
  s.set_tracked_layer(tracked_layer);
  s.set_h0(result.curves.First("h", tracked_layer));
  s.set_y0(result.curves.First("y"));
  s.set_w0(result.curves.First("w"));
  s.set_test_loss(result.test_loss);
  s.set_test_accuracy(result.test_accuracy);
  s.set_train_accuracy(result.train_accuracy);
  s.set_h_final(result.curves.Last("h", tracked_layer));
  s.set_train_seconds(result.wall_seconds);
  // Build and training; the fit and the figures below are not counted.
  s.set_wall_seconds(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  if (spec.theory().enabled() && result.status != RunSummaryProto::DIVERGED) {
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
    a.tracked_layer = tracked_layer;
    a.alternatives = spec.theory().alternatives();
    a.threads = options.fit_threads;
    ASSIGN_OR_RETURN(const Analysis analysis, AnalyseCurves(a));
    const FitResult& f = analysis.tracked();
    s.set_eta_h(f.eta_h);
    s.set_eta_y(f.eta_y);
    s.set_eta_ybar(f.eta_ybar);
    s.set_normalised_loss(f.normalised_loss);
    s.set_r2_h(f.r2_h);
    s.set_r2_y(f.r2_y);
    s.set_r2_w(f.r2_w);
    s.set_r2_loss(f.r2_loss);
    s.set_h_final_predicted(f.h_final_predicted);
    for (const auto& [variant, loss] : analysis.alternative_losses) {
      const FieldDescriptor* field =
          s.GetDescriptor()->FindFieldByName(absl::StrCat(kAlternativePrefix, variant));
      if (field == nullptr) {
        return absl::InternalError(absl::StrCat("proto/summary.proto has no field ",
                                                kAlternativePrefix, variant,
                                                " for the alternative dynamics ", variant));
      }
      s.GetReflection()->SetDouble(&s, field, loss);
    }
  }
  if (spec.output().figures()) {
    if (!GnuplotAvailable()) {
      std::fprintf(stderr,
                   "replearn: gnuplot not found; no figures (tools/setup.sh installs it)\n");
    } else if (const absl::Status fig =
                   RenderFigures(options.out_dir, JoinPath(options.out_dir, "curves.csv"),
                                 tracked_layer, spec.name());
               !fig.ok()) {
      std::fprintf(stderr, "replearn: figures not drawn: %s\n", std::string(fig.message()).c_str());
    }
  }
  // What the file holds is what the caller gets, so a resumed run reads back the same summary.
  ClearNonFinite(s);
  RETURN_IF_ERROR(WriteFileAtomically(summary_path, RunSummaryJson(s)));
  return MakeRunSummary(options.out_dir, std::move(s));
}

std::vector<RunOutcome> RunAll(const std::vector<RunJob>& jobs, const RunnerOptions& options) {
  const int n = static_cast<int>(jobs.size());
  std::vector<RunOutcome> outcomes(jobs.size());
  const auto start = std::chrono::steady_clock::now();
  int ended = 0;
  auto report = [&](int index) {
    if (!options.progress) return;
    RunnerProgress p;
    p.total = n;
    p.ended = ended;
    p.index = index;
    p.outcome = index >= 0 ? &outcomes[index] : nullptr;
    p.elapsed_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    options.progress(p);
  };

  std::vector<int> todo;
  for (int k = 0; k < n; ++k) {
    if (options.resume) {
      absl::StatusOr<RunSummary> done = ReadCompletedRun(jobs[k].out_dir, *jobs[k].spec);
      if (done.ok()) {
        outcomes[k].summary = std::move(done);
        outcomes[k].reused = true;
        ++ended;
        report(k);
        continue;
      }
    }
    todo.push_back(k);
  }
  if (todo.empty()) return outcomes;

  const int threads = std::min(ResolveThreads(options.threads), static_cast<int>(todo.size()));
  const int fit_threads = threads > 1 ? 1 : 0;  // runs already fill the cores
  std::mutex mu;
  std::condition_variable ended_cv;
  std::deque<int> unreported;  // guarded by mu
  ThreadPool pool(threads);
  for (int k : todo) {
    pool.Schedule([&, k] {
      absl::StatusOr<RunSummary> summary = RunJobOnce(jobs[k], fit_threads, options.fresh_folders);
      std::lock_guard<std::mutex> lock(mu);
      outcomes[k].summary = std::move(summary);
      unreported.push_back(k);
      ended_cv.notify_one();
    });
  }
  for (size_t reported = 0; reported < todo.size();) {
    std::deque<int> batch;
    {
      std::unique_lock<std::mutex> lock(mu);
      ended_cv.wait_for(lock, std::chrono::milliseconds(10), [&] { return !unreported.empty(); });
      batch.swap(unreported);
    }
    if (batch.empty()) report(-1);
    for (int k : batch) {
      ++ended;
      ++reported;
      report(k);
    }
  }
  return outcomes;
}

std::vector<absl::StatusOr<RunSummary>> RunExperiments(const std::vector<Experiment>& specs,
                                                       const std::vector<std::string>& dirs,
                                                       int threads, bool progress, bool resume) {
  std::vector<RunJob> jobs(specs.size());
  for (size_t k = 0; k < specs.size(); ++k) jobs[k] = RunJob{&specs[k], dirs.at(k)};
  RunnerOptions options;
  options.threads = threads;
  options.resume = resume;
  if (progress) {
    options.progress = [&](const RunnerProgress& p) {
      if (p.index < 0) return;
      const std::string& name = specs[p.index].name();
      const absl::StatusOr<RunSummary>& summary = p.outcome->summary;
      if (!summary.ok()) {
        std::fprintf(stderr, "[%d/%d %.0fs] %s FAILED: %s\n", p.ended, p.total, p.elapsed_seconds,
                     name.c_str(), std::string(summary.status().message()).c_str());
        return;
      }
      const RunSummaryProto& s = summary->proto;
      std::fprintf(
          stderr, "[%d/%d %.0fs] %s: %s after %d steps, loss %.3g%s (%s)\n", p.ended, p.total,
          p.elapsed_seconds, name.c_str(), std::string(RunStatusName(s.status())).c_str(),
          s.steps(), s.has_final_loss() ? s.final_loss() : std::nan(""),
          s.has_normalised_loss() ? absl::StrFormat(", fit loss %.3g", s.normalised_loss()).c_str()
                                  : "",
          p.outcome->reused ? "done before, kept"
                            : absl::StrFormat("%.1f s", s.wall_seconds()).c_str());
    };
  }
  std::vector<RunOutcome> outcomes = RunAll(jobs, options);
  std::vector<absl::StatusOr<RunSummary>> summaries;
  summaries.reserve(outcomes.size());
  for (RunOutcome& outcome : outcomes) summaries.push_back(std::move(outcome.summary));
  return summaries;
}

}  // namespace replearn
