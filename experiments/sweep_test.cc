#include "experiments/sweep.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/csv.h"
#include "core/file_util.h"
#include "core/rng.h"
#include "experiments/loader.h"
#include "experiments/run.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/summary.pb.h"

namespace replearn {
namespace {

using ::testing::HasSubstr;

constexpr char kDefaultSpec[] = "experiments/specs/two_point_default.pbtxt";
constexpr double kRelTol = 1e-5;

// The default two-point spec shrunk for speed (3 x 16 net, 200 steps, no figures), with
// seed 7 and the given sweep section.
Experiment TinySweep(const std::string& sweep_text) {
  auto text = ReadFile(kDefaultSpec);
  EXPECT_TRUE(text.ok()) << text.status();
  auto spec = ParseExperiment(absl::StrCat(*text, "\n", sweep_text), "test");
  EXPECT_TRUE(spec.ok()) << spec.status();
  const absl::Status s =
      ApplyOverrides(*spec, {"architecture.mlp.depth=3", "architecture.mlp.width=16",
                             "training.steps=200", "training.learning_rate=0.05", "training.seed=7",
                             "theory.tracked_layer=1", "output.figures=false"});
  EXPECT_TRUE(s.ok()) << s;
  return *spec;
}

SweepPlan Expand(const std::string& sweep_text) {
  auto plan = ExpandSweep(TinySweep(sweep_text));
  EXPECT_TRUE(plan.ok()) << plan.status();
  return *plan;
}

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

SweepResult RunTrials(const SweepPlan& plan, const std::string& out, int threads = 2,
                      Shard shard = {}) {
  SweepOptions options;
  options.out_dir = out;
  options.threads = threads;
  options.shard = shard;
  options.progress = false;
  auto result = RunSweep(plan, options);
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? *result : SweepResult{};
}

constexpr char kGainByNonlinearity[] = R"pb(
  sweep {
    axis {
      path: "architecture.mlp.gain"
      values: [ "0.9", "1.1" ]
    }
    axis {
      path: "architecture.mlp.nonlinearity"
      values: [ "RELU", "TANH", "GELU" ]
    }
    trials: 2
  }
)pb";

TEST(ExpandSweep, CartesianProductInAxisOrderWithSeedsFastest) {
  const SweepPlan plan = Expand(kGainByNonlinearity);
  ASSERT_EQ(plan.trials.size(), 12u);
  EXPECT_EQ(plan.axis_paths,
            (std::vector<std::string>{"architecture.mlp.gain", "architecture.mlp.nonlinearity"}));
  const std::vector<std::string> gains = {"0.9", "1.1"};
  const std::vector<std::string> nonlinearities = {"RELU", "TANH", "GELU"};
  const std::vector<Nonlinearity> enums = {RELU, TANH, GELU};
  // Seed index 0 keeps training.seed; index 1 is DeriveSeed(7, 1) at every point.
  const uint64_t seed1 = Rng::DeriveSeed(7, 1);
  EXPECT_NE(seed1, 7u);
  for (int i = 0; i < 12; ++i) {
    const SweepTrial& t = plan.trials[i];
    const int g = i / 6, n = (i / 2) % 3, k = i % 2;
    EXPECT_EQ(t.index, i);
    EXPECT_EQ(t.id, absl::StrCat(i < 10 ? "t000" : "t00", i));
    EXPECT_EQ(t.values, (std::vector<std::string>{gains[g], nonlinearities[n]}));
    EXPECT_EQ(t.seed_index, k);
    EXPECT_EQ(t.seed, k == 0 ? 7u : seed1);
    EXPECT_EQ(t.spec.training().seed(), t.seed);
    EXPECT_DOUBLE_EQ(t.spec.architecture().mlp().gain(), g == 0 ? 0.9 : 1.1);
    EXPECT_EQ(t.spec.architecture().mlp().nonlinearity(), enums[n]);
    EXPECT_EQ(t.spec.architecture().mlp().depth(), 3);  // overrides survive
    EXPECT_FALSE(t.spec.has_sweep());
    EXPECT_EQ(t.spec.name(), absl::StrCat("two_point/", t.folder));
  }
  EXPECT_EQ(plan.trials[3].folder, "t0003_gain=0.9_nonlinearity=TANH_s1");
  EXPECT_EQ(plan.trials[10].folder, "t0010_gain=1.1_nonlinearity=GELU_s0");
  // Folder names are unique.
  std::set<std::string> folders;
  for (const SweepTrial& t : plan.trials) folders.insert(t.folder);
  EXPECT_EQ(folders.size(), 12u);
}

TEST(ExpandSweep, OneTrialPerPointKeepsTheSeedAndNoSeedSuffix) {
  const SweepPlan plan = Expand(R"pb(
    sweep {
      axis {
        path: "probe.two_point.layers"
        values: [ "[0, 2]", "[1]" ]
      }
    }
  )pb");
  ASSERT_EQ(plan.trials.size(), 2u);
  EXPECT_EQ(plan.trials[0].folder, "t0000_layers=_0__2_");
  EXPECT_EQ(plan.trials[1].folder, "t0001_layers=_1_");
  EXPECT_EQ(plan.trials[0].seed, 7u);
  EXPECT_EQ(plan.trials[1].seed, 7u);
  EXPECT_THAT(plan.trials[0].spec.probe(0).two_point().layers(), testing::ElementsAre(0, 2));
}

TEST(ExpandSweep, NoAxesIsASeedSweep) {
  const SweepPlan plan = Expand("sweep { trials: 3 }");
  ASSERT_EQ(plan.trials.size(), 3u);
  EXPECT_EQ(plan.trials[2].folder, "t0002_s2");
  EXPECT_EQ(plan.trials[2].seed, Rng::DeriveSeed(7, 2));
}

TEST(ExpandSweep, IdsWidenBeyondTenThousandTrials) {
  std::string values;
  for (int i = 1; i <= 10001; ++i) absl::StrAppend(&values, i > 1 ? ", " : "", "\"", i, "\"");
  const SweepPlan plan =
      Expand(absl::StrCat("sweep { axis { path: \"training.steps\" values: [", values, "] } }"));
  ASSERT_EQ(plan.trials.size(), 10001u);
  EXPECT_EQ(plan.trials[0].id, "t00000");
  EXPECT_EQ(plan.trials[10000].id, "t10000");
  EXPECT_EQ(plan.trials[10000].spec.training().steps(), 10001);
}

TEST(ExpandSweep, ReportsEveryProblemNamingAxisAndPath) {
  const auto plan = ExpandSweep(TinySweep(R"pb(
    sweep {
      axis {
        path: "architecture.mlp.gainz"
        values: [ "1" ]
      }
      axis { path: "architecture.mlp.width" }
      axis {
        path: "architecture.mlp.gain"
        values: [ "0.9", "abc" ]
      }
      axis {
        path: "training.steps"
        values: [ "10", "ten" ]
      }
      axis {
        path: "architecture.mlp.nonlinearity"
        values: [ "SOFTMAX" ]
      }
      axis {
        path: "architecture.resnet.depth"
        values: [ "3" ]
      }
      axis {
        path: "output.dir"
        values: [ "x" ]
      }
      axis {
        path: "training.seed"
        values: [ "1", "1" ]
      }
      axis {
        path: "architecture.mlp.gain"
        values: [ "2" ]
      }
      trials: 0
    }
  )pb"));
  ASSERT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string m(plan.status().message());
  EXPECT_THAT(m, HasSubstr("sweep.axis.0 (architecture.mlp.gainz): no field \"gainz\""));
  EXPECT_THAT(m, HasSubstr("sweep.axis.1 (architecture.mlp.width): no values"));
  EXPECT_THAT(m, HasSubstr("sweep.axis.2 (architecture.mlp.gain): value \"abc\" is not a number"));
  EXPECT_THAT(m, HasSubstr("sweep.axis.3 (training.steps): value \"ten\" is not an integer"));
  EXPECT_THAT(m, HasSubstr("sweep.axis.4 (architecture.mlp.nonlinearity): value \"SOFTMAX\" is "
                           "not one of [NONE, RELU"));
  EXPECT_THAT(m, HasSubstr("sweep.axis.5 (architecture.resnet.depth): the spec uses "
                           "architecture.mlp"));
  EXPECT_THAT(m, HasSubstr("sweep.axis.6 (output.dir): set by the sweep"));
  EXPECT_THAT(m, HasSubstr("sweep.axis.7 (training.seed): value \"1\" is listed twice"));
  EXPECT_THAT(m, HasSubstr("sweep.axis.8 (architecture.mlp.gain): the same path as sweep.axis.2"));
  EXPECT_THAT(m, HasSubstr("sweep.trials = 0; must be >= 1"));
}

TEST(ExpandSweep, RequiresASweepSection) {
  auto spec = LoadExperiment(kDefaultSpec);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_THAT(ExpandSweep(*spec).status().message(), HasSubstr("sweep: missing"));
}

TEST(ValidateSweep, BuildsEveryPointAndNamesTrialValuesAndField) {
  const SweepPlan plan = Expand(R"pb(
    sweep {
      axis {
        path: "architecture.mlp.depth"
        values: [ "3", "0" ]
      }
      axis {
        path: "training.learning_rate"
        values: [ "0.01", "-1" ]
      }
      trials: 2
    }
  )pb");
  const absl::Status s = ValidateSweep(plan);
  ASSERT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  const std::string m(s.message());
  EXPECT_THAT(m, testing::Not(HasSubstr("t0000")));
  EXPECT_THAT(m, HasSubstr("t0002 (architecture.mlp.depth=3, training.learning_rate=-1): "
                           "training.learning_rate = -1; must be > 0"));
  EXPECT_THAT(m, HasSubstr("t0004 (architecture.mlp.depth=0, training.learning_rate=0.01): "
                           "architecture.mlp.depth = 0; must be >= 1"));
  EXPECT_THAT(m, HasSubstr("t0006 (architecture.mlp.depth=0, training.learning_rate=-1): "
                           "training.learning_rate = -1; must be > 0"));
  EXPECT_THAT(m, HasSubstr("t0006 (architecture.mlp.depth=0, training.learning_rate=-1): "
                           "architecture.mlp.depth = 0; must be >= 1"));
  EXPECT_TRUE(ValidateSweep(Expand(kGainByNonlinearity)).ok());
}

TEST(Shard, ParsesAndPartitionsTheTrials) {
  auto shard = ParseShard("1/3");
  ASSERT_TRUE(shard.ok()) << shard.status();
  EXPECT_EQ(shard->index, 1);
  EXPECT_EQ(shard->count, 3);
  for (const char* bad : {"3/3", "-1/2", "a/b", "1", "0/0", "1/2/3"}) {
    EXPECT_THAT(ParseShard(bad).status().message(),
                HasSubstr(absl::StrCat("--shard = \"", bad, "\"; expected i/N")));
  }
  for (int trial = 0; trial < 20; ++trial) {
    int owners = 0;
    for (int i = 0; i < 3; ++i) owners += (Shard{i, 3}).Contains(trial);
    EXPECT_EQ(owners, 1) << trial;
    EXPECT_TRUE((Shard{trial % 3, 3}.Contains(trial)));
  }
}

constexpr char kGainSeeds[] = R"pb(
  sweep {
    axis {
      path: "architecture.mlp.gain"
      values: [ "0.9", "1.1" ]
    }
    trials: 2
  }
)pb";

TEST(RunSweep, WritesTrialFoldersIndexAndRerunnableSpecs) {
  const SweepPlan plan = Expand(kGainSeeds);
  const std::string out = TempDir("full");
  const SweepResult r = RunTrials(plan, out);
  EXPECT_EQ(r.total, 4);
  EXPECT_EQ(r.ran, 4);
  EXPECT_EQ(r.skipped, 0);
  EXPECT_EQ(r.finished, 4);
  EXPECT_EQ(r.index_path, JoinPath(out, "index.csv"));

  auto index = ReadCsvFile(r.index_path);
  ASSERT_TRUE(index.ok()) << index.status();
  EXPECT_EQ(index->header,
            (std::vector<std::string>{"trial", "folder", "architecture.mlp.gain", "seed", "status",
                                      "steps", "final_loss", "eta_h", "eta_y", "normalised_loss",
                                      "r2_h", "r2_y", "r2_w", "h_final", "h_final_predicted"}));
  ASSERT_EQ(index->rows.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    const std::vector<std::string>& row = index->rows[i];
    const SweepTrial& t = plan.trials[i];
    EXPECT_EQ(row[0], t.id);
    EXPECT_EQ(row[1], t.folder);
    EXPECT_EQ(row[2], i < 2 ? "0.9" : "1.1");
    EXPECT_EQ(row[3], absl::StrCat(i % 2 == 0 ? 7u : Rng::DeriveSeed(7, 1)));
    EXPECT_EQ(row[4], "finished");
    EXPECT_EQ(row[5], "200");
    for (int c = 6; c < 15; ++c) EXPECT_FALSE(row[c].empty()) << index->header[c];
    // final_loss is the probe's last loss row (same loss, measured before no update).
    auto curves = ReadCsvFile(JoinPath(JoinPath(out, t.folder), "curves.csv"));
    ASSERT_TRUE(curves.ok()) << curves.status();
    double last_loss = NAN;
    for (const auto& c : curves->rows) {
      if (c[2] == "loss") last_loss = std::stod(c[3]);
    }
    const double final_loss = std::stod(row[6]);
    EXPECT_NEAR(final_loss, last_loss, kRelTol * last_loss);
    // The trial's own spec says what it trained.
    auto trial_spec = LoadExperiment(JoinPath(JoinPath(out, t.folder), "spec.pbtxt"));
    ASSERT_TRUE(trial_spec.ok()) << trial_spec.status();
    EXPECT_FALSE(trial_spec->has_sweep());
    EXPECT_EQ(trial_spec->training().seed(), t.seed);
  }
  // Different seeds and gains give different curves.
  EXPECT_NE(Read(JoinPath(JoinPath(out, plan.trials[0].folder), "curves.csv")),
            Read(JoinPath(JoinPath(out, plan.trials[1].folder), "curves.csv")));

  // `replearn run --spec=<trial>/spec.pbtxt` reproduces a trial bit for bit.
  const SweepTrial& t = plan.trials[3];
  auto rerun_spec = LoadExperiment(JoinPath(JoinPath(out, t.folder), "spec.pbtxt"));
  ASSERT_TRUE(rerun_spec.ok());
  RunOptions options;
  options.out_dir = TempDir("rerun");
  options.progress = false;
  ASSERT_TRUE(RunExperiment(*rerun_spec, options).ok());
  for (const char* file : {"curves.csv", "fit.csv", "spec.pbtxt"}) {
    EXPECT_EQ(Read(JoinPath(options.out_dir, file)), Read(JoinPath(JoinPath(out, t.folder), file)))
        << file;
  }
}

TEST(RunSweep, ResumeRunsOnlyUnfinishedTrialsAndRebuildsTheSameIndex) {
  const SweepPlan plan = Expand(kGainSeeds);
  const std::string out = TempDir("resume");
  RunTrials(plan, out, /*threads=*/1);
  const std::string index = Read(JoinPath(out, "index.csv"));
  const std::string dir1 = JoinPath(out, plan.trials[1].folder);
  const std::string curves1 = Read(JoinPath(dir1, "curves.csv"));
  // As a kill mid-trial leaves it: no summary.json, a temporary of an atomic write.
  ASSERT_EQ(std::remove(JoinPath(dir1, "summary.json").c_str()), 0);
  ASSERT_TRUE(WriteFileAtomically(JoinPath(dir1, "curves.csv.tmp.12345"), "partial").ok());
  ASSERT_EQ(std::remove(JoinPath(out, "index.csv").c_str()), 0);

  const SweepResult r = RunTrials(plan, out);
  EXPECT_EQ(r.skipped, 3);
  EXPECT_EQ(r.ran, 1);
  EXPECT_EQ(r.finished, 4);
  EXPECT_EQ(Read(JoinPath(out, "index.csv")), index);
  EXPECT_EQ(Read(JoinPath(dir1, "curves.csv")), curves1);
  EXPECT_FALSE(FileExists(JoinPath(dir1, "curves.csv.tmp.12345")));

  const SweepResult again = RunTrials(plan, out);
  EXPECT_EQ(again.ran, 0);
  EXPECT_EQ(Read(JoinPath(out, "index.csv")), index);

  // A summary.json that does not parse means the trial did not complete: it runs again.
  const std::string dir2 = JoinPath(out, plan.trials[2].folder);
  ASSERT_TRUE(WriteFileAtomically(JoinPath(dir2, "summary.json"), "{\"status\": ").ok());
  const SweepResult repaired = RunTrials(plan, out);
  EXPECT_EQ(repaired.ran, 1);
  EXPECT_EQ(repaired.finished, 4);
  EXPECT_EQ(Read(JoinPath(out, "index.csv")), index);

  // A different sweep into the same folder is refused before anything runs.
  SweepOptions options;
  options.out_dir = out;
  options.progress = false;
  const auto other = RunSweep(Expand(R"pb(sweep {
                                            axis {
                                              path: "architecture.mlp.gain"
                                              values: [ "0.5" ]
                                            }
                                          })pb"),
                              options);
  EXPECT_EQ(other.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(other.status().message(), HasSubstr("sweep.pbtxt holds a different sweep"));
}

TEST(RunSweep, RecordsDivergedAndFailedTrialsAndGoesOn) {
  const SweepPlan plan = Expand(R"pb(
    sweep {
      axis {
        path: "training.learning_rate"
        values: [ "0.05", "100", "0.02" ]
      }
    }
  )pb");
  const std::string out = TempDir("failures");
  // A file where trial 0's folder should be makes that trial fail at run time.
  const std::string blocker = JoinPath(out, plan.trials[0].folder);
  ASSERT_TRUE(WriteFileAtomically(blocker, "not a folder").ok());
  const SweepResult r = RunTrials(plan, out);
  EXPECT_EQ(r.ran, 3);
  EXPECT_EQ(r.failed, 1);
  EXPECT_EQ(r.diverged, 1);
  EXPECT_EQ(r.finished, 1);
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_THAT(r.failures[0], HasSubstr(plan.trials[0].folder));
  auto index = ReadCsvFile(r.index_path);
  ASSERT_TRUE(index.ok()) << index.status();
  ASSERT_EQ(index->rows.size(), 3u);
  EXPECT_EQ(index->rows[0][4], "failed");
  EXPECT_EQ(index->rows[0][6], "");  // no final_loss
  EXPECT_EQ(index->rows[1][4], "diverged");
  EXPECT_EQ(index->rows[1][7], "");  // no fit after divergence
  EXPECT_EQ(index->rows[2][4], "finished");

  // Once the cause is gone, a rerun retries only the failed trial.
  ASSERT_EQ(std::remove(blocker.c_str()), 0);
  const SweepResult retry = RunTrials(plan, out);
  EXPECT_EQ(retry.ran, 1);
  EXPECT_EQ(retry.failed, 0);
  EXPECT_EQ(retry.diverged, 1);
  EXPECT_EQ(retry.finished, 2);
}

TEST(SweepIndex, ColumnsAreTheSummaryFieldsMarkedWithIndexColumn) {
  std::vector<std::pair<int, std::string>> marked;
  const auto* descriptor = RunSummaryProto::descriptor();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const auto& options = descriptor->field(i)->options();
    if (options.HasExtension(index_column)) {
      marked.emplace_back(options.GetExtension(index_column), descriptor->field(i)->name());
    }
  }
  std::sort(marked.begin(), marked.end());
  std::vector<std::string> names;
  for (size_t k = 0; k < marked.size(); ++k) {
    EXPECT_EQ(marked[k].first, static_cast<int>(k) + 1) << marked[k].second;
    names.push_back(marked[k].second);
  }
  const SweepPlan plan = Expand(kGainSeeds);
  auto csv = SweepIndexCsv(plan, TempDir("empty_index"), {0, 1}, nullptr);
  ASSERT_TRUE(csv.ok()) << csv.status();
  auto index = ParseCsv(*csv, "index.csv");
  ASSERT_TRUE(index.ok()) << index.status();
  EXPECT_EQ(std::vector<std::string>(index->header.begin() + 4, index->header.end()), names);
  EXPECT_EQ(index->rows[0][4], "pending");
}

TEST(MergeSweep, ShardsInSeparateFoldersGiveTheUnshardedIndex) {
  const SweepPlan plan = Expand(kGainSeeds);
  const std::string whole = TempDir("whole");
  RunTrials(plan, whole);
  const std::string a = TempDir("shard_a"), b = TempDir("shard_b");
  const SweepResult ra = RunTrials(plan, a, 1, Shard{0, 2});
  EXPECT_EQ(ra.total, 2);
  EXPECT_EQ(ra.index_path, JoinPath(a, "index.shard_0_of_2.csv"));
  auto shard_index = ReadCsvFile(ra.index_path);
  ASSERT_TRUE(shard_index.ok());
  ASSERT_EQ(shard_index->rows.size(), 2u);
  EXPECT_EQ(shard_index->rows[0][0], "t0000");
  EXPECT_EQ(shard_index->rows[1][0], "t0002");
  EXPECT_FALSE(FileExists(JoinPath(a, plan.trials[1].folder)));

  // Before the second shard ran, its trials are pending.
  auto partial = MergeSweep(TempDir("merged_partial"), {a});
  ASSERT_TRUE(partial.ok()) << partial.status();
  EXPECT_EQ(partial->pending, 2);
  EXPECT_EQ(partial->finished, 2);

  RunTrials(plan, b, 1, Shard{1, 2});
  const std::string merged = TempDir("merged");
  auto m = MergeSweep(merged, {a, b});
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->finished, 4);
  EXPECT_EQ(m->pending, 0);
  EXPECT_EQ(Read(JoinPath(merged, "index.csv")), Read(JoinPath(whole, "index.csv")));
  for (const SweepTrial& t : plan.trials) {
    EXPECT_EQ(Read(JoinPath(JoinPath(merged, t.folder), "curves.csv")),
              Read(JoinPath(JoinPath(whole, t.folder), "curves.csv")));
  }
  // The merged folder is a complete sweep folder: rerunning the sweep there runs nothing.
  EXPECT_EQ(RunTrials(plan, merged).ran, 0);

  // Folders of different sweeps are not merged.
  const std::string other = TempDir("other");
  RunTrials(Expand(R"pb(sweep {
                          axis {
                            path: "architecture.mlp.gain"
                            values: [ "0.5" ]
                          }
                        })pb"),
            other);
  auto mixed = MergeSweep(TempDir("mixed"), {a, other});
  EXPECT_THAT(mixed.status().message(), HasSubstr("the folders hold different sweeps"));
  EXPECT_THAT(MergeSweep(TempDir("empty"), {}).status().message(),
              HasSubstr("sweep.pbtxt: not found"));
}

}  // namespace
}  // namespace replearn
