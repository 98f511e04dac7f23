#include "experiments/sweep.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
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
#include "google/protobuf/descriptor.h"
#include "proto/summary.pb.h"

namespace replearn {
namespace {

using ::google::protobuf::FieldDescriptor;

constexpr char kSweepFile[] = "sweep.pbtxt";
constexpr char kErrorFile[] = "error.txt";

// The RunSummaryProto fields that are index.csv columns, in column order (their
// index_column option, proto/summary.proto).
const std::vector<const FieldDescriptor*>& IndexFields() {
  static const auto* fields = [] {
    auto* fields = new std::vector<const FieldDescriptor*>;
    const auto* descriptor = RunSummaryProto::descriptor();
    for (int i = 0; i < descriptor->field_count(); ++i) {
      if (descriptor->field(i)->options().HasExtension(index_column)) {
        fields->push_back(descriptor->field(i));
      }
    }
    std::sort(
        fields->begin(), fields->end(), [](const FieldDescriptor* a, const FieldDescriptor* b) {
          return a->options().GetExtension(index_column) < b->options().GetExtension(index_column);
        });
    return fields;
  }();
  return *fields;
}

// A field's value as summary.json writes it (doubles the shortest text that reads back
// exactly, as the JSON printer does); "" when absent.
std::string IndexCell(const RunSummaryProto& row, const FieldDescriptor* field) {
  const auto* reflection = row.GetReflection();
  if (!reflection->HasField(row, field)) return "";
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_ENUM:
      return reflection->GetEnum(row, field)->name();  // the first (lower-case) name
    case FieldDescriptor::CPPTYPE_INT32:
      return absl::StrCat(reflection->GetInt32(row, field));
    case FieldDescriptor::CPPTYPE_INT64:
      return absl::StrCat(reflection->GetInt64(row, field));
    case FieldDescriptor::CPPTYPE_UINT32:
      return absl::StrCat(reflection->GetUInt32(row, field));
    case FieldDescriptor::CPPTYPE_UINT64:
      return absl::StrCat(reflection->GetUInt64(row, field));
    case FieldDescriptor::CPPTYPE_BOOL:
      return reflection->GetBool(row, field) ? "true" : "false";
    case FieldDescriptor::CPPTYPE_FLOAT:
    case FieldDescriptor::CPPTYPE_DOUBLE: {
      const double v = field->cpp_type() == FieldDescriptor::CPPTYPE_FLOAT
                           ? reflection->GetFloat(row, field)
                           : reflection->GetDouble(row, field);
      std::string text = absl::StrFormat("%.15g", v);
      double back = 0;
      if (!absl::SimpleAtod(text, &back) || back != v) text = absl::StrFormat("%.17g", v);
      return text;
    }
    case FieldDescriptor::CPPTYPE_STRING:
      return reflection->GetString(row, field);
    case FieldDescriptor::CPPTYPE_MESSAGE:
      break;
  }
  return "";
}

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

std::string IndexFileName(const Shard& shard) {
  if (shard.count == 1) return "index.csv";
  return absl::StrCat("index.shard_", shard.index, "_of_", shard.count, ".csv");
}

// The index row of a trial: its completed run's summary, else FAILED (with the error of
// error.txt, or of this process) or PENDING.
RunSummaryProto TrialRow(const SweepTrial& t, const std::string& dir, bool failed_now) {
  absl::StatusOr<RunSummary> done = ReadCompletedRun(dir, t.spec);
  if (done.ok()) return std::move(done->proto);
  RunSummaryProto row;
  const absl::StatusOr<std::string> error = ReadFile(JoinPath(dir, kErrorFile));
  if (failed_now || error.ok()) {
    row.set_status(RunSummaryProto::FAILED);
    if (error.ok()) row.set_error(std::string(absl::StripTrailingAsciiWhitespace(*error)));
  } else {
    row.set_status(RunSummaryProto::PENDING);
  }
  return row;
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

bool AbslParseFlag(absl::string_view text, Shard* shard, std::string* error) {
  const absl::StatusOr<Shard> parsed = ParseShard(text);
  if (!parsed.ok()) {
    *error = std::string(parsed.status().message());
    return false;
  }
  *shard = *parsed;
  return true;
}

std::string AbslUnparseFlag(const Shard& shard) {
  return absl::StrCat(shard.index, "/", shard.count);
}

void SweepResult::Count(RunStatus status) {
  ++total;
  switch (status) {
    case RunSummaryProto::FINISHED:
      ++finished;
      break;
    case RunSummaryProto::CONVERGED:
      ++converged;
      break;
    case RunSummaryProto::DIVERGED:
      ++diverged;
      break;
    case RunSummaryProto::FAILED:
      ++failed;
      break;
    case RunSummaryProto::PENDING:
    case RunSummaryProto::STATUS_UNSPECIFIED:
      ++pending;
      break;
  }
}

absl::StatusOr<std::string> SweepIndexCsv(const SweepPlan& plan, const std::string& out_dir,
                                          const std::vector<int>& trial_indices,
                                          SweepResult* counts, const std::vector<int>& failed_now) {
  std::vector<std::string> header = {"trial", "folder"};
  header.insert(header.end(), plan.axis_paths.begin(), plan.axis_paths.end());
  header.push_back("seed");
  for (const FieldDescriptor* field : IndexFields()) header.push_back(field->name());
  CsvWriter csv(header);
  const std::set<int> failed(failed_now.begin(), failed_now.end());
  SweepResult tally;
  for (int index : trial_indices) {
    const SweepTrial& t = plan.trials.at(static_cast<size_t>(index));
    const RunSummaryProto summary =
        TrialRow(t, JoinPath(out_dir, t.folder), failed.count(index) > 0);
    std::vector<std::string> row = {t.id, t.folder};
    row.insert(row.end(), t.values.begin(), t.values.end());
    row.push_back(absl::StrCat(t.seed));
    for (const FieldDescriptor* field : IndexFields()) row.push_back(IndexCell(summary, field));
    csv.AddRow(row);
    tally.Count(summary.status());
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
  std::vector<RunJob> jobs;
  std::vector<std::string> mismatched;
  for (const SweepTrial& t : plan.trials) {
    if (!options.shard.Contains(t.index)) continue;
    mine.push_back(t.index);
    const std::string dir = JoinPath(out_dir, t.folder);
    const absl::StatusOr<RunSummary> done = ReadCompletedRun(dir, t.spec);
    if (done.ok()) continue;
    if (done.status().code() == absl::StatusCode::kFailedPrecondition) {
      mismatched.push_back(absl::StrCat(dir, ": completed, but its spec.pbtxt is not ",
                                        TrialLabel(plan, t), "'s spec"));
      continue;
    }
    todo.push_back(t.index);
    jobs.push_back(RunJob{&t.spec, dir});
  }
  if (!mismatched.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(absl::StrJoin(mismatched, "\n"),
                     "\nuse another --out, or remove these folders to rerun them"));
  }

  SweepResult result;
  result.skipped = static_cast<int>(mine.size() - todo.size());
  result.ran = static_cast<int>(todo.size());
  std::string label = absl::StrCat("sweep ", plan.spec.name());
  if (options.shard.count > 1) {
    absl::StrAppend(&label, " shard ", options.shard.index, "/", options.shard.count);
  }
  if (result.skipped > 0) absl::StrAppend(&label, " (", result.skipped, " done before)");
  Progress progress(label, static_cast<int64_t>(todo.size()), "trial");
  int failed = 0, diverged = 0;
  RunnerOptions runner;
  runner.threads = options.threads;
  runner.fresh_folders = true;
  runner.progress = [&](const RunnerProgress& p) {
    if (p.index >= 0) {
      const absl::StatusOr<RunSummary>& summary = p.outcome->summary;
      if (!summary.ok()) ++failed;
      if (summary.ok() && summary->proto.status() == RunSummaryProto::DIVERGED) ++diverged;
    }
    // Progress throttles its own output (a clock read per 64 calls, then its print
    // interval), so it hears every periodic call, not only the ends of trials.
    if (options.progress) {
      progress.Update(p.ended, absl::StrCat(failed, " failed, ", diverged, " diverged"));
    }
  };
  const std::vector<RunOutcome> outcomes = RunAll(jobs, runner);
  if (options.progress && !todo.empty()) {
    progress.Finish(absl::StrCat(failed, " failed, ", diverged, " diverged"));
  }
  std::vector<int> failed_now;
  for (size_t j = 0; j < todo.size(); ++j) {
    if (outcomes[j].summary.ok()) continue;
    failed_now.push_back(todo[j]);
    result.failures.push_back(absl::StrCat(plan.trials[static_cast<size_t>(todo[j])].folder, ": ",
                                           outcomes[j].summary.status().message()));
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
    if (ReadCompletedRun(target, t.spec).ok()) continue;
    bool copied = false, failed = false;
    for (const std::string& source : sources) {
      const std::string from = JoinPath(source, t.folder);
      if (ReadCompletedRun(from, t.spec).ok()) {
        RETURN_IF_ERROR(CopyRunFolder(from, target));
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
