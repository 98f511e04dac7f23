// Every spec of the universality suite loads, validates and trains (smoke size: 50 steps,
// width 32 where allowed), and the suite writes its table with one row per spec.
#include "experiments/paper/universality.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "core/csv.h"
#include "core/file_util.h"
#include "experiments/run.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace replearn {
namespace {

using ::testing::HasSubstr;

constexpr char kSuite[] = "experiments/paper/specs/universality";

TEST(Universality, EverySpecRunsAtSmokeSizeAndTheTableHasOneRowEach) {
  SuiteOptions options;
  options.smoke = true;
  options.progress = false;
  options.figures = false;
  options.threads = 2;
  auto rows = LoadSuite(kSuite, options);
  ASSERT_TRUE(rows.ok()) << rows.status();
  // docs/theory.md section 7: 11 architecture rows, 6 gain rows, adam and two_layer.
  ASSERT_EQ(rows->size(), 19u);
  EXPECT_EQ(rows->front().name, "default");
  EXPECT_EQ(rows->back().name, "two_layer");
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(kSuite))
    files += e.path().extension() == ".pbtxt";
  EXPECT_EQ(files, 19);
  for (const SuiteRow& row : *rows) EXPECT_EQ(row.spec.training().steps(), 50) << row.name;

  const std::string out = JoinPath(std::getenv("TEST_TMPDIR"), "suite");
  auto result = RunSuite(*rows, out, options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->failed, 0) << (result->errors.empty() ? "" : result->errors[0]);
  const auto csv = ReadCsvFile(JoinPath(out, "universality.csv"));
  ASSERT_TRUE(csv.ok()) << csv.status();
  EXPECT_EQ(csv->header,
            (std::vector<std::string>{"row", "final_loss", "normalised_loss", "eta_h", "eta_y",
                                      "r2_h", "r2_y", "r2_w", "wall_seconds"}));
  ASSERT_EQ(csv->rows.size(), rows->size());
  for (size_t r = 0; r < rows->size(); ++r) {
    const RunSummary& s = result->summaries[r];
    EXPECT_EQ(csv->rows[r][0], (*rows)[r].name);
    EXPECT_EQ(s.status, "finished") << (*rows)[r].name;
    EXPECT_EQ(s.steps, 50) << (*rows)[r].name;
    EXPECT_TRUE(std::isfinite(s.final_loss)) << (*rows)[r].name;
    EXPECT_EQ(s.tracked_layer, (*rows)[r].spec.theory().tracked_layer()) << (*rows)[r].name;
    EXPECT_TRUE(FileExists(JoinPath(JoinPath(out, (*rows)[r].name), "summary.json")));
  }
}

TEST(Universality, ResumeKeepsCompletedRowsOfTheSameSpecAndRerunsChangedOnes) {
  SuiteOptions options;
  options.smoke = true;
  options.progress = false;
  options.figures = false;
  options.rows = {"shallow", "two_layer"};
  auto rows = LoadSuite(kSuite, options);
  ASSERT_TRUE(rows.ok()) << rows.status();
  const std::string out = JoinPath(std::getenv("TEST_TMPDIR"), "resume");
  const SuiteResult first = RunRows(*rows, out, 1, false);
  ASSERT_EQ(first.failed, 0);
  const auto before = ReadFile(JoinPath(out, "shallow/summary.json"));
  ASSERT_TRUE(before.ok());

  // Same specs: nothing reruns (summary.json, which holds the wall time, is untouched) and
  // the summaries read back equal the ones the runs returned.
  const SuiteResult again = RunRows(*rows, out, 1, false, /*resume=*/true);
  ASSERT_EQ(again.failed, 0);
  EXPECT_EQ(*ReadFile(JoinPath(out, "shallow/summary.json")), *before);
  for (size_t r = 0; r < rows->size(); ++r) {
    const RunSummary& a = first.summaries[r];
    const RunSummary& b = again.summaries[r];
    EXPECT_EQ(a.status, b.status);
    EXPECT_EQ(a.steps, b.steps);
    EXPECT_DOUBLE_EQ(a.final_loss, b.final_loss);
    EXPECT_DOUBLE_EQ(a.h0, b.h0);
    EXPECT_DOUBLE_EQ(a.h_final, b.h_final);
    EXPECT_EQ(a.fitted, b.fitted);
    if (a.fitted) {
      EXPECT_DOUBLE_EQ(a.eta_h, b.eta_h);
      EXPECT_DOUBLE_EQ(a.normalised_loss, b.normalised_loss);
    }
  }

  // A changed spec reruns.
  (*rows)[0].spec.mutable_training()->set_steps(40);
  const SuiteResult changed = RunRows(*rows, out, 1, false, /*resume=*/true);
  EXPECT_EQ(changed.summaries[0].steps, 40);
  EXPECT_EQ(changed.summaries[1].steps, 50);
}

TEST(Universality, BadOverridesAndUnknownRowsAreReportedBeforeAnythingRuns) {
  SuiteOptions options;
  options.rows = {"default", "no_such_row"};
  options.sets = {"training.learning_rate=-1"};
  auto rows = LoadSuite(kSuite, options);
  ASSERT_FALSE(rows.ok());
  EXPECT_THAT(std::string(rows.status().message()), HasSubstr("no spec \"no_such_row.pbtxt\""));
  EXPECT_THAT(std::string(rows.status().message()),
              HasSubstr("default.pbtxt: training.learning_rate = -1; must be > 0"));
  EXPECT_EQ(LoadSuite("/nonexistent/suite", SuiteOptions()).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace replearn
