#include "experiments/run.h"

#include <cmath>
#include <cstdlib>
#include <limits>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/file_util.h"
#include "core/run_python.h"
#include "experiments/loader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "theory/closed_form.h"

namespace replearn {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string TempDir(const std::string& name) {
  const std::string dir = JoinPath(std::getenv("TEST_TMPDIR"), name);
  EXPECT_TRUE(MakeDirs(dir).ok());
  return dir;
}

std::string Read(const std::string& path) {
  auto text = ReadFile(path);
  EXPECT_TRUE(text.ok()) << text.status();
  return text.ok() ? *text : "";
}

// A folder holding `summary` as its summary.json (a copy of a committed file).
std::string FolderWithSummary(const std::string& name, const std::string& summary_file) {
  const std::string dir = TempDir(name);
  EXPECT_TRUE(WriteFileAtomically(JoinPath(dir, "summary.json"), Read(summary_file)).ok());
  return dir;
}

// A 2 x 8 network, 20 steps, no fit and no figures: a run takes milliseconds.
Experiment TinySpec(const std::string& name, double learning_rate = 0.05) {
  auto spec =
      ParseExperiment(absl::StrCat(R"pb(
                                     architecture { mlp { depth: 2 width: 8 nonlinearity: TANH } }
                                     dataset { two_point {} }
                                     training { steps: 20 seed: 3 threads: 1 }
                                     probe { two_point {} }
                                     theory { enabled: false }
                                     output { figures: false }
                                     name: ")pb",
                                   name, "\""),
                      "tiny");
  EXPECT_TRUE(spec.ok()) << spec.status();
  spec->mutable_training()->set_learning_rate(learning_rate);
  return *spec;
}

TEST(RunSummaryJson, EscapesTextThatPythonReadsBackExactly) {
  // Quotes, backslashes, control characters, and 2-, 3- and 4-byte UTF-8.
  const std::string nasty =
      "a \"quoted\" C:\\path\\ line1\nline2\ttab \x01 \xC3\xA9t\xC3\xA9 "
      "\xE2\x88\x86h \xF0\x9F\x93\x88 end";
  RunSummaryProto summary;
  summary.set_name(nasty);
  summary.set_status(RunSummaryProto::FAILED);
  summary.set_error(nasty);
  summary.set_steps(7);
  summary.set_final_loss(std::numeric_limits<double>::quiet_NaN());
  summary.set_h0(std::numeric_limits<double>::infinity());
  summary.set_y0(0.1);
  const std::string dir = TempDir("escapes");
  const std::string path = JoinPath(dir, "summary.json");
  const std::string expected = JoinPath(dir, "expected.txt");
  ASSERT_TRUE(WriteFileAtomically(path, RunSummaryJson(summary)).ok());
  ASSERT_TRUE(WriteFileAtomically(expected, nasty).ok());

  const auto python = RunPython(absl::StrCat(R"py(
import json
d = json.load(open(")py",
                                             path, R"py(", encoding="utf-8"))
expected = open(")py",
                                             expected, R"py(", encoding="utf-8", newline="").read()
assert d["name"] == expected, (d["name"], expected)
assert d["error"] == expected, (d["error"], expected)
assert d["status"] == "failed" and d["steps"] == 7 and d["y0"] == 0.1, d
assert "final_loss" not in d and "h0" not in d, d
print("ok")
)py"));
  ASSERT_TRUE(python.ok()) << python.status();
  EXPECT_EQ(*python, "ok\n");

  const auto back = ParseRunSummaryJson(Read(path), path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->name(), nasty);
  EXPECT_EQ(back->error(), nasty);
  EXPECT_FALSE(back->has_final_loss());
  EXPECT_FALSE(back->has_h0());
  EXPECT_EQ(back->y0(), 0.1);
}

TEST(RunSummaryJson, KeepsTheKeysAndNumbersOfEarlierFiles) {
  RunSummaryProto summary;
  summary.set_name("two_point");
  summary.set_status(RunSummaryProto::CONVERGED);
  summary.set_steps(6000);
  summary.set_final_loss(1.354472090042691e-12);
  summary.set_seed(1);
  summary.set_tracked_layer(0);
  summary.set_h_final(0.1 + 0.2);  // needs 17 digits to read back
  summary.set_r2_h(0.5);
  const std::string json = RunSummaryJson(summary);
  EXPECT_EQ(json,
            "{\n \"name\": \"two_point\",\n \"status\": \"converged\",\n \"steps\": 6000,\n"
            " \"final_loss\": 1.354472090042691e-12,\n \"seed\": \"1\",\n"
            " \"tracked_layer\": 0,\n \"h_final\": 0.30000000000000004,\n \"r2_h\": 0.5\n}\n");
  const auto back = ParseRunSummaryJson(json, "test");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->SerializeAsString(), summary.SerializeAsString());
}

TEST(ParseRunSummaryJson, ReadsFilesWrittenBeforeTheMessage) {
  // Copies of committed summaries (experiments/paper/results/{default,mnist}) and of a
  // diverged run, as the previous writer wrote them: two-space indent, null for NaN and for
  // a missing diverged_step, the seed as a number.
  auto fitted = ReadRunSummary(
      FolderWithSummary("v0_default", "experiments/testdata/summary_v0_default.json"));
  ASSERT_TRUE(fitted.ok()) << fitted.status();
  const RunSummaryProto& d = fitted->proto;
  EXPECT_EQ(d.name(), "two_point");
  EXPECT_EQ(d.status(), RunSummaryProto::FINISHED);
  EXPECT_EQ(d.steps(), 6000);
  EXPECT_EQ(d.final_loss(), 1.35447209e-12);
  EXPECT_EQ(d.seed(), 1u);
  EXPECT_FALSE(d.has_diverged_step());
  EXPECT_EQ(d.tracked_layer(), 10);
  EXPECT_EQ(d.eta_h(), 0.0007060498056);
  EXPECT_EQ(d.h_final_predicted(), 0.09097628831);
  EXPECT_FALSE(d.has_test_loss());
  // The plain fields of experiments/paper/ code.
  EXPECT_EQ(fitted->status, "finished");
  EXPECT_EQ(fitted->steps, 6000);
  EXPECT_EQ(fitted->diverged_step, -1);
  EXPECT_TRUE(fitted->fitted);
  EXPECT_EQ(fitted->r2_loss, 0.9980406982);
  EXPECT_TRUE(std::isnan(fitted->test_accuracy));
  ASSERT_EQ(fitted->alternative_losses.size(), 4u);
  EXPECT_EQ(fitted->alternative_losses[0],
            (std::pair<std::string, double>{"dh_doubled", 0.02832956181}));
  EXPECT_EQ(fitted->alternative_losses[3].first, "dy_no_h_term");

  auto mnist =
      ReadRunSummary(FolderWithSummary("v0_mnist", "experiments/testdata/summary_v0_mnist.json"));
  ASSERT_TRUE(mnist.ok()) << mnist.status();
  EXPECT_EQ(mnist->proto.test_accuracy(), 0.928);
  EXPECT_EQ(mnist->train_accuracy, 0.96075);
  EXPECT_TRUE(mnist->alternative_losses.empty());

  auto diverged = ReadRunSummary(
      FolderWithSummary("v0_diverged", "experiments/testdata/summary_v0_diverged.json"));
  ASSERT_TRUE(diverged.ok()) << diverged.status();
  EXPECT_EQ(diverged->proto.status(), RunSummaryProto::DIVERGED);
  EXPECT_EQ(diverged->proto.diverged_step(), 1);
  EXPECT_FALSE(diverged->proto.has_final_loss());
  EXPECT_FALSE(diverged->proto.has_h_final());
  EXPECT_TRUE(std::isnan(diverged->final_loss));
  EXPECT_FALSE(diverged->fitted);
  EXPECT_EQ(diverged->status, "diverged");
}

TEST(ParseRunSummaryJson, RejectsWhatIsNotASummaryAndSkipsUnknownKeys) {
  EXPECT_THAT(
      ParseRunSummaryJson("{\"status\": \"finished\"", "x/summary.json").status(),
      testing::AllOf(testing::Property(&absl::Status::code, absl::StatusCode::kInvalidArgument),
                     testing::Property(&absl::Status::message, HasSubstr("x/summary.json: "))));
  EXPECT_THAT(ParseRunSummaryJson("{\"steps\": 3}", "s.json").status().message(),
              HasSubstr("s.json: no \"status\""));
  EXPECT_THAT(ParseRunSummaryJson("{\"status\": \"exploded\"}", "s.json").status().message(),
              HasSubstr("no \"status\""));
  EXPECT_THAT(ParseRunSummaryJson("{\"status\": \"finished\", \"steps\": \"many\"}", "s.json")
                  .status()
                  .message(),
              HasSubstr("steps"));
  const auto newer = ParseRunSummaryJson(
      "{\"status\": \"finished\", \"steps\": 3, \"gpu\": {\"name\": \"x\"}, \"seed\": 9}", "s");
  ASSERT_TRUE(newer.ok()) << newer.status();
  EXPECT_EQ(newer->steps(), 3);
  EXPECT_EQ(newer->seed(), 9u);
}

TEST(RunSummaryProto, HasAFieldForEveryAlternativeDynamics) {
  for (Variant v : kAllVariants) {
    if (v == Variant::kTrue) continue;
    EXPECT_NE(RunSummaryProto::descriptor()->FindFieldByName(
                  absl::StrCat("normalised_loss_", VariantName(v))),
              nullptr)
        << VariantName(v);
  }
}

TEST(RunStatusName, IsTheLowerCaseNameOfTheFiles) {
  EXPECT_EQ(RunStatusName(RunSummaryProto::FINISHED), "finished");
  EXPECT_EQ(RunStatusName(RunSummaryProto::CONVERGED), "converged");
  EXPECT_EQ(RunStatusName(RunSummaryProto::DIVERGED), "diverged");
  EXPECT_EQ(RunStatusName(RunSummaryProto::FAILED), "failed");
  EXPECT_EQ(RunStatusName(RunSummaryProto::PENDING), "pending");
}

TEST(ReadCompletedRun, NeedsAReadableSummaryAndTheSameSpec) {
  const Experiment spec = TinySpec("a");
  const std::string dir = TempDir("completed");
  EXPECT_EQ(ReadCompletedRun(dir, spec).status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(RunExperiment(spec, RunOptions{dir, false}).ok());
  const auto done = ReadCompletedRun(dir, spec);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->proto.status(), RunSummaryProto::FINISHED);
  EXPECT_EQ(done->out_dir, dir);

  const auto other = ReadCompletedRun(dir, TinySpec("a", 0.01));
  EXPECT_EQ(other.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(other.status().message(), HasSubstr("spec.pbtxt is not this run's spec"));

  // A summary.json cut short (as no atomic write leaves it, but a copy might) is not done.
  ASSERT_TRUE(WriteFileAtomically(JoinPath(dir, "summary.json"), "{\"status\": \"fini").ok());
  EXPECT_EQ(ReadCompletedRun(dir, spec).status().code(), absl::StatusCode::kInvalidArgument);

  // A summary written before the message was introduced counts.
  ASSERT_TRUE(WriteFileAtomically(JoinPath(dir, "summary.json"),
                                  Read("experiments/testdata/summary_v0_diverged.json"))
                  .ok());
  EXPECT_TRUE(ReadCompletedRun(dir, spec).ok());
}

TEST(RunExperiment, ReturnsWhatItsSummaryJsonSays) {
  Experiment spec = TinySpec("diverging", /*learning_rate=*/100);
  spec.mutable_architecture()->mutable_mlp()->set_gain(3);
  const std::string dir = TempDir("diverging");
  const auto run = RunExperiment(spec, RunOptions{dir, false});
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->proto.status(), RunSummaryProto::DIVERGED);
  EXPECT_FALSE(run->proto.has_final_loss());  // not finite
  EXPECT_THAT(Read(JoinPath(dir, "summary.json")), Not(HasSubstr("null")));
  const auto read = ReadRunSummary(dir);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->proto.SerializeAsString(), run->proto.SerializeAsString());
}

// Three runs; the second one's folder is blocked by a file, so it fails.
struct Batch {
  std::vector<Experiment> specs = {TinySpec("r0"), TinySpec("r1", 0.02), TinySpec("r2", 0.01)};
  std::vector<RunJob> Jobs(const std::string& root) const {
    std::vector<RunJob> jobs;
    for (const Experiment& spec : specs) jobs.push_back({&spec, JoinPath(root, spec.name())});
    return jobs;
  }
};

TEST(RunAll, OutcomesAndFilesDoNotDependOnThreadsAndProgressHearsEveryRunOnce) {
  const Batch batch;
  std::vector<std::string> curves[2];
  for (int threads : {1, 3}) {
    const std::string root = TempDir(absl::StrCat("threads", threads));
    RunnerOptions options;
    options.threads = threads;
    std::vector<int> heard;
    int last_ended = 0;
    const std::thread::id caller = std::this_thread::get_id();
    options.progress = [&](const RunnerProgress& p) {
      EXPECT_EQ(std::this_thread::get_id(), caller);
      EXPECT_EQ(p.total, 3);
      EXPECT_GE(p.ended, last_ended);
      last_ended = p.ended;
      if (p.index >= 0) {
        heard.push_back(p.index);
        EXPECT_EQ(p.ended, static_cast<int>(heard.size()));
        EXPECT_TRUE(p.outcome->summary.ok());
        EXPECT_FALSE(p.outcome->reused);
      }
    };
    const std::vector<RunOutcome> outcomes = RunAll(batch.Jobs(root), options);
    ASSERT_EQ(outcomes.size(), 3u);
    EXPECT_EQ(std::set<int>(heard.begin(), heard.end()), (std::set<int>{0, 1, 2}));
    EXPECT_EQ(heard.size(), 3u);
    for (int k = 0; k < 3; ++k) {
      ASSERT_TRUE(outcomes[k].summary.ok()) << outcomes[k].summary.status();
      EXPECT_EQ(outcomes[k].summary->proto.name(), batch.specs[k].name());
      curves[threads == 1 ? 0 : 1].push_back(
          Read(JoinPath(JoinPath(root, batch.specs[k].name()), "curves.csv")));
    }
  }
  EXPECT_EQ(curves[0], curves[1]);
}

TEST(RunAll, ResumeKeepsCompletedFoldersOfTheSameSpecOnly) {
  const Batch batch;
  const std::string root = TempDir("resume");
  const std::vector<RunJob> jobs = batch.Jobs(root);
  for (const RunOutcome& o : RunAll(jobs, RunnerOptions())) ASSERT_TRUE(o.summary.ok());
  // r1: summary.json unreadable; r2: a completed run of another spec.
  ASSERT_TRUE(WriteFileAtomically(JoinPath(jobs[1].out_dir, "summary.json"), "{").ok());
  ASSERT_TRUE(RunExperiment(TinySpec("r2", 0.3), RunOptions{jobs[2].out_dir, false}).ok());
  RunnerOptions options;
  options.resume = true;
  std::vector<int> reported;
  options.progress = [&](const RunnerProgress& p) {
    if (p.index >= 0) reported.push_back(p.index);
  };
  const std::vector<RunOutcome> outcomes = RunAll(jobs, options);
  EXPECT_TRUE(outcomes[0].reused);
  EXPECT_FALSE(outcomes[1].reused);
  EXPECT_FALSE(outcomes[2].reused);
  EXPECT_EQ(reported.front(), 0);  // kept runs are reported first
  for (const RunOutcome& o : outcomes) ASSERT_TRUE(o.summary.ok()) << o.summary.status();
  EXPECT_TRUE(ReadCompletedRun(jobs[2].out_dir, batch.specs[2]).ok());

  // RunExperiments is the same runner.
  const auto summaries =
      RunExperiments(batch.specs, {jobs[0].out_dir, jobs[1].out_dir, jobs[2].out_dir}, 2,
                     /*progress=*/false, /*resume=*/true);
  ASSERT_EQ(summaries.size(), 3u);
  for (const auto& s : summaries) EXPECT_TRUE(s.ok());
}

TEST(RunAll, FreshFoldersStartEmptyAndKeepTheErrorOfAFailure) {
  const Batch batch;
  const std::string root = TempDir("fresh");
  std::vector<RunJob> jobs = batch.Jobs(root);
  ASSERT_TRUE(MakeDirs(jobs[0].out_dir).ok());
  ASSERT_TRUE(WriteFileAtomically(JoinPath(jobs[0].out_dir, "curves.csv.tmp.123"), "x").ok());
  Experiment broken = batch.specs[1];
  broken.mutable_architecture()->mutable_mlp()->set_depth(0);
  jobs[1].spec = &broken;
  ASSERT_TRUE(MakeDirs(jobs[1].out_dir).ok());
  RunnerOptions options;
  options.fresh_folders = true;
  options.threads = 2;
  const std::vector<RunOutcome> outcomes = RunAll(jobs, options);
  EXPECT_TRUE(outcomes[0].summary.ok());
  EXPECT_FALSE(FileExists(JoinPath(jobs[0].out_dir, "curves.csv.tmp.123")));
  EXPECT_THAT(outcomes[1].summary.status().message(), HasSubstr("architecture.mlp.depth = 0"));
  EXPECT_THAT(Read(JoinPath(jobs[1].out_dir, "error.txt")),
              HasSubstr("architecture.mlp.depth = 0"));
  EXPECT_TRUE(outcomes[2].summary.ok());
}

}  // namespace
}  // namespace replearn
