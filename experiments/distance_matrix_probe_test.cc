// The distance_matrix probe: its files hold the distances between the network's own taps at
// the recorded steps, numpy reads them, [FINAL] is applied per pair, and bad options are
// rejected naming the field.
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/csv.h"
#include "core/file_util.h"
#include "core/npy.h"
#include "core/run_python.h"
#include "experiments/loader.h"
#include "experiments/run.h"
#include "experiments/trial.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "metrics/distance_matrix.h"
#include "metrics/probe_set.h"
#include "theory/closed_form.h"

namespace replearn {
namespace {

using ::testing::HasSubstr;

constexpr double kTol = 1e-12;  // same f32 taps, both distances accumulated in double
const std::vector<int> kRows = {3, 0, 2};

std::string TmpPath(const std::string& name) { return JoinPath(std::getenv("TEST_TMPDIR"), name); }

Experiment Spec(const std::string& probe) {
  auto spec = ParseExperiment(
      absl::StrCat(R"pb(
                     name: "dm"
                     architecture { mlp { depth: 3 width: 16 nonlinearity: RELU gain: 1.0 } }
                     dataset { xor {} }
                     training { learning_rate: 0.05 steps: 5 seed: 3 }
                     theory { enabled: false }
                     output { figures: false save_weights: true }
                   )pb",
                   probe),
      "dm");
  EXPECT_TRUE(spec.ok()) << spec.status();
  return *spec;
}

const char kProbe[] = R"pb(
  probe {
    distance_matrix {
      examples { indices: [ 3, 0, 2 ] }
      layers: [ 2, 1 ]
      steps: [ 2 ]
      at_end: true
      eta_ratio: 0.5
    }
  }
)pb";

// One run shared by the tests: XOR rows 3, 0, 2, layers 1 and 2, steps 0, 2 and 5.
const std::string& RunDir() {
  static const std::string* dir = [] {
    auto* d = new std::string(TmpPath("run"));
    const auto summary = RunExperiment(Spec(kProbe), RunOptions{*d, false});
    EXPECT_TRUE(summary.ok()) << summary.status();
    return d;
  }();
  return *dir;
}

Eigen::MatrixXd ReadOrDie(const std::string& stem) {
  auto m = ReadMatrixNpy(JoinPath(RunDir(), stem + ".npy"));
  EXPECT_TRUE(m.ok()) << m.status();
  return m.ok() ? *m : Eigen::MatrixXd();
}

// Distances between rows kRows of the network's tap (`layer`, or the output for -1), computed
// here from a forward of a freshly built network (initial, or loaded from `init_npz`).
Eigen::MatrixXd DistancesFromTaps(int layer, const std::string& init_npz) {
  Experiment spec = Spec("");
  if (!init_npz.empty()) spec.mutable_architecture()->set_init_npz(init_npz);
  auto trial = BuildTrial(spec);
  EXPECT_TRUE(trial.ok()) << trial.status();
  const int n = static_cast<int>(kRows.size());
  std::vector<float> x;
  for (int r : kRows) {
    for (int k = 0; k < trial->data->input_dim(); ++k) x.push_back(trial->data->x(r, k));
  }
  EXPECT_TRUE(trial->net->Forward(x.data(), n, /*train=*/false).ok());
  const float* data = layer >= 0 ? trial->net->hidden(layer).data : trial->net->output();
  const int dim = layer >= 0 ? trial->net->hidden(layer).dim : trial->net->output_dim();
  Eigen::MatrixXd d(n, n);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      double s = 0;
      for (int k = 0; k < dim; ++k) {
        const double diff = double{data[i * dim + k]} - double{data[j * dim + k]};
        s += diff * diff;
      }
      d(i, j) = std::sqrt(s);
    }
  }
  return d;
}

void ExpectNear(const Eigen::MatrixXd& actual, const Eigen::MatrixXd& expected, double tol) {
  ASSERT_EQ(actual.rows(), expected.rows());
  ASSERT_EQ(actual.cols(), expected.cols());
  for (int i = 0; i < actual.rows(); ++i) {
    for (int j = 0; j < actual.cols(); ++j) {
      EXPECT_NEAR(actual(i, j), expected(i, j), tol * std::max(1.0, std::abs(expected(i, j))))
          << "(" << i << ", " << j << ")";
    }
  }
}

TEST(DistanceMatrixProbe, InitialMatricesAreTheDistancesBetweenTheTaps) {
  for (int layer : {1, 2}) {
    SCOPED_TRACE(layer);
    const Eigen::MatrixXd expected = DistancesFromTaps(layer, "");
    EXPECT_GT(expected(0, 1), 0);
    ExpectNear(ReadOrDie(DistanceMatrixStem(absl::StrCat(layer), 0)), expected, kTol);
  }
  ExpectNear(ReadOrDie(DistanceMatrixStem("output", 0)), DistancesFromTaps(-1, ""), kTol);
}

TEST(DistanceMatrixProbe, FinalMatricesAreTheDistancesOfTheTrainedNetwork) {
  // weights_final.npz holds the parameters after the last update, which is what the probe
  // saw at the last step (no update follows it).
  const std::string final_weights = JoinPath(RunDir(), "weights_final.npz");
  const Eigen::MatrixXd trained = DistancesFromTaps(2, final_weights);
  ExpectNear(ReadOrDie(DistanceMatrixStem("2", 5)), trained, kTol);
  ExpectNear(ReadOrDie(DistanceMatrixStem("output", 5)), DistancesFromTaps(-1, final_weights),
             kTol);
  // Training moved the representation.
  EXPECT_GT((trained - DistancesFromTaps(2, "")).norm(), 1e-6);
}

TEST(DistanceMatrixProbe, RecordsOnlyTheScheduledSteps) {
  for (int step : {0, 2, 5}) {
    EXPECT_TRUE(FileExists(JoinPath(RunDir(), DistanceMatrixStem("1", step) + ".npy"))) << step;
    EXPECT_TRUE(FileExists(JoinPath(RunDir(), DistanceMatrixStem("1", step) + ".csv"))) << step;
  }
  for (int step : {1, 3, 4}) {
    EXPECT_FALSE(FileExists(JoinPath(RunDir(), DistanceMatrixStem("1", step) + ".npy"))) << step;
  }
}

TEST(DistanceMatrixProbe, InputAndTargetMatricesAreExact) {
  // Rows 3, 0, 2 of XOR: inputs (1, 1), (0, 0), (1, 0), targets 0, 0, 1.
  Eigen::MatrixXd dx(3, 3), dy(3, 3);
  dx << 0, std::sqrt(2.0), 1, std::sqrt(2.0), 0, 1, 1, 1, 0;
  dy << 0, 0, 1, 0, 0, 1, 1, 1, 0;
  ExpectNear(ReadOrDie("distance_matrix_input"), dx, 1e-15);
  ExpectNear(ReadOrDie("distance_matrix_target"), dy, 0);
  const auto examples = ReadFile(JoinPath(RunDir(), "distance_matrix_examples.csv"));
  ASSERT_TRUE(examples.ok()) << examples.status();
  EXPECT_EQ(*examples, "position,index,label\n0,3,0\n1,0,0\n2,2,1\n");
}

TEST(DistanceMatrixProbe, PredictionIsFinalDistancePerPair) {
  const Eigen::MatrixXd dh0 = DistancesFromTaps(1, "");
  const Eigen::MatrixXd dy0 = DistancesFromTaps(-1, "");
  const Eigen::MatrixXd dx = ReadOrDie("distance_matrix_input");
  const Eigen::MatrixXd dy = ReadOrDie("distance_matrix_target");
  const Eigen::MatrixXd predicted = ReadOrDie(PredictedDistanceMatrixStem("1"));
  ASSERT_EQ(predicted.rows(), 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(predicted(i, i), 0);
    for (int j = 0; j < 3; ++j) {
      if (i == j) continue;
      // docs/theory.md section 4, whole-dataset form, written out here.
      const double ratio = 0.5;
      const double a_low = std::sqrt(ratio) * dy(i, j) * dx(i, j);
      const double a_high =
          (std::pow(dh0(i, j) / dx(i, j), 2) - std::pow(dy0(i, j) / dh0(i, j), 2) * ratio) *
          dx(i, j) * dx(i, j);
      const double expected =
          std::sqrt((a_high + std::sqrt(a_high * a_high + 4 * a_low * a_low)) / 2);
      EXPECT_NEAR(predicted(i, j), expected, 1e-9 * expected) << i << "," << j;
    }
  }
  // The same-target pair (rows 3 and 0): D_h(inf)^2 = max(A_high, 0) < D_h0^2 whenever
  // their outputs differ at step 0.
  EXPECT_LT(predicted(0, 1), dh0(0, 1));
  // PredictFinalFromRun reads the step-0 files and agrees.
  const auto again = PredictFinalFromRun(RunDir(), 1, 0.5);
  ASSERT_TRUE(again.ok()) << again.status();
  ExpectNear(*again, predicted, 0);
  EXPECT_THAT(PredictFinalFromRun(RunDir(), 1, 0).status().message(),
              HasSubstr("eta_h / eta_y = 0"));
  EXPECT_EQ(PredictFinalFromRun(RunDir(), 0, 0.5).status().code(), absl::StatusCode::kNotFound);
}

TEST(DistanceMatrixProbe, CurvesHoldMeanWithinAndBetweenClassDistances) {
  const auto curves = ReadFile(JoinPath(RunDir(), "curves.csv"));
  ASSERT_TRUE(curves.ok()) << curves.status();
  const Eigen::MatrixXd d = ReadOrDie(DistanceMatrixStem("2", 2));
  // Labels 0, 0, 1: (0, 1) is the within-class pair.
  const std::string expected[] = {
      absl::StrCat("2,2,dm_mean,", FormatDouble((d(0, 1) + d(0, 2) + d(1, 2)) / 3)),
      absl::StrCat("2,2,dm_within_class,", FormatDouble(d(0, 1))),
      absl::StrCat("2,2,dm_between_class,", FormatDouble((d(0, 2) + d(1, 2)) / 2))};
  for (const std::string& row : expected) EXPECT_THAT(*curves, HasSubstr(row + "\n"));
}

TEST(DistanceMatrixProbe, NumpyLoadsTheNpyAndItEqualsTheCsv) {
  const std::string stem = JoinPath(RunDir(), DistanceMatrixStem("2", 5));
  const auto out = RunPython(absl::StrCat(
      "import numpy as np\n", "a = np.load('", stem, ".npy')\n", "b = np.loadtxt('", stem,
      ".csv', delimiter=',')\n", "assert a.dtype == np.float64, a.dtype\n",
      "assert a.shape == (3, 3), a.shape\n",
      "assert np.allclose(a, b, rtol=1e-9, atol=0), (a, b)\n", "assert (a == a.T).all()\n",
      "assert (np.diag(a) == 0).all()\n", "print(repr(float(a[0, 1])), repr(float(a[1, 2])))\n"));
  ASSERT_TRUE(out.ok()) << out.status();
  const std::vector<std::string> values =
      absl::StrSplit(absl::StripTrailingAsciiWhitespace(*out), ' ');
  ASSERT_EQ(values.size(), 2u) << *out;
  double a01 = 0, a12 = 0;
  ASSERT_TRUE(absl::SimpleAtod(values[0], &a01)) << *out;
  ASSERT_TRUE(absl::SimpleAtod(values[1], &a12)) << *out;
  const Eigen::MatrixXd d = ReadOrDie(DistanceMatrixStem("2", 5));
  EXPECT_EQ(a01, d(0, 1));
  EXPECT_EQ(a12, d(1, 2));
}

TEST(DistanceMatrixProbe, WholeTrainingSetPerClassIsSortedByLabel) {
  const std::string dir = TmpPath("per_class");
  const auto summary =
      RunExperiment(Spec("probe { distance_matrix { examples { per_class: 2 } layers: [1] } }"),
                    RunOptions{dir, false});
  ASSERT_TRUE(summary.ok()) << summary.status();
  const auto examples = ReadFile(JoinPath(dir, "distance_matrix_examples.csv"));
  ASSERT_TRUE(examples.ok()) << examples.status();
  EXPECT_EQ(*examples, "position,index,label\n0,0,0\n1,3,0\n2,1,1\n3,2,1\n");
  // count: 4 is the training set itself: the probe hands the trainer's own rows to the
  // forward and still records the same distances.
  const std::string whole = TmpPath("whole");
  ASSERT_TRUE(RunExperiment(Spec("probe { distance_matrix { examples { count: 4 } layers: [1] } }"),
                            RunOptions{whole, false})
                  .ok());
  const auto a = ReadMatrixNpy(JoinPath(dir, DistanceMatrixStem("1", 5) + ".npy"));
  const auto b = ReadMatrixNpy(JoinPath(whole, DistanceMatrixStem("1", 5) + ".npy"));
  ASSERT_TRUE(a.ok() && b.ok());
  // per_class order 0, 3, 1, 2 vs count order 0, 1, 2, 3.
  const int perm[4] = {0, 3, 1, 2};
  for (int i = 0; i < 4; ++i) {
    for (int j = 0; j < 4; ++j) EXPECT_NEAR((*a)(i, j), (*b)(perm[i], perm[j]), 1e-6);
  }
}

TEST(DistanceMatrixProbe, FailsWithoutARunFolder) {
  auto trial = BuildTrial(Spec(kProbe));
  ASSERT_TRUE(trial.ok()) << trial.status();
  const auto result = Train(*trial, TrainOptions{/*progress=*/false});
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(result.status().message(), HasSubstr("probe.distance_matrix"));
}

std::string BuildError(const std::string& probe) {
  const auto trial = BuildTrial(Spec(absl::StrCat("probe { distance_matrix { ", probe, " } }")));
  EXPECT_EQ(trial.status().code(), absl::StatusCode::kInvalidArgument) << probe;
  return std::string(trial.status().message());
}

TEST(DistanceMatrixProbe, RejectsBadOptionsNamingTheField) {
  EXPECT_THAT(BuildError(""), HasSubstr("probe.distance_matrix.examples: empty probe set"));
  EXPECT_THAT(BuildError("examples { count: 4 } layers: [3]"),
              HasSubstr("probe.distance_matrix.layers: layer 3 does not exist; the network has "
                        "hidden layers 0..2"));
  EXPECT_THAT(BuildError("examples { count: 4 } layers: [-1]"),
              HasSubstr("layer -1 does not exist"));
  EXPECT_THAT(BuildError("examples { indices: [0, 4] }"),
              HasSubstr("probe.distance_matrix.examples.indices[1] = 4; the training set has "
                        "examples 0..3"));
  EXPECT_THAT(BuildError("examples { indices: [1, 2, 1] }"),
              HasSubstr("probe.distance_matrix.examples.indices[2] = 1 repeats "
                        "probe.distance_matrix.examples.indices[0]"));
  EXPECT_THAT(BuildError("examples { indices: [1] }"), HasSubstr("at least two"));
  EXPECT_THAT(BuildError("examples { count: 5 }"),
              HasSubstr("probe.distance_matrix.examples.count = 5; must be in 2..4"));
  EXPECT_THAT(BuildError("examples { per_class: 3 }"),
              HasSubstr("probe.distance_matrix.examples.per_class = 3: class 0 has only 2"));
  EXPECT_THAT(BuildError("examples { count: 2 per_class: 1 }"),
              HasSubstr("choose the probe set in different ways"));
  EXPECT_THAT(BuildError("examples { count: 2 } steps: [3, -1] every: -2"),
              HasSubstr("probe.distance_matrix.steps[1] = -1; must be >= 0"));
  EXPECT_THAT(BuildError("examples { count: 2 } every: -2"),
              HasSubstr("probe.distance_matrix.every = -2"));
  EXPECT_THAT(BuildError("examples { count: 2 } eta_ratio: -1"),
              HasSubstr("probe.distance_matrix.eta_ratio = -1"));
  // Every problem at once.
  const std::string all = BuildError("examples { count: 9 } layers: [7] every: -1");
  EXPECT_THAT(all, HasSubstr("count = 9"));
  EXPECT_THAT(all, HasSubstr("layer 7"));
  EXPECT_THAT(all, HasSubstr("every = -1"));
}

TEST(ProbeSet, PerClassNeedsLabels) {
  Dataset data;
  data.x = MatrixRM::Zero(3, 1);
  data.y = MatrixRM::Zero(3, 1);
  ExampleSetSpec spec;
  spec.set_per_class(1);
  EXPECT_THAT(ResolveProbeSet(spec, data, "f").status().message(),
              HasSubstr("f.per_class = 1: the dataset has no class labels"));
}

}  // namespace
}  // namespace replearn
