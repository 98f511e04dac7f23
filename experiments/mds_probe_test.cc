// The mds probe in a real run: the files it writes agree with ClassicalMds of the distance
// matrix the run records, and bad options are named before training.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/csv.h"
#include "core/file_util.h"
#include "core/npy.h"
#include "experiments/loader.h"
#include "experiments/run.h"
#include "experiments/trial.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "metrics/distance_matrix.h"
#include "metrics/mds.h"

namespace replearn {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

MdsResult MdsOrDie(const Eigen::MatrixXd& d, int dims) {
  auto r = ClassicalMds(d, dims);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : MdsResult();
}

Experiment Spec(const std::string& probes) {
  auto spec = ParseExperiment(
      absl::StrCat(R"pb(
                     name: "mds"
                     architecture { mlp { depth: 3 width: 16 nonlinearity: RELU gain: 1.0 } }
                     dataset { xor {} }
                     training { learning_rate: 0.05 steps: 5 seed: 3 }
                     theory { enabled: false }
                     output { figures: false }
                   )pb",
                   probes),
      "mds");
  EXPECT_TRUE(spec.ok()) << spec.status();
  return *spec;
}

TEST(MdsProbe, WritesTheMdsOfTheLayersDistances) {
  const std::string dir = JoinPath(std::getenv("TEST_TMPDIR"), "probe");
  const auto summary = RunExperiment(
      Spec("probe { mds { examples { indices: [3, 1, 0, 2] } layers: [1] dims: 2 } }\n"
           "probe { distance_matrix { examples { indices: [3, 1, 0, 2] } layers: [1] } }"),
      RunOptions{dir, false});
  ASSERT_TRUE(summary.ok()) << summary.status();
  for (int step : {0, 5}) {
    SCOPED_TRACE(step);
    const auto table = ReadCsvFile(JoinPath(dir, absl::StrCat("mds_1_step", step, ".csv")));
    ASSERT_TRUE(table.ok()) << table.status();
    EXPECT_THAT(table->header, ElementsAre("position", "index", "label", "target", "x1", "x2"));
    ASSERT_EQ(table->rows.size(), 4u);
    // XOR rows 3, 1, 0, 2: labels and targets 0, 1, 0, 1.
    const char* expected_index[] = {"3", "1", "0", "2"};
    const char* expected_label[] = {"0", "1", "0", "1"};
    const auto d = ReadMatrixNpy(JoinPath(dir, DistanceMatrixStem("1", step) + ".npy"));
    ASSERT_TRUE(d.ok()) << d.status();
    const MdsResult expected = MdsOrDie(*d, 2);
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(table->rows[i][0], absl::StrCat(i));
      EXPECT_EQ(table->rows[i][1], expected_index[i]);
      EXPECT_EQ(table->rows[i][2], expected_label[i]);
      EXPECT_EQ(table->rows[i][3], expected_label[i]);
      for (int k = 0; k < 2; ++k) {
        EXPECT_NEAR(std::stod(table->rows[i][4 + k]), expected.coords(i, k),
                    1e-8 * std::max(1.0, std::abs(expected.coords(i, k))));
      }
    }
  }
  EXPECT_FALSE(FileExists(JoinPath(dir, "mds_1_step3.csv")));
  const auto curves = ReadFile(JoinPath(dir, "curves.csv"));
  ASSERT_TRUE(curves.ok());
  EXPECT_THAT(*curves, HasSubstr("5,1,mds_explained,"));
}

TEST(MdsProbe, RejectsBadOptionsNamingTheField) {
  auto build = [](const std::string& probe) {
    return std::string(
        BuildTrial(Spec(absl::StrCat("probe { mds { ", probe, " } }"))).status().message());
  };
  EXPECT_THAT(build("examples { count: 4 } dims: 5"),
              HasSubstr("probe.mds.dims = 5; must be in 1..4"));
  EXPECT_THAT(build("examples { count: 4 } dims: 0"), HasSubstr("probe.mds.dims = 0"));
  EXPECT_THAT(build("dims: 2"), HasSubstr("probe.mds.examples: empty probe set"));
  EXPECT_THAT(build("examples { count: 4 } layers: [9]"),
              HasSubstr("probe.mds.layers: layer 9 does not exist"));
  EXPECT_THAT(build("examples { indices: [0, 7] }"),
              HasSubstr("probe.mds.examples.indices[1] = 7"));
}

}  // namespace
}  // namespace replearn
