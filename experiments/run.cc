#include "experiments/run.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <mutex>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "core/csv.h"
#include "core/file_util.h"
#include "core/npy.h"
#include "core/status_macros.h"
#include "experiments/analysis.h"
#include "experiments/figures.h"
#include "experiments/loader.h"
#include "metrics/two_point.h"

namespace replearn {
namespace {

// The shortest of %.15g / %.17g that reads back as exactly v, so summaries round-trip
// (ReadRunSummary, resumed runs) without changing a bit; "null" for NaN and infinities.
std::string JsonNumber(double v) {
  if (!std::isfinite(v)) return "null";
  std::string text = absl::StrFormat("%.15g", v);
  double back = 0;
  if (!absl::SimpleAtod(text, &back) || back != v) text = absl::StrFormat("%.17g", v);
  return text;
}

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
  s.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
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
      std::fprintf(stderr,
                   "replearn: gnuplot not found; no figures (tools/setup.sh installs it)\n");
    } else if (const absl::Status fig =
                   RenderFigures(options.out_dir, JoinPath(options.out_dir, "curves.csv"),
                                 s.tracked_layer, spec.name());
               !fig.ok()) {
      std::fprintf(stderr, "replearn: figures not drawn: %s\n", std::string(fig.message()).c_str());
    }
  }
  RETURN_IF_ERROR(WriteFileAtomically(summary_path, SummaryJson(spec, s)));
  return s;
}

namespace {

void AppendUtf8(uint32_t code, std::string* out) {
  if (code < 0x80) {
    out->push_back(static_cast<char>(code));
  } else if (code < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (code >> 6)));
    out->push_back(static_cast<char>(0x80 | (code & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xE0 | (code >> 12)));
    out->push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (code & 0x3F)));
  }
}

}  // namespace

// Reads the flat JSON object SummaryJson writes: string values unescaped, numbers and
// literals as their text, null as "". Nested values are not part of that format.
absl::StatusOr<std::map<std::string, std::string>> ParseSummaryJson(absl::string_view text,
                                                                    const std::string& source) {
  size_t i = 0;
  auto fail = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": byte ", i, ": ", what, "; expected summary.json as replearn writes it"));
  };
  auto skip_space = [&] {
    while (i < text.size() && absl::ascii_isspace(static_cast<unsigned char>(text[i]))) ++i;
  };
  auto read_string = [&](std::string* out) -> bool {
    ++i;  // the opening quote
    while (i < text.size()) {
      const char c = text[i++];
      if (c == '"') return true;
      if (c != '\\') {
        out->push_back(c);
        continue;
      }
      if (i >= text.size()) return false;
      const char e = text[i++];
      switch (e) {
        case 'n':
          out->push_back('\n');
          break;
        case 't':
          out->push_back('\t');
          break;
        case 'r':
          out->push_back('\r');
          break;
        case 'b':
          out->push_back('\b');
          break;
        case 'f':
          out->push_back('\f');
          break;
        case 'u': {
          uint32_t code;
          if (i + 4 > text.size() || !absl::SimpleHexAtoi(text.substr(i, 4), &code)) {
            return false;
          }
          i += 4;
          AppendUtf8(code, out);
          break;
        }
        default:
          out->push_back(e);  // \" \\ \/
      }
    }
    return false;
  };

  std::map<std::string, std::string> fields;
  skip_space();
  if (i >= text.size() || text[i] != '{') return fail("no '{'");
  ++i;
  skip_space();
  if (i < text.size() && text[i] == '}') {
    ++i;
  } else {
    while (true) {
      skip_space();
      std::string key, value;
      if (i >= text.size() || text[i] != '"' || !read_string(&key)) return fail("bad key");
      skip_space();
      if (i >= text.size() || text[i] != ':') return fail("no ':'");
      ++i;
      skip_space();
      if (i < text.size() && text[i] == '"') {
        if (!read_string(&value)) return fail("unterminated string");
      } else {
        const size_t start = i;
        while (i < text.size() && text[i] != ',' && text[i] != '}' &&
               !absl::ascii_isspace(static_cast<unsigned char>(text[i]))) {
          ++i;
        }
        value = std::string(text.substr(start, i - start));
        if (value.empty() || value[0] == '{' || value[0] == '[') return fail("bad value");
        if (value == "null") value.clear();
      }
      fields[key] = std::move(value);
      skip_space();
      if (i < text.size() && text[i] == ',') {
        ++i;
        continue;
      }
      if (i < text.size() && text[i] == '}') {
        ++i;
        break;
      }
      return fail("no ',' or '}'");
    }
  }
  skip_space();
  if (i != text.size()) return fail("text after the object");
  return fields;
}

absl::StatusOr<RunSummary> ReadRunSummary(const std::string& dir) {
  const std::string path = JoinPath(dir, "summary.json");
  ASSIGN_OR_RETURN(const std::string text, ReadFile(path));
  ASSIGN_OR_RETURN(const auto fields, ParseSummaryJson(text, path));
  auto number = [&](const char* key) {
    const auto it = fields.find(key);
    double v = std::nan("");
    if (it != fields.end() && !it->second.empty()) absl::SimpleAtod(it->second, &v);
    return v;
  };
  RunSummary s;
  s.out_dir = dir;
  const auto status = fields.find("status");
  if (status == fields.end() || status->second.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": no \"status\""));
  }
  s.status = status->second;
  s.steps = static_cast<int64_t>(number("steps"));
  s.final_loss = number("final_loss");
  s.test_loss = number("test_loss");
  s.test_accuracy = number("test_accuracy");
  s.train_accuracy = number("train_accuracy");
  const double diverged = number("diverged_step");
  s.diverged_step = std::isfinite(diverged) ? static_cast<int64_t>(diverged) : -1;
  s.wall_seconds = number("wall_seconds");
  s.train_seconds = number("train_seconds");
  s.tracked_layer = static_cast<int>(number("tracked_layer"));
  s.h0 = number("h0");
  s.y0 = number("y0");
  s.w0 = number("w0");
  s.h_final = number("h_final");
  s.fitted = fields.count("eta_h") > 0;
  if (s.fitted) {
    s.eta_h = number("eta_h");
    s.eta_y = number("eta_y");
    s.eta_ybar = number("eta_ybar");
    s.normalised_loss = number("normalised_loss");
    s.r2_h = number("r2_h");
    s.r2_y = number("r2_y");
    s.r2_w = number("r2_w");
    s.r2_loss = number("r2_loss");
    s.h_final_predicted = number("h_final_predicted");
    for (const auto& [key, value] : fields) {
      absl::string_view variant = key;
      if (absl::ConsumePrefix(&variant, "normalised_loss_")) {
        s.alternative_losses.emplace_back(std::string(variant), number(key.c_str()));
      }
    }
  }
  return s;
}

std::vector<absl::StatusOr<RunSummary>> RunExperiments(const std::vector<Experiment>& specs,
                                                       const std::vector<std::string>& dirs,
                                                       int threads, bool progress, bool resume) {
  const int n = static_cast<int>(specs.size());
  std::vector<absl::StatusOr<RunSummary>> results(n, absl::UnknownError("not run"));
  if (n == 0) return results;
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  threads = std::max(1, std::min(threads, n));
  std::atomic<int> next{0};
  std::mutex mu;
  int done = 0;
  const auto start = std::chrono::steady_clock::now();
  auto worker = [&] {
    for (int k = next++; k < n; k = next++) {
      RunOptions options;
      options.out_dir = dirs[k];
      options.progress = false;
      options.fit_threads = threads > 1 ? 1 : 0;
      absl::StatusOr<RunSummary> summary = absl::UnknownError("not run");
      bool reused = false;
      if (resume && FileExists(JoinPath(dirs[k], "summary.json"))) {
        // A completed run of exactly this spec: keep it.
        const auto spec_text = ReadFile(JoinPath(dirs[k], "spec.pbtxt"));
        if (spec_text.ok() && *spec_text == ExperimentToText(specs[k])) {
          summary = ReadRunSummary(dirs[k]);
          reused = summary.ok();
        }
      }
      if (!reused) summary = RunExperiment(specs[k], options);
      std::lock_guard<std::mutex> lock(mu);
      ++done;
      if (progress) {
        const double elapsed =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (summary.ok()) {
          std::fprintf(stderr, "[%d/%d %.0fs] %s: %s after %lld steps, loss %.3g%s (%s)\n", done, n,
                       elapsed, specs[k].name().c_str(), summary->status.c_str(),
                       static_cast<long long>(summary->steps), summary->final_loss,
                       summary->fitted
                           ? absl::StrFormat(", fit loss %.3g", summary->normalised_loss).c_str()
                           : "",
                       reused ? "done before, kept"
                              : absl::StrFormat("%.1f s", summary->wall_seconds).c_str());
        } else {
          std::fprintf(stderr, "[%d/%d %.0fs] %s FAILED: %s\n", done, n, elapsed,
                       specs[k].name().c_str(), std::string(summary.status().message()).c_str());
        }
      }
      results[k] = std::move(summary);
    }
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(worker);
  for (std::thread& t : pool) t.join();
  return results;
}

}  // namespace replearn
