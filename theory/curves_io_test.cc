#include "theory/curves_io.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/csv.h"
#include "core/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "theory/fit.h"

namespace replearn {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr double kFormatTol = 1e-9;  // FormatDouble keeps 10 significant digits

std::string TestDir() {
  const char* tmp = std::getenv("TEST_TMPDIR");
  return tmp != nullptr ? tmp : "/tmp";
}

RecordedCurves Example() {
  RecordedCurves c;
  c.t = {0, 1, 2, 10, 100};
  c.layers = {2, 7};
  c.h = {{1e-3, 2e-3, 4e-3, 0.01, 0.09}, {0.5, 0.4, 0.3, 0.2, 0.1234567891234}};
  c.y = {1e-9, 1e-8, 1e-7, 1e-3, 0.49};
  c.w = {-2e-5, -7e-5, -2e-4, -0.02, -1e-4};
  c.ybar = {0.36, 0.3, 0.25, 0.01, 1e-6};
  c.loss = {0.3, 0.28, 0.26, 0.1, 1e-5};
  return c;
}

void ExpectNear(const std::vector<double>& a, const std::vector<double>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], kFormatTol * std::abs(b[i]));
}

TEST(CurvesCsv, RoundTripInAnyRowOrder) {
  const RecordedCurves c = Example();
  const std::string text = FormatCurvesCsv(c);
  std::vector<std::string> lines = absl::StrSplit(text, '\n', absl::SkipEmpty());
  EXPECT_EQ(lines[0], "step,layer,quantity,value");
  EXPECT_EQ(lines[1], "0,2,h,0.001");
  EXPECT_EQ(lines[3], "0,,y,1e-09");
  // Reverse the data rows: order must not matter.
  std::reverse(lines.begin() + 1, lines.end());
  const auto parsed = ParseCurvesCsv(absl::StrJoin(lines, "\n"), "curves.csv");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_THAT(parsed->t, ElementsAre(0, 1, 2, 10, 100));
  EXPECT_THAT(parsed->layers, ElementsAre(2, 7));
  ExpectNear(parsed->h[0], c.h[0]);
  ExpectNear(parsed->h[1], c.h[1]);
  ExpectNear(parsed->y, c.y);
  ExpectNear(parsed->w, c.w);
  ExpectNear(parsed->ybar, c.ybar);
  ExpectNear(parsed->loss, c.loss);
}

TEST(CurvesCsv, WriteAndReadFile) {
  const std::string path = JoinPath(TestDir(), "curves.csv");
  ASSERT_TRUE(WriteCurvesCsv(path, Example()).ok());
  const auto read = ReadCurvesCsv(path);
  ASSERT_TRUE(read.ok()) << read.status();
  ExpectNear(read->h[1], Example().h[1]);
}

TEST(CurvesCsv, OptionalQuantitiesMayBeAbsent) {
  const auto parsed = ParseCurvesCsv("step,layer,quantity,value\n0,0,h,1\n0,,y,2\n0,,w,3\n", "c");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(parsed->ybar.empty());
  EXPECT_TRUE(parsed->loss.empty());
  const std::vector<Curves> layers = ToLayerCurves(*parsed, 1.0, 0.5);
  ASSERT_EQ(layers.size(), 1u);
  EXPECT_TRUE(std::isnan(layers[0].ybar0_err2));
}

TEST(CurvesCsv, ToLayerCurvesSharesOutputsAndTakesYbarAtFirstStep) {
  const std::vector<Curves> layers = ToLayerCurves(Example(), 2.0, 0.5);
  ASSERT_EQ(layers.size(), 2u);
  EXPECT_EQ(layers[1].h, Example().h[1]);
  EXPECT_EQ(layers[0].y, layers[1].y);
  EXPECT_EQ(layers[0].loss, Example().loss);
  EXPECT_EQ(layers[0].dx2, 2.0);
  EXPECT_EQ(layers[0].dy2, 0.5);
  EXPECT_EQ(layers[0].ybar0_err2, 0.36);
}

TEST(CurvesCsv, MissingFileIsNotFoundNamingThePath) {
  const std::string path = JoinPath(TestDir(), "no_such_dir/curves.csv");
  const auto read = ReadCurvesCsv(path);
  EXPECT_EQ(read.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(read.status().message(), HasSubstr(path));
}

absl::Status ParseError(const std::string& text) {
  return ParseCurvesCsv(text, "runs/x/curves.csv").status();
}

TEST(CurvesCsv, BadNumberNamesFileAndLine) {
  const absl::Status s = ParseError("step,layer,quantity,value\n0,0,h,1\n0,,y,abc\n0,,w,3\n");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(),
              HasSubstr("runs/x/curves.csv:3: value = \"abc\"; expected a finite number"));
  // Line numbers count blank lines and CRLF endings like the file does.
  EXPECT_THAT(
      ParseError("step,layer,quantity,value\r\n0,0,h,1\r\n\r\n0,,y,nan\r\n0,,w,3\r\n").message(),
      HasSubstr("curves.csv:4: value = \"nan\""));
}

TEST(CurvesCsv, MissingStepNamesFileLineAndSeries) {
  const absl::Status s =
      ParseError("step,layer,quantity,value\n0,0,h,1\n0,,y,2\n0,,w,3\n1,0,h,1\n1,,w,3\n");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("runs/x/curves.csv:5: step 1 has a row for h (layer 0) but "
                                     "none for y"));
}

TEST(CurvesCsv, RejectsMalformedRowsWithSpecificErrors) {
  const std::string header = "step,layer,quantity,value\n";
  EXPECT_THAT(ParseError("step,layer,value\n0,0,1\n").message(),
              HasSubstr("curves.csv:1: header = step,layer,value; expected columns"));
  EXPECT_THAT(ParseError(header + "0,,h,1\n").message(),
              HasSubstr(":2: layer = \"\" for quantity h; expected the 0-based"));
  EXPECT_THAT(ParseError(header + "0,0,h,1\n0,1,y,2\n").message(),
              HasSubstr(":3: layer = \"1\" for quantity y; expected an empty cell"));
  // Quantities the theory does not use are skipped; a misspelt one shows up as missing.
  EXPECT_THAT(ParseError(header + "0,0,z,1\n0,,y,1\n0,,w,1\n").message(),
              HasSubstr("no rows for quantity h"));
  EXPECT_THAT(ParseError(header + "-1,0,h,1\n").message(),
              HasSubstr(":2: step = \"-1\"; expected an integer >= 0"));
  EXPECT_THAT(ParseError(header + "0,0,h,1\n0,0,h,2\n").message(),
              HasSubstr(":3: second row for step 0, h (layer 0) (first at line 2)"));
  EXPECT_THAT(ParseError(header + "0,0,h,1\n0,,y,2\n").message(),
              HasSubstr("no rows for quantity w"));
  EXPECT_THAT(ParseError(header + "0,,y,1\n0,,w,2\n").message(),
              HasSubstr("no rows for quantity h"));
  EXPECT_THAT(ParseError(header + "0,0,h\n").message(), HasSubstr("curves.csv:2: row has 3"));
}

FitResult FakeFit(double eta_h, double scale) {
  FitResult f;
  f.eta_h = eta_h;
  f.eta_y = 0.04;
  f.eta_ybar = std::nan("");
  f.sse = 1.5e-3;
  f.normalised_loss = 2e-4;
  f.r2_h = 0.999;
  f.r2_y = 0.998;
  f.r2_w = 0.997;
  f.h_final_predicted = 0.09;
  f.t = {0, 1, 2};
  f.h = {scale, 2 * scale, 3 * scale};
  f.y = {1e-9 * scale, 0.1, 0.2};
  f.w = {-1e-5, -0.1, 0.0};
  f.loss = {0.3, 0.2, 0.1};
  return f;
}

TEST(FitCsv, HeaderAndRows) {
  Curves c;
  c.h = {1e-3, 0.05, 0.0899};
  const std::vector<int> layers = {4};
  const std::vector<Curves> curves = {c};
  const std::vector<FitResult> fits = {FakeFit(6.5e-4, 1.0)};
  const auto text = FormatFitCsv(layers, curves, fits);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text,
            "layer,eta_h,eta_y,eta_ybar,sse,normalised_loss,r2_h,r2_y,r2_w,h_final_predicted,"
            "h_final_measured\n"
            "4,0.00065,0.04,nan,0.0015,0.0002,0.999,0.998,0.997,0.09,0.0899\n");
  const std::string path = JoinPath(TestDir(), "fit.csv");
  ASSERT_TRUE(WriteFitCsv(path, layers, curves, fits).ok());
  const auto table = ReadCsvFile(path);
  ASSERT_TRUE(table.ok());
  EXPECT_EQ(table->rows.size(), 1u);
  EXPECT_EQ(FormatFitCsv(layers, {}, fits).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(TheoryCurvesCsv, HPerLayerAndOutputsOfThePlotLayer) {
  const std::vector<int> layers = {0, 5, 9};
  const std::vector<FitResult> fits = {FakeFit(1e-3, 1.0), FakeFit(1e-3, 2.0), FakeFit(1e-3, 3.0)};
  const auto middle = TheoryCurves(layers, fits, -1);
  ASSERT_TRUE(middle.ok()) << middle.status();
  EXPECT_THAT(middle->layers, ElementsAre(0, 5, 9));
  EXPECT_EQ(middle->h[2], fits[2].h);
  EXPECT_EQ(middle->y, fits[1].y);  // layer 5 is the middle one
  const auto last = TheoryCurves(layers, fits, 9);
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->y, fits[2].y);
  const auto missing = TheoryCurves(layers, fits, 3);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(missing.status().message(),
              HasSubstr("theory.plot_layer = 3; expected one of the fitted layers [0, 5, 9]"));

  // Same format as curves.csv: it reads back with ParseCurvesCsv.
  const std::string path = JoinPath(TestDir(), "theory_curves.csv");
  ASSERT_TRUE(WriteTheoryCurvesCsv(path, layers, fits, 5).ok());
  const auto read = ReadCurvesCsv(path);
  ASSERT_TRUE(read.ok()) << read.status();
  ExpectNear(read->h[1], fits[1].h);
  ExpectNear(read->loss, fits[1].loss);
  EXPECT_TRUE(read->ybar.empty());
}

// curves.csv -> per-layer Curves -> FitLayers -> fit.csv and theory_curves.csv.
TEST(CurvesIo, EndToEndFromRecordedCurves) {
  const std::vector<double> steps = [] {
    std::vector<double> t(400);
    for (int i = 0; i < 400; ++i) t[i] = i;
    return t;
  }();
  RecordedCurves recorded;
  recorded.t = steps;
  const Rates rates[] = {{0.02, 0.01, 0.02}, {0.03, 0.01, 0.02}};
  const State start{0.5, 0.01, 0.01 - std::sqrt(0.5 * 0.01)};
  for (int k = 0; k < 2; ++k) {
    auto c = SimulateCurves(start, rates[k], 1.0, 0.5, 0.2, steps);
    ASSERT_TRUE(c.ok());
    recorded.layers.push_back(3 * k);
    recorded.h.push_back(c->h);
    if (k == 0) {  // the outputs of layer 0's dynamics stand for the measured ones
      recorded.y = c->y;
      recorded.w = c->w;
      recorded.loss = c->loss;
      recorded.ybar.assign(steps.size(), 0.2);
    }
  }
  const std::string dir = TestDir();
  ASSERT_TRUE(WriteCurvesCsv(JoinPath(dir, "e2e_curves.csv"), recorded).ok());
  const auto read = ReadCurvesCsv(JoinPath(dir, "e2e_curves.csv"));
  ASSERT_TRUE(read.ok()) << read.status();
  const std::vector<Curves> layers = ToLayerCurves(*read, 1.0, 0.5);
  const auto results = FitLayers(layers, FitOptions(), 2);
  std::vector<FitResult> fits;
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status();
    fits.push_back(*r);
  }
  ASSERT_TRUE(WriteFitCsv(JoinPath(dir, "e2e_fit.csv"), read->layers, layers, fits).ok());
  ASSERT_TRUE(WriteTheoryCurvesCsv(JoinPath(dir, "e2e_theory.csv"), read->layers, fits, 0).ok());
  const auto fit_table = ReadCsvFile(JoinPath(dir, "e2e_fit.csv"));
  ASSERT_TRUE(fit_table.ok());
  ASSERT_EQ(fit_table->rows.size(), 2u);
  EXPECT_EQ(fit_table->rows[1][0], "3");
  const auto theory = ReadCurvesCsv(JoinPath(dir, "e2e_theory.csv"));
  ASSERT_TRUE(theory.ok()) << theory.status();
  EXPECT_THAT(theory->layers, ElementsAre(0, 3));
  // Layer 0 was generated with the recorded y/w, so its fit reproduces them.
  EXPECT_NEAR(fits[0].eta_h, rates[0].eta_h, 1e-3 * rates[0].eta_h);
  EXPECT_NEAR(fits[0].eta_ybar, rates[0].eta_ybar, 1e-2 * rates[0].eta_ybar);
  ExpectNear(theory->h[0], fits[0].h);
}

}  // namespace
}  // namespace replearn
