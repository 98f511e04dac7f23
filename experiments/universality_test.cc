// Every spec of the universality suite loads, validates and trains (smoke size: 50 steps,
// width 32 where allowed), and the suite writes its table with one row per spec.
#include "experiments/universality.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "core/csv.h"
#include "core/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace replearn {
namespace {

using ::testing::HasSubstr;

constexpr char kSuite[] = "experiments/specs/universality";

TEST(Universality, EverySpecRunsAtSmokeSizeAndTheTableHasOneRowEach) {
  SuiteOptions options;
  options.smoke = true;
  options.progress = false;
  options.figures = false;
  options.threads = 2;
  auto rows = LoadSuite(kSuite, options);
  ASSERT_TRUE(rows.ok()) << rows.status();
  // THEORY.md section 7: 11 architecture rows, 6 gain rows, adam and two_layer.
  ASSERT_EQ(rows->size(), 19u);
  EXPECT_EQ(rows->front().name, "default");
  EXPECT_EQ(rows->back().name, "two_layer");
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(kSuite)) files += e.path().extension() == ".pbtxt";
  EXPECT_EQ(files, 19);
  for (const SuiteRow& row : *rows) EXPECT_EQ(row.spec.training().steps(), 50) << row.name;

  const std::string out = JoinPath(std::getenv("TEST_TMPDIR"), "suite");
  auto result = RunSuite(*rows, out, options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->failed, 0) << (result->errors.empty() ? "" : result->errors[0]);
  const auto csv = ReadCsvFile(JoinPath(out, "universality.csv"));
  ASSERT_TRUE(csv.ok()) << csv.status();
  EXPECT_EQ(csv->header, (std::vector<std::string>{"row", "final_loss", "normalised_loss", "eta_h",
                                                    "eta_y", "r2_h", "r2_y", "r2_w",
                                                    "wall_seconds"}));
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
