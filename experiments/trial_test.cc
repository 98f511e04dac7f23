#include "experiments/trial.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/file_util.h"
#include "core/rng.h"
#include "experiments/loader.h"
#include "experiments/run.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace replearn {
namespace {

using ::testing::HasSubstr;

Experiment SmallSpec(int steps = 20) {
  auto spec = ParseExperiment(
      R"pb(
        name: "small"
        architecture { mlp { depth: 4 width: 16 nonlinearity: LEAKY_RELU gain: 1.0 } }
        dataset { two_point { dx2: 1 dy2: 0.5 } }
        training { learning_rate: 0.05 seed: 1 threads: 1 }
        probe { two_point {} }
      )pb",
      "small");
  EXPECT_TRUE(spec.ok()) << spec.status();
  spec->mutable_training()->set_steps(steps);
  return *spec;
}

TrainResult TrainOrDie(const Experiment& spec) {
  auto trial = BuildTrial(spec);
  EXPECT_TRUE(trial.ok()) << trial.status();
  auto result = Train(*trial, TrainOptions{.progress = false});
  EXPECT_TRUE(result.ok()) << result.status();
  return *std::move(result);
}

TEST(BuildTrial, ReportsEveryProblemAtOnceNamingFields) {
  Experiment spec = SmallSpec();
  spec.mutable_training()->set_learning_rate(-0.1);
  spec.mutable_training()->set_steps(-3);
  spec.mutable_architecture()->mutable_mlp()->set_depth(0);
  const auto trial = BuildTrial(spec);
  EXPECT_EQ(trial.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(trial.status().message(), HasSubstr("training.learning_rate = -0.1; must be > 0"));
  EXPECT_THAT(trial.status().message(), HasSubstr("training.steps = -3"));
  EXPECT_THAT(trial.status().message(), HasSubstr("architecture.mlp.depth = 0"));
}

// Values that would overflow float32, a second two_point probe, repeated fit layers, an
// infinite stop_loss and absurd thread counts are caught before training, naming the field.
TEST(BuildTrial, RejectsLateFailuresBeforeTraining) {
  auto message = [](Experiment spec) { return std::string(BuildTrial(spec).status().message()); };
  Experiment spec = SmallSpec();
  spec.mutable_architecture()->mutable_mlp()->set_gain(1e308);
  EXPECT_THAT(message(spec), HasSubstr("architecture.mlp.gain = 1e+308; must be finite"));
  spec = SmallSpec();
  spec.mutable_dataset()->mutable_two_point()->set_dx2(std::nan(""));
  EXPECT_THAT(message(spec), HasSubstr("dataset.two_point.dx2 = nan; must be finite"));
  spec = SmallSpec();
  spec.mutable_training()->set_learning_rate(1e300);
  EXPECT_THAT(message(spec), HasSubstr("training.learning_rate = 1e+300; must be > 0 and at most"));
  spec = SmallSpec();
  spec.mutable_training()->set_stop_loss(std::numeric_limits<double>::infinity());
  EXPECT_EQ(message(spec),
            "training.stop_loss = inf; must be finite and >= 0 (0 = never stop early)");
  spec = SmallSpec();
  spec.mutable_training()->set_threads(1000);
  EXPECT_THAT(message(spec), HasSubstr("training.threads = 1000; must be in 0..256"));
  spec = SmallSpec();
  spec.add_probe()->mutable_two_point()->add_layers(1);
  EXPECT_THAT(message(spec), HasSubstr("probe.1.two_point: a second two_point probe"));
  spec = SmallSpec();
  spec.mutable_theory()->add_layers(2);
  spec.mutable_theory()->add_layers(2);
  EXPECT_THAT(message(spec), HasSubstr("theory.layers: layer 2 is listed twice"));
  EXPECT_TRUE(BuildTrial(SmallSpec()).ok());
}

TEST(BuildTrial, RefusesRunsWhoseMemoryCannotExistBeforeAllocating) {
  Experiment spec = SmallSpec();
  spec.mutable_training()->set_steps(1000000000000);
  EXPECT_THAT(std::string(BuildTrial(spec).status().message()),
              HasSubstr("training.steps = 1000000000000 with probe.two_point.every = 1 keeps "
                        "about 5.12e+14 bytes"));  // 1e12 x (4 layers + 4) x 32 x 2
  spec = SmallSpec();
  spec.mutable_dataset()->mutable_two_point()->set_input_dim(2000000000);
  EXPECT_THAT(std::string(BuildTrial(spec).status().message()),
              HasSubstr("dataset.two_point.input_dim = 2000000000; must be in 1..16777216"));
}

TEST(BuildTrial, RejectsInitialWeightsThatAreNotRegularFiles) {
  Experiment spec = SmallSpec();
  spec.mutable_architecture()->set_init_npz(std::getenv("TEST_TMPDIR"));
  EXPECT_THAT(std::string(BuildTrial(spec).status().message()),
              HasSubstr("is a directory; expected a regular file"));
  spec.mutable_architecture()->set_init_npz("/dev/zero");
  EXPECT_THAT(std::string(BuildTrial(spec).status().message()),
              HasSubstr("/dev/zero is not a regular file"));
}

TEST(Train, AdamTrainsAndItsHyperparametersAreValidatedBeforeTraining) {
  Experiment spec = SmallSpec(300);
  spec.mutable_training()->set_optimizer(ADAM);
  spec.mutable_training()->set_learning_rate(1e-3);
  const TrainResult adam = TrainOrDie(spec);
  EXPECT_EQ(adam.status, RunSummaryProto::FINISHED);
  // Adam's first update moves every parameter by ~lr against its gradient's sign, so the
  // run differs from SGD at the same rate and the loss falls far below its start.
  Experiment sgd_spec = spec;
  sgd_spec.mutable_training()->set_optimizer(SGD);
  const TrainResult sgd = TrainOrDie(sgd_spec);
  EXPECT_NE(adam.final_loss, sgd.final_loss);
  const double first_loss = adam.curves.First("loss");
  ASSERT_GT(first_loss, 0);
  EXPECT_LT(adam.final_loss, 1e-2 * first_loss);

  spec.mutable_training()->mutable_adam()->set_beta2(1.5);
  const auto trial = BuildTrial(spec);
  EXPECT_EQ(trial.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(trial.status().message(), HasSubstr("training.adam.beta2 = 1.5; must be in [0, 1)"));
}

TEST(BuildTrial, RejectsProbeLayerAndTrackedLayerOutsideTheNetwork) {
  Experiment spec = SmallSpec();
  spec.mutable_probe(0)->mutable_two_point()->add_layers(4);
  spec.mutable_theory()->set_tracked_layer(7);
  const auto trial = BuildTrial(spec);
  EXPECT_THAT(trial.status().message(), HasSubstr("probe.two_point.layers: layer 4"));
  EXPECT_THAT(trial.status().message(), HasSubstr("theory.tracked_layer = 7"));
}

TEST(BuildTrial, MissingSectionsAreNamed) {
  const auto trial = BuildTrial(Experiment());
  EXPECT_THAT(trial.status().message(), HasSubstr("dataset: missing"));
  EXPECT_THAT(trial.status().message(), HasSubstr("architecture: missing"));
}

TEST(Train, SameSeedIsBitIdenticalOtherSeedDiffers) {
  const std::string a = TrainOrDie(SmallSpec()).curves.ToCsv();
  const std::string b = TrainOrDie(SmallSpec()).curves.ToCsv();
  EXPECT_EQ(a, b);
  Experiment other = SmallSpec();
  other.mutable_training()->set_seed(2);
  EXPECT_NE(a, TrainOrDie(other).curves.ToCsv());
}

TEST(Train, RecordsEveryLayerEveryStepAndLearns) {
  const TrainResult r = TrainOrDie(SmallSpec(200));
  EXPECT_EQ(r.status, RunSummaryProto::FINISHED);
  EXPECT_EQ(r.steps, 200);
  // 201 measurements x (4 layers of h + y, w, ybar, loss).
  EXPECT_EQ(r.curves.rows().size(), 201u * 8);
  EXPECT_LT(r.final_loss, 0.1 * r.curves.First("loss"));
}

// [LOSS-SPLIT] on real network outputs: the trainer's own loss (computed from the
// residuals) equals 1/2 ybar + 1/4 (w + (dy2 - y)/2) built from the probe's y, w, ybar.
TEST(Train, LossSplitHoldsOnNetworkOutputs) {
  Experiment spec = SmallSpec(30);
  spec.mutable_training()->set_stop_loss(0);
  const TrainResult r = TrainOrDie(spec);
  const double dy2 = 0.5;
  const double split =
      0.5 * r.curves.Last("ybar") + 0.25 * (r.curves.Last("w") + 0.5 * (dy2 - r.curves.Last("y")));
  constexpr double kRelTol = 1e-5;  // dy2 of the f32 targets differs from 0.5 by ~1e-7
  EXPECT_NEAR(r.final_loss, split, kRelTol * r.final_loss + 1e-7);
  for (const auto& row : r.curves.rows()) {
    ASSERT_TRUE(std::isfinite(row.value));
  }
}

TEST(Train, StopsAtStopLossAsConverged) {
  Experiment spec = SmallSpec(5000);
  spec.mutable_training()->set_stop_loss(1e-3);
  const TrainResult r = TrainOrDie(spec);
  EXPECT_EQ(r.status, RunSummaryProto::CONVERGED);
  EXPECT_LT(r.steps, 5000);
  EXPECT_LT(r.final_loss, 1e-3);
  EXPECT_EQ(r.curves.Last("loss"), r.final_loss);
}

TEST(Train, NonFiniteLossEndsTheRunAsDiverged) {
  Experiment spec = SmallSpec(500);
  spec.mutable_training()->set_learning_rate(50);
  spec.mutable_architecture()->mutable_mlp()->set_gain(3);
  const TrainResult r = TrainOrDie(spec);
  EXPECT_EQ(r.status, RunSummaryProto::DIVERGED);
  EXPECT_GE(r.diverged_step, 1);
  EXPECT_EQ(r.steps, r.diverged_step);
  EXPECT_FALSE(std::isfinite(r.final_loss));
}

TEST(RunExperiment, DefaultSpecSmokeWritesAllFilesReproducibly) {
  auto spec = LoadExperiment("experiments/specs/two_point_default.pbtxt");
  ASSERT_TRUE(spec.ok()) << spec.status();
  ASSERT_TRUE(ApplyOverrides(*spec, {"architecture.mlp.width=8", "training.steps=5"}).ok());
  const std::string dir = JoinPath(std::getenv("TEST_TMPDIR"), "smoke");
  const auto s = RunExperiment(*spec, RunOptions{dir, false});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->proto.status(), RunSummaryProto::FINISHED);
  EXPECT_EQ(s->tracked_layer, 10);
  const std::string curves = *ReadFile(JoinPath(dir, "curves.csv"));
  EXPECT_EQ(curves.rfind("step,layer,quantity,value\n", 0), 0u);
  EXPECT_EQ(std::count(curves.begin(), curves.end(), '\n'), 1 + 6 * (20 + 4));
  const std::string summary = *ReadFile(JoinPath(dir, "summary.json"));
  EXPECT_THAT(summary, HasSubstr("\"status\": \"finished\""));
  EXPECT_THAT(summary, HasSubstr("\"seed\": \"1\""));
  // The theory fit ran on every recorded layer.
  const std::string fit = *ReadFile(JoinPath(dir, "fit.csv"));
  EXPECT_EQ(fit.rfind("layer,eta_h,eta_y,eta_ybar,sse,normalised_loss,r2_h,r2_y,r2_w,"
                      "h_final_predicted,h_final_measured\n",
                      0),
            0u);
  EXPECT_EQ(std::count(fit.begin(), fit.end(), '\n'), 1 + 20);
  EXPECT_TRUE(FileExists(JoinPath(dir, "theory_curves.csv")));
  EXPECT_THAT(summary, HasSubstr("\"eta_h\": "));
  EXPECT_TRUE(s->fitted);
  const auto resolved = LoadExperiment(JoinPath(dir, "spec.pbtxt"));
  ASSERT_TRUE(resolved.ok());
  EXPECT_EQ(resolved->architecture().mlp().width(), 8);
  ASSERT_TRUE(RunExperiment(*resolved, RunOptions{dir, false}).ok());
  EXPECT_EQ(*ReadFile(JoinPath(dir, "curves.csv")), curves);
}

}  // namespace
}  // namespace replearn

namespace replearn {
namespace {

// A 10-example, 3-class problem with a 6-example held-out split, on a small MLP.
Trial ClassificationTrial(int batch_size, bool shuffle, uint64_t seed) {
  Experiment spec;
  auto* mlp = spec.mutable_architecture()->mutable_mlp();
  mlp->set_depth(2);
  mlp->set_width(8);
  spec.mutable_training()->set_learning_rate(0.1);
  spec.mutable_training()->set_batch_size(batch_size);
  spec.mutable_training()->set_epochs(4);
  spec.mutable_training()->set_shuffle(shuffle);
  spec.mutable_training()->set_seed(seed);
  spec.mutable_theory()->set_enabled(false);
  Trial trial;
  trial.spec = spec;
  auto data = std::make_unique<Dataset>();
  Rng rng(99);
  auto fill = [&](MatrixRM& x, MatrixRM& y, std::vector<int>& labels, int n) {
    x.resize(n, 3);
    y = MatrixRM::Zero(n, 3);
    for (int i = 0; i < n; ++i) {
      labels.push_back(static_cast<int>(rng.UniformInt(3)));
      for (int j = 0; j < 3; ++j) x(i, j) = static_cast<float>(rng.Normal()) + (j == labels[i]);
      y(i, labels.back()) = 1.0f;
    }
  };
  fill(data->x, data->y, data->labels, 10);
  fill(data->x_test, data->y_test, data->test_labels, 6);
  BuildContext ctx{3, 3, seed};
  auto net = CreateArchitecture(spec.architecture(), ctx);
  EXPECT_TRUE(net.ok()) << net.status();
  trial.net = *std::move(net);
  trial.data = std::move(data);
  return trial;
}

TEST(TrainMinibatch, UnshuffledEpochsAreTheBatchesInOrderAsPlainSgdSteps) {
  Trial trial = ClassificationTrial(/*batch_size=*/4, /*shuffle=*/false, 5);
  // The same network trained by hand: batches rows 0-3, 4-7, 8-9, four times.
  Trial twin = ClassificationTrial(4, false, 5);
  const Dataset& d = *twin.data;
  for (int epoch = 0; epoch < 4; ++epoch) {
    for (int first = 0; first < 10; first += 4) {
      const int rows = std::min(4, 10 - first);
      ASSERT_TRUE(twin.net->Forward(d.x.row(first).data(), rows, true).ok());
      std::vector<float> g(rows * 3);
      for (int i = 0; i < rows * 3; ++i) {
        g[i] = (twin.net->output()[i] - d.y.row(first).data()[i]) / rows;
      }
      ASSERT_TRUE(twin.net->BackwardSgd(g.data(), 0.1f).ok());
    }
  }
  const auto result = Train(trial, TrainOptions{.progress = false});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->status, RunSummaryProto::FINISHED);
  EXPECT_EQ(result->steps, 12);  // 4 epochs of ceil(10 / 4) = 3 updates
  EXPECT_EQ(TrainingSteps(trial.spec.training(), 10), 12);
  const auto a = trial.net->parameters(), b = twin.net->parameters();
  for (size_t p = 0; p < a.size(); ++p) {
    EXPECT_TRUE(std::equal(a[p].data, a[p].data + a[p].size(), b[p].data)) << a[p].name;
  }
  // Held-out evaluation at every epoch start and at the end; train_loss after each epoch.
  std::vector<int64_t> test_steps, train_steps;
  for (const auto& row : result->curves.rows()) {
    if (std::string(row.quantity) == "test_loss") test_steps.push_back(row.step);
    if (std::string(row.quantity) == "train_loss") train_steps.push_back(row.step);
  }
  EXPECT_EQ(test_steps, (std::vector<int64_t>{0, 3, 6, 9, 12}));
  EXPECT_EQ(train_steps, (std::vector<int64_t>{3, 6, 9, 12}));
  // The last test_accuracy is the argmax accuracy of the final network on the split.
  ASSERT_TRUE(twin.net->Forward(d.x_test.data(), 6, false).ok());
  int correct = 0;
  for (int i = 0; i < 6; ++i) {
    const float* row = twin.net->output() + 3 * i;
    correct += std::max_element(row, row + 3) - row == d.test_labels[i];
  }
  EXPECT_DOUBLE_EQ(result->curves.Last("test_accuracy"), correct / 6.0);
  EXPECT_DOUBLE_EQ(result->test_accuracy, correct / 6.0);
  double loss = 0;
  for (int i = 0; i < 18; ++i) {
    const double r = double{twin.net->output()[i]} - d.y_test.data()[i];
    loss += r * r;
  }
  EXPECT_NEAR(result->test_loss, loss / 12, 1e-6);
}

TEST(TrainMinibatch, ShufflingIsSeededAndChangesTheRun) {
  auto run = [](uint64_t seed, bool shuffle) {
    Trial trial = ClassificationTrial(3, shuffle, seed);
    auto result = Train(trial, TrainOptions{.progress = false});
    EXPECT_TRUE(result.ok()) << result.status();
    return result->curves.ToCsv() + absl::StrCat(result->final_loss);
  };
  EXPECT_EQ(run(5, true), run(5, true));
  EXPECT_NE(run(5, true), run(5, false));
}

TEST(BuildTrial, RejectsBadMinibatchSettings) {
  Experiment spec = SmallSpec();
  spec.mutable_training()->set_batch_size(-2);
  spec.mutable_training()->set_epochs(3);  // and steps is set by SmallSpec
  spec.mutable_training()->set_eval_every_epochs(-1);
  const auto trial = BuildTrial(spec);
  EXPECT_THAT(trial.status().message(), HasSubstr("training.batch_size = -2"));
  EXPECT_THAT(trial.status().message(),
              HasSubstr("training.epochs = 3 and training.steps = 20 are both set"));
  EXPECT_THAT(trial.status().message(), HasSubstr("training.eval_every_epochs = -1"));
}

}  // namespace
}  // namespace replearn
