#include "experiments/sweep.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/csv.h"
#include "core/file_util.h"
#include "core/progress.h"
#include "core/rng.h"
#include "core/status_macros.h"
#include "experiments/loader.h"
#include "experiments/run.h"
#include "experiments/trial.h"

namespace replearn {
namespace {

namespace fs = std::filesystem;

constexpr char kSweepFile[] = "sweep.pbtxt";
constexpr char kSummaryFile[] = "summary.json";
constexpr char kErrorFile[] = "error.txt";
constexpr char kSpecFile[] = "spec.pbtxt";

// summary.json keys copied into index.csv after the status, in column order.
constexpr const char* kIndexFigures[] = {
    "steps", "final_loss", "eta_h", "eta_y",   "normalised_loss",
    "r2_h",  "r2_y",       "r2_w",  "h_final", "h_final_predicted",
};

// The last path segment that is not a repeated-field index ("probe.0.two_point.every" ->
// "every"): short enough for folder names, and the field a reader recognises.
std::string FieldLabel(absl::string_view path) {
  const std::vector<absl::string_view> segments = absl::StrSplit(path, '.');
  for (auto it = segments.rbegin(); it != segments.rend(); ++it) {
    int index;
    if (!it->empty() && !absl::SimpleAtoi(*it, &index)) return std::string(*it);
  }
  return std::string(path);
}

std::string FolderSafe(absl::string_view value) {
  std::string out;
  for (char c : value) {
    const bool keep =
        absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '+' || c == '-';
    out.push_back(keep ? c : '_');
  }
  return out;
}

// ApplyOverride's messages start "--set <path>: "; in a sweep the axis names the path.
std::string OverrideProblem(const absl::Status& status, absl::string_view path) {
  absl::string_view m = status.message();
  absl::ConsumePrefix(&m, "--set ");
  absl::ConsumePrefix(&m, path);
  absl::ConsumePrefix(&m, ": ");
  return std::string(m);
}

std::string TrialLabel(const SweepPlan& plan, const SweepTrial& t) {
  if (plan.axis_paths.empty()) return t.id;
  std::vector<std::string> parts;
  for (size_t a = 0; a < plan.axis_paths.size(); ++a) {
    parts.push_back(absl::StrCat(plan.axis_paths[a], "=", t.values[a]));
  }
  return absl::StrCat(t.id, " (", absl::StrJoin(parts, ", "), ")");
}

int NumDigits(int64_t n) {
  int digits = 1;
  while (n >= 10) {
    n /= 10;
    ++digits;
  }
  return digits;
}

bool IsDirectory(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec);
}

// Regular files directly in `dir`, sorted, without the temporaries of interrupted atomic
// writes ("<name>.tmp.<pid>" from WriteFileAtomically, "<name>.tmp" from figures).
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

// Removes the files an interrupted or failed attempt left in a trial folder, so a rerun
// starts from an empty folder. A path that is not a directory is left for RunExperiment to
// report.
absl::Status ClearTrialFolder(const std::string& dir) {
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

// Copies a completed trial folder, summary.json last, so the copy is complete when it says so.
absl::Status CopyTrialFolder(const std::string& from, const std::string& to) {
  RETURN_IF_ERROR(MakeDirs(to));
  ASSIGN_OR_RETURN(std::vector<std::string> names, ListFiles(from));
  std::stable_partition(names.begin(), names.end(),
                        [](const std::string& n) { return n != kSummaryFile; });
  for (const std::string& name : names) {
    if (absl::StrContains(name, ".tmp")) continue;
    ASSIGN_OR_RETURN(const std::string contents, ReadFile(JoinPath(from, name)));
    RETURN_IF_ERROR(WriteFileAtomically(JoinPath(to, name), contents));
  }
  return absl::OkStatus();
}

std::string IndexFileName(const Shard& shard) {
  if (shard.count == 1) return "index.csv";
  return absl::StrCat("index.shard_", shard.index, "_of_", shard.count, ".csv");
}

}  // namespace

absl::StatusOr<SweepPlan> ExpandSweep(const Experiment& spec, const std::string& working_dir,
                                      const std::string& spec_path) {
  if (!spec.has_sweep()) {
    return absl::InvalidArgumentError(
        "sweep: missing; a sweep spec needs e.g. sweep { axis { path: "
        "\"architecture.mlp.gain\" values: [\"0.9\", \"1.1\"] } trials: 2 }");
  }
  const SweepSpec& sweep = spec.sweep();
  Experiment base = spec;
  base.clear_sweep();
  if (base.has_output()) {
    base.mutable_output()->clear_dir();
    if (base.output().ByteSizeLong() == 0) base.clear_output();
  }

  SweepPlan plan;
  plan.spec = spec;
  std::vector<std::string> problems;
  std::vector<std::vector<std::string>> values(sweep.axis_size());
  std::map<std::string, int> seen_paths;
  for (int a = 0; a < sweep.axis_size(); ++a) {
    const SweepSpec::Axis& axis = sweep.axis(a);
    const std::string path(absl::StripAsciiWhitespace(axis.path()));
    const std::string where = absl::StrCat("sweep.axis.", a, " (", path, ")");
    plan.axis_paths.push_back(path);
    if (path.empty()) {
      problems.push_back(absl::StrCat("sweep.axis.", a,
                                      ": path is empty; name a field as for --set, e.g. "
                                      "path: \"training.learning_rate\""));
      continue;
    }
    if (path == "sweep" || absl::StartsWith(path, "sweep.")) {
      problems.push_back(absl::StrCat(where, ": a sweep cannot sweep its own settings"));
      continue;
    }
    if (path == "name" || path == "output.dir" || path == "output") {
      problems.push_back(
          absl::StrCat(where,
                       ": set by the sweep for each trial (name \"<name>/<trial folder>\", folder "
                       "under --out); it cannot be an axis"));
      continue;
    }
    if (const auto [it, inserted] = seen_paths.emplace(path, a); !inserted) {
      problems.push_back(absl::StrCat(where, ": the same path as sweep.axis.", it->second,
                                      "; sweep each field with one axis"));
      continue;
    }
    if (axis.values_size() == 0) {
      problems.push_back(absl::StrCat(where, ": no values; list at least one, e.g. values: [\"",
                                      "0.9\", \"1.1\"]"));
      continue;
    }
    std::set<std::string> distinct;
    for (const std::string& raw : axis.values()) {
      const std::string value(absl::StripAsciiWhitespace(raw));
      if (!distinct.insert(value).second) {
        problems.push_back(absl::StrCat(where, ": value \"", value, "\" is listed twice"));
        continue;
      }
      Experiment probe_spec = base;
      const absl::Status status = ApplyOverride(probe_spec, absl::StrCat(path, "=", value));
      if (!status.ok()) {
        problems.push_back(absl::StrCat(where, ": ", OverrideProblem(status, path)));
        continue;
      }
      values[a].push_back(value);
    }
  }
  if (sweep.trials() < 1) {
    problems.push_back(absl::StrCat("sweep.trials = ", sweep.trials(), "; must be >= 1"));
  }
  if (!problems.empty()) return absl::InvalidArgumentError(absl::StrJoin(problems, "\n"));

  int64_t points = 1;
  for (const auto& v : values) {
    points *= static_cast<int64_t>(v.size());
    if (points * sweep.trials() > kMaxSweepTrials) {
      return absl::InvalidArgumentError(absl::StrCat(
          "sweep: more than ", kMaxSweepTrials, " trials (axis sizes x sweep.trials); split it"));
    }
  }
  const int trials = sweep.trials();
  const int64_t total = points * trials;
  const int width = std::max(4, NumDigits(total - 1));
  plan.trials.reserve(static_cast<size_t>(total));
  std::vector<size_t> digit(values.size(), 0);
  for (int64_t p = 0; p < points; ++p) {
    // Mixed-radix digits of p, the last axis varying fastest.
    int64_t rest = p;
    for (size_t a = values.size(); a-- > 0;) {
      digit[a] = static_cast<size_t>(rest % static_cast<int64_t>(values[a].size()));
      rest /= static_cast<int64_t>(values[a].size());
    }
    Experiment point = base;
    std::vector<std::string> point_values;
    std::string label;
    for (size_t a = 0; a < values.size(); ++a) {
      const std::string& value = values[a][digit[a]];
      point_values.push_back(value);
      absl::StrAppend(&label, "_", FolderSafe(FieldLabel(plan.axis_paths[a])), "=",
                      FolderSafe(value));
      const absl::Status status =
          ApplyOverride(point, absl::StrCat(plan.axis_paths[a], "=", value));
      if (!status.ok()) {
        problems.push_back(
            absl::StrCat("sweep.axis.", a, " (", plan.axis_paths[a],
                         ") with the other axes: ", OverrideProblem(status, plan.axis_paths[a])));
      }
    }
    ResolveInitNpz(working_dir, spec_path, point);
    if (label.size() > 120) label.resize(120);
    const uint64_t point_seed = point.training().seed();
    for (int k = 0; k < trials; ++k) {
      SweepTrial t;
      t.index = static_cast<int>(p * trials + k);
      t.id = absl::StrFormat("t%0*d", width, t.index);
      t.folder = absl::StrCat(t.id, label, trials > 1 ? absl::StrCat("_s", k) : "");
      t.values = point_values;
      t.seed_index = k;
      t.seed = k == 0 ? point_seed : Rng::DeriveSeed(point_seed, static_cast<uint64_t>(k));
      t.spec = point;
      t.spec.mutable_training()->set_seed(t.seed);
      t.spec.set_name(absl::StrCat(spec.name(), "/", t.folder));
      plan.trials.push_back(std::move(t));
    }
  }
  if (!problems.empty()) return absl::InvalidArgumentError(absl::StrJoin(problems, "\n"));
  return plan;
}

absl::Status ValidateSweep(const SweepPlan& plan) {
  std::vector<std::string> problems;
  for (const SweepTrial& t : plan.trials) {
    if (t.seed_index != 0) continue;
    const absl::StatusOr<Trial> built = BuildTrial(t.spec);
    if (built.ok()) continue;
    const std::string label = TrialLabel(plan, t);
    for (absl::string_view line : absl::StrSplit(built.status().message(), '\n')) {
      problems.push_back(absl::StrCat(label, ": ", line));
    }
  }
  if (problems.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(problems, "\n"));
}

absl::StatusOr<Shard> ParseShard(absl::string_view text) {
  const std::vector<absl::string_view> parts = absl::StrSplit(text, '/');
  Shard shard;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &shard.index) ||
      !absl::SimpleAtoi(parts[1], &shard.count) || shard.count < 1 || shard.index < 0 ||
      shard.index >= shard.count) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--shard = \"", text, "\"; expected i/N with N >= 1 and 0 <= i < N, e.g. --shard=0/4"));
  }
  return shard;
}

absl::StatusOr<std::string> SweepIndexCsv(const SweepPlan& plan, const std::string& out_dir,
                                          const std::vector<int>& trial_indices,
                                          SweepResult* counts, const std::vector<int>& failed_now) {
  std::vector<std::string> header = {"trial", "folder"};
  header.insert(header.end(), plan.axis_paths.begin(), plan.axis_paths.end());
  header.push_back("seed");
  header.push_back("status");
  for (const char* key : kIndexFigures) header.push_back(key);
  CsvWriter csv(header);
  const std::set<int> failed(failed_now.begin(), failed_now.end());
  SweepResult tally;
  for (int index : trial_indices) {
    const SweepTrial& t = plan.trials.at(static_cast<size_t>(index));
    std::vector<std::string> row = {t.id, t.folder};
    row.insert(row.end(), t.values.begin(), t.values.end());
    row.push_back(absl::StrCat(t.seed));
    const std::string dir = JoinPath(out_dir, t.folder);
    const std::string summary_path = JoinPath(dir, kSummaryFile);
    std::map<std::string, std::string> fields;
    std::string status;
    if (FileExists(summary_path)) {
      ASSIGN_OR_RETURN(const std::string text, ReadFile(summary_path));
      ASSIGN_OR_RETURN(fields, ParseSummaryJson(text, summary_path));
      status = fields["status"];
      if (status.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(summary_path, ": no \"status\""));
      }
    } else if (failed.count(index) > 0 || FileExists(JoinPath(dir, kErrorFile))) {
      status = "failed";
    } else {
      status = "pending";
    }
    if (status == "finished") ++tally.finished;
    if (status == "converged") ++tally.converged;
    if (status == "diverged") ++tally.diverged;
    if (status == "failed") ++tally.failed;
    if (status == "pending") ++tally.pending;
    ++tally.total;
    row.push_back(status);
    for (const char* key : kIndexFigures) {
      const auto it = fields.find(key);
      row.push_back(it == fields.end() ? "" : it->second);
    }
    csv.AddRow(row);
  }
  if (counts != nullptr) {
    counts->total = tally.total;
    counts->finished = tally.finished;
    counts->converged = tally.converged;
    counts->diverged = tally.diverged;
    counts->failed = tally.failed;
    counts->pending = tally.pending;
  }
  return csv.contents();
}

absl::StatusOr<SweepResult> RunSweep(const SweepPlan& plan, const SweepOptions& options) {
  const std::string& out_dir = options.out_dir;
  if (out_dir.empty()) return absl::InvalidArgumentError("sweep: no output folder given");
  RETURN_IF_ERROR(MakeDirs(out_dir));
  const std::string sweep_text = ExperimentToText(plan.spec);
  const std::string sweep_path = JoinPath(out_dir, kSweepFile);
  if (FileExists(sweep_path)) {
    ASSIGN_OR_RETURN(const std::string existing, ReadFile(sweep_path));
    if (existing != sweep_text) {
      return absl::FailedPreconditionError(
          absl::StrCat(sweep_path,
                       " holds a different sweep (spec or --set differ); use another --out, "
                       "or remove the folder to start over"));
    }
  } else {
    RETURN_IF_ERROR(WriteFileAtomically(sweep_path, sweep_text));
  }

  std::vector<int> mine, todo;
  std::vector<std::string> mismatched;
  for (const SweepTrial& t : plan.trials) {
    if (!options.shard.Contains(t.index)) continue;
    mine.push_back(t.index);
    const std::string dir = JoinPath(out_dir, t.folder);
    if (!FileExists(JoinPath(dir, kSummaryFile))) {
      todo.push_back(t.index);
      continue;
    }
    const absl::StatusOr<std::string> text = ReadFile(JoinPath(dir, kSpecFile));
    if (!text.ok() || *text != ExperimentToText(t.spec)) {
      mismatched.push_back(absl::StrCat(dir, ": completed, but its spec.pbtxt is not ",
                                        TrialLabel(plan, t), "'s spec"));
    }
  }
  if (!mismatched.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(absl::StrJoin(mismatched, "\n"),
                     "\nuse another --out, or remove these folders to rerun them"));
  }

  SweepResult result;
  result.skipped = static_cast<int>(mine.size() - todo.size());
  result.ran = static_cast<int>(todo.size());
  std::vector<int> failed_now;
  if (!todo.empty()) {
    int threads = options.threads > 0 ? options.threads
                                      : static_cast<int>(std::thread::hardware_concurrency());
    threads = std::clamp(threads, 1, static_cast<int>(todo.size()));
    std::mutex mu;
    std::condition_variable cv;
    int done = 0, failed = 0, diverged = 0;
    std::atomic<size_t> next{0};
    auto worker = [&] {
      for (size_t j; (j = next.fetch_add(1)) < todo.size();) {
        const SweepTrial& t = plan.trials[static_cast<size_t>(todo[j])];
        const std::string dir = JoinPath(out_dir, t.folder);
        absl::Status status = ClearTrialFolder(dir);
        std::string run_status;
        if (status.ok()) {
          RunOptions run_options;
          run_options.out_dir = dir;
          run_options.progress = false;
          run_options.fit_threads = threads > 1 ? 1 : 0;  // trials already fill the cores
          absl::StatusOr<RunSummary> summary = RunExperiment(t.spec, run_options);
          if (summary.ok()) {
            run_status = summary->status;
          } else {
            status = summary.status();
          }
        }
        if (!status.ok() && IsDirectory(dir)) {
          // Best effort: the index also learns of this failure from failed_now.
          (void)WriteFileAtomically(JoinPath(dir, kErrorFile),
                                    absl::StrCat(status.message(), "\n"));
        }
        std::lock_guard<std::mutex> lock(mu);
        ++done;
        if (!status.ok()) {
          ++failed;
          failed_now.push_back(t.index);
          result.failures.push_back(absl::StrCat(t.folder, ": ", status.message()));
        } else if (run_status == "diverged") {
          ++diverged;
        }
        cv.notify_all();
      }
    };
    std::vector<std::thread> pool;
    pool.reserve(static_cast<size_t>(threads));
    for (int i = 0; i < threads; ++i) pool.emplace_back(worker);

    const int64_t total = static_cast<int64_t>(todo.size());
    std::string label = absl::StrCat("sweep ", plan.spec.name());
    if (options.shard.count > 1) {
      absl::StrAppend(&label, " shard ", options.shard.index, "/", options.shard.count);
    }
    if (result.skipped > 0) absl::StrAppend(&label, " (", result.skipped, " done before)");
    Progress progress(label, total, "trial");
    std::string extra;
    for (int64_t finished = 0; finished < total;) {
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait_for(lock, std::chrono::milliseconds(10));
        finished = done;
        extra = absl::StrCat(failed, " failed, ", diverged, " diverged");
      }
      // Progress throttles its own output (one clock read per 64 calls, then its print
      // interval), so it is polled often rather than only when a trial ends.
      if (options.progress) progress.Update(finished, extra);
    }
    for (std::thread& thread : pool) thread.join();
    if (options.progress) progress.Finish(extra);
    std::sort(failed_now.begin(), failed_now.end());
    std::sort(result.failures.begin(), result.failures.end());
  }

  ASSIGN_OR_RETURN(const std::string csv, SweepIndexCsv(plan, out_dir, mine, &result, failed_now));
  result.index_path = JoinPath(out_dir, IndexFileName(options.shard));
  RETURN_IF_ERROR(WriteFileAtomically(result.index_path, csv));
  return result;
}

absl::StatusOr<SweepResult> MergeSweep(const std::string& out_dir,
                                       const std::vector<std::string>& sources) {
  std::string text, text_from;
  std::vector<std::string> problems;
  auto consider = [&](const std::string& dir, bool required) {
    const std::string path = JoinPath(dir, kSweepFile);
    if (!FileExists(path)) {
      if (required) {
        problems.push_back(absl::StrCat(path, ": not found; ", dir,
                                        " is not a sweep folder (replearn sweep writes "
                                        "sweep.pbtxt before any trial)"));
      }
      return;
    }
    absl::StatusOr<std::string> contents = ReadFile(path);
    if (!contents.ok()) {
      problems.emplace_back(contents.status().message());
    } else if (text_from.empty()) {
      text = *std::move(contents);
      text_from = path;
    } else if (*contents != text) {
      problems.push_back(
          absl::StrCat(path, " differs from ", text_from, "; the folders hold different sweeps"));
    }
  };
  consider(out_dir, sources.empty());
  for (const std::string& source : sources) consider(source, true);
  if (!problems.empty()) return absl::InvalidArgumentError(absl::StrJoin(problems, "\n"));
  ASSIGN_OR_RETURN(const Experiment spec, ParseExperiment(text, text_from));
  ASSIGN_OR_RETURN(const SweepPlan plan, ExpandSweep(spec));

  RETURN_IF_ERROR(MakeDirs(out_dir));
  const std::string sweep_path = JoinPath(out_dir, kSweepFile);
  if (!FileExists(sweep_path)) RETURN_IF_ERROR(WriteFileAtomically(sweep_path, text));
  std::vector<int> all, failed_elsewhere;
  for (const SweepTrial& t : plan.trials) {
    all.push_back(t.index);
    const std::string target = JoinPath(out_dir, t.folder);
    if (FileExists(JoinPath(target, kSummaryFile))) continue;
    bool copied = false, failed = false;
    for (const std::string& source : sources) {
      const std::string from = JoinPath(source, t.folder);
      if (FileExists(JoinPath(from, kSummaryFile))) {
        RETURN_IF_ERROR(CopyTrialFolder(from, target));
        copied = true;
        break;
      }
      failed |= FileExists(JoinPath(from, kErrorFile));
    }
    if (!copied && failed) failed_elsewhere.push_back(t.index);
  }
  SweepResult result;
  ASSIGN_OR_RETURN(const std::string csv,
                   SweepIndexCsv(plan, out_dir, all, &result, failed_elsewhere));
  result.index_path = JoinPath(out_dir, "index.csv");
  RETURN_IF_ERROR(WriteFileAtomically(result.index_path, csv));
  return result;
}

}  // namespace replearn
