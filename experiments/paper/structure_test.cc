// The representation-structure experiments: the context collapse on known inputs, and a --smoke
// run of each (xor, mnist_structure, context) that writes every output with finite key
// figures.
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/file_util.h"
#include "core/run_python.h"
#include "experiments/figures.h"
#include "experiments/paper/context_experiment.h"
#include "experiments/paper/mnist_structure_experiment.h"
#include "experiments/paper/xor_experiment.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace replearn {
namespace {

using ::testing::HasSubstr;

std::string TmpPath(const std::string& name) { return JoinPath(std::getenv("TEST_TMPDIR"), name); }

TEST(Context, IrrelevantOverRelevantOfAKnownGrid) {
  // Points (a r, b s) for relevant r in {0, 1, 2} and irrelevant s in {0, 1}: the within-group
  // sum of squares is 3 * 2 * (b/2)^2 = 1.5 b^2, the between-group one 2 * a^2 * 2 = 4 a^2.
  const double a = 1.0, b = 2.0;
  std::vector<Eigen::Vector2d> points;
  std::vector<int> group;
  for (int r = 0; r < 3; ++r) {
    for (int s = 0; s < 2; ++s) {
      points.emplace_back(a * r, b * s);
      group.push_back(r);
    }
  }
  Eigen::MatrixXd d(6, 6);
  for (int i = 0; i < 6; ++i) {
    for (int j = 0; j < 6; ++j) d(i, j) = (points[i] - points[j]).norm();
  }
  EXPECT_NEAR(IrrelevantOverRelevant(d, group), std::sqrt(1.5 * b * b / (4 * a * a)), 1e-12);
  // Collapsing the irrelevant coordinate (b = 0) gives 0.
  for (int i = 0; i < 6; ++i) {
    for (int j = 0; j < 6; ++j) d(i, j) = std::abs(points[i].x() - points[j].x());
  }
  EXPECT_NEAR(IrrelevantOverRelevant(d, group), 0.0, 1e-12);
}

// Every key is a finite number in summary.json (python's json, as a user would read it).
void ExpectFiniteKeys(const std::string& dir, const std::vector<std::string>& keys) {
  const auto out = RunPython(absl::StrCat(
      "import json, math\n", "s = json.load(open('", JoinPath(dir, "summary.json"), "'))\n",
      "for k in ['", absl::StrJoin(keys, "', '"), "']:\n", "    v = s[k]\n",
      "    assert isinstance(v, (int, float)) and math.isfinite(v), (k, v)\n", "print('ok')\n"));
  EXPECT_TRUE(out.ok()) << out.status();
}

void ExpectFiles(const std::string& dir, const std::vector<std::string>& names) {
  for (const std::string& name : names) {
    EXPECT_TRUE(FileExists(JoinPath(dir, name))) << JoinPath(dir, name);
  }
}

StructureOptions Smoke(const std::string& name) {
  StructureOptions options;
  options.out_dir = TmpPath(name);
  options.smoke = true;
  options.progress = false;
  return options;
}

TEST(XorExperiment, SmokeRunWritesEveryOutput) {
  const StructureOptions options = Smoke("xor");
  const auto result = RunXor(options);
  ASSERT_TRUE(result.ok()) << result.status();
  ExpectFiles(options.out_dir,
              {"summary.json", "xor_distances.csv", "rich/summary.json",
               "rich/distance_matrix_10_step0.npy", "rich/distance_matrix_10_step40.npy",
               "rich/distance_matrix_10_predicted.npy", "shallow/distance_matrix_0_predicted.csv"});
  if (GnuplotAvailable())
    ExpectFiles(options.out_dir, {"xor.png", "xor.svg", "xor_pairs.png", "xor_pairs.svg"});
  ExpectFiniteKeys(options.out_dir, {"rich_same_over_different", "lazy_relative_change",
                                     "rich_pearson_r_predicted", "lazy_pearson_r_predicted"});
}

TEST(XorExperiment, RejectsAMissingSpecFolder) {
  StructureOptions options = Smoke("xor_missing");
  options.specs = TmpPath("no_such_folder");
  const auto result = RunXor(options);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(result.status().message(), HasSubstr("no_such_folder/rich.pbtxt"));
}

TEST(MnistStructureExperiment, SmokeRunWritesEveryOutput) {
  const StructureOptions options = Smoke("mnist");
  const auto result = RunMnistStructure(options);
  ASSERT_TRUE(result.ok()) << result.status();
  ExpectFiles(options.out_dir, {"summary.json", "init/seed_0.npz", "init/seed_1.npz",
                                "seed_1/summary.json", "mnist_structure_measured.npy",
                                "mnist_structure_predicted.csv", "mnist_structure_block.npy"});
  if (GnuplotAvailable())
    ExpectFiles(options.out_dir, {"mnist_structure.png", "mnist_structure.svg"});
  ExpectFiniteKeys(options.out_dir, {"pearson_r_block", "pearson_r_final", "pearson_r_block_input",
                                     "mean_within_class", "mean_between_class"});
}

TEST(ContextExperiment, SmokeRunWritesEveryOutput) {
  const StructureOptions options = Smoke("context");
  const auto result = RunContext(options);
  ASSERT_TRUE(result.ok()) << result.status();
  ExpectFiles(options.out_dir, {"summary.json", "context_collapse.csv", "context_mds.csv",
                                "gain_0.275/mds_2_step20.csv"});
  if (GnuplotAvailable()) ExpectFiles(options.out_dir, {"context_mds.png", "context_mds.svg"});
  ExpectFiniteKeys(options.out_dir,
                   {"rich_irrelevant_over_relevant", "rich_irrelevant_over_relevant_initial",
                    "lazy_irrelevant_over_relevant"});
}

}  // namespace
}  // namespace replearn
