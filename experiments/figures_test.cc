// RenderFigure runs gnuplot without a shell and with every piece of text escaped: run folders
// and titles full of shell and gnuplot syntax draw their figures and execute nothing.
#include "experiments/figures.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace replearn {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string TmpDir() { return std::getenv("TEST_TMPDIR"); }

// A file that only an executed command could create. Relative commands ("touch X") would
// create it in the current directory (gnuplot's), absolute ones in TEST_TMPDIR.
const char kSentinel[] = "pwned_sentinel";

void ExpectNoSentinel() {
  EXPECT_FALSE(FileExists(kSentinel)) << "a command ran in " << get_current_dir_name();
  EXPECT_FALSE(FileExists(JoinPath(TmpDir(), kSentinel))) << "a command ran";
}

// Text that would run `touch <sentinel>` if it reached a shell, or a gnuplot command line
// through a quote that is not doubled or a line break that is kept.
std::string Hostile() {
  const std::string target = JoinPath(TmpDir(), kSentinel);
  return absl::StrCat("x'\nsystem \"touch ", target, "\"\n!touch ", target, "\nprint '$(touch ",
                      kSentinel, ") `touch ", kSentinel, "` it's \"quoted\" system(\"touch ",
                      target, "\")\r\x01 @macro \\ <&> \xff\xfe end");
}

void ExpectCompleteFigure(const std::string& stem) {
  const auto png = ReadFile(stem + ".png");
  ASSERT_TRUE(png.ok()) << png.status();
  EXPECT_TRUE(absl::StartsWith(*png, "\x89PNG"));
  EXPECT_TRUE(absl::EndsWith(*png, absl::string_view("IEND\xae\x42\x60\x82", 8)));
  const auto svg = ReadFile(stem + ".svg");
  ASSERT_TRUE(svg.ok()) << svg.status();
  EXPECT_TRUE(absl::EndsWith(absl::StripTrailingAsciiWhitespace(*svg), "</svg>"));
}

class FiguresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(GnuplotAvailable()) << "gnuplot is not on PATH (" << std::getenv("PATH")
                                    << "); tools/setup.sh installs it (Debian package gnuplot-nox)";
  }
};

TEST(GnuplotString, DoublesQuotesAndRemovesLineBreaksAndControlCharacters) {
  EXPECT_EQ(GnuplotString("it's"), "'it''s'");
  EXPECT_EQ(GnuplotString("a\nb\rc\td\x01\x7f"), "'a b c d  '");
  EXPECT_EQ(GnuplotString("`cmd` $(cmd) @m \\n \""), "'`cmd` $(cmd) @m \\n \"'");
  EXPECT_EQ(GnuplotString(""), "''");
}

TEST(GnuplotString, KeepsValidUtf8AndReplacesInvalidBytes) {
  EXPECT_EQ(GnuplotString("\xce\xb7_h \xe2\x86\x92 \xf0\x9f\x98\x80"),
            "'\xce\xb7_h \xe2\x86\x92 \xf0\x9f\x98\x80'");  // eta, arrow, emoji
  EXPECT_EQ(GnuplotString("\xff \xc3 \xe2\x86 \xed\xa0\x80 \xc0\xaf"), "'? ? ?\? ?\?\? ?\?'");
  EXPECT_EQ(GnuplotString("a\xc2\x85z"), "'a z'");  // C1 control character NEL
}

TEST_F(FiguresTest, HostileRunFolderAndTitleDrawBothFiguresAndRunNothing) {
  const std::string dir =
      JoinPath(TmpDir(), absl::StrCat("run '\" $(touch ", kSentinel, ") `touch ", kSentinel,
                                      "` \n system(\"touch ", kSentinel, "\") <x |y"));
  ASSERT_TRUE(MakeDirs(dir).ok());
  std::string curves = "step,layer,quantity,value\n";
  std::string theory = curves;
  for (int step = 0; step <= 20; ++step) {
    const double h = 1.0 / (1 + step), y = 0.5 * step / 20.0;
    absl::StrAppend(&curves, step, ",3,h,", h, "\n", step, ",4,h,", 2 * h, "\n", step, ",,y,", y,
                    "\n", step, ",,w,", 0.1 * y, "\n", step, ",,loss,", 0.5 / (1 + step), "\n");
    absl::StrAppend(&theory, step, ",3,h,", 1.1 * h, "\n", step, ",,y,", y, "\n", step, ",,w,",
                    0.1 * y, "\n", step, ",,loss,", 0.6 / (1 + step), "\n");
  }
  ASSERT_TRUE(WriteFileAtomically(JoinPath(dir, "curves.csv"), curves).ok());
  ASSERT_TRUE(WriteFileAtomically(JoinPath(dir, "theory_curves.csv"), theory).ok());
  ASSERT_TRUE(WriteFileAtomically(JoinPath(dir, "fit.csv"),
                                  "layer,eta_h,eta_y,eta_ybar,sse,normalised_loss\n"
                                  "3,0.01,0.1,0.2,1e-3,0.05\n4,0.02,0.2,0.2,1e-3,0.04\n")
                  .ok());

  const absl::Status status =
      RenderFigures(dir, JoinPath(dir, "curves.csv"), /*tracked_layer=*/3, Hostile());
  ExpectNoSentinel();
  ASSERT_TRUE(status.ok()) << status;
  ExpectCompleteFigure(JoinPath(dir, "curves"));
  ExpectCompleteFigure(JoinPath(dir, "depth"));
  // The title reached the figure as text, one line, with the quotes it had.
  const auto svg = ReadFile(JoinPath(dir, "curves.svg"));
  ASSERT_TRUE(svg.ok());
  EXPECT_TRUE(
      absl::StrContains(*svg, absl::StrCat("<text xml:space=\"preserve\">x' system \"touch ",
                                           JoinPath(TmpDir(), kSentinel), "\" !touch ")));
}

TEST_F(FiguresTest, HostileHeatmapTitlesAndTicsRunNothing) {
  Eigen::MatrixXd m(2, 2);
  m << 0, 1, 1, 0;
  const std::vector<HeatmapPanel> panels = {{m, Hostile(), {{Hostile(), 0}, {"b", 1}}, 1.0, true},
                                            {m, "plain", {}, NAN, false}};
  const std::string stem = JoinPath(TmpDir(), "heat `touch x` $(touch x)\n'");
  const absl::Status status = RenderHeatmaps(panels, 1, 2, Hostile(), stem);
  ExpectNoSentinel();
  ASSERT_TRUE(status.ok()) << status;
  ExpectCompleteFigure(stem);
}

TEST_F(FiguresTest, DatablocksCarryNumbersAndNaNBreaksALine) {
  Figure figure;
  figure.stem = JoinPath(TmpDir(), "datablock");
  figure.width = 300;
  figure.height = 200;
  figure.data = {{"d", {{0, 1}, {1, NAN}, {2, 3}, {3, INFINITY}}}};
  figure.script = "plot $d using 1:2 with lines title 'd'\n";
  ASSERT_TRUE(RenderFigure(figure).ok());
  ExpectCompleteFigure(figure.stem);
}

TEST_F(FiguresTest, RejectsADatablockNameThatIsNotAnIdentifier) {
  Figure figure;
  figure.stem = JoinPath(TmpDir(), "badname");
  figure.data = {{"d << EOD\nsystem('x')\n", {{0, 1}}}};
  figure.script = "plot sin(x)\n";
  const absl::Status status = RenderFigure(figure);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("datablock name"));
  EXPECT_FALSE(FileExists(figure.stem + ".png"));
}

TEST_F(FiguresTest, UnwritableOutputIsAnErrorAndWritesNothing) {
  const std::string file = JoinPath(TmpDir(), "a_file");
  ASSERT_TRUE(WriteFileAtomically(file, "x").ok());
  Figure figure;
  figure.stem = JoinPath(file, "figure");  // a folder that is a file: even root cannot write
  figure.script = "plot sin(x)\n";
  const absl::Status status = RenderFigure(figure);
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(status.message(), HasSubstr("cannot create"));
  EXPECT_THAT(status.message(), HasSubstr("figure.png.tmp."));
}

TEST_F(FiguresTest, FailedScriptKeepsThePreviousFiguresAndLeavesNoTemporaries) {
  const std::string dir = JoinPath(TmpDir(), "failed");
  ASSERT_TRUE(MakeDirs(dir).ok());
  Figure figure;
  figure.stem = JoinPath(dir, "fig");
  figure.width = 300;
  figure.height = 200;
  figure.script = "plot sin(x)\n";
  ASSERT_TRUE(RenderFigure(figure).ok());
  const auto before = ReadFile(figure.stem + ".png");
  ASSERT_TRUE(before.ok());

  // The PNG is complete after the first plot; the error after it must still fail the figure.
  figure.script = "plot cos(x)\nno_such_command\n";
  const absl::Status status = RenderFigure(figure);
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(status.message()),
              StartsWith(absl::StrCat("figure ", figure.stem, ": gnuplot")));
  EXPECT_THAT(status.message(), HasSubstr("invalid command"));
  EXPECT_EQ(*ReadFile(figure.stem + ".png"), *before);
  EXPECT_TRUE(FileExists(figure.stem + ".svg"));
  std::vector<std::string> left;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    left.push_back(entry.path().filename().string());
  }
  EXPECT_THAT(left, ::testing::UnorderedElementsAre("fig.png", "fig.svg"));
}

TEST_F(FiguresTest, OutputThatIsNotAWholeImageIsAnError) {
  Figure figure;
  figure.stem = JoinPath(TmpDir(), "empty");
  figure.script = "print 'no plot'\n";  // gnuplot exits 0 and writes nothing
  const absl::Status status = RenderFigure(figure);
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(status.message(), HasSubstr("incomplete png (0 bytes)"));
  EXPECT_FALSE(FileExists(figure.stem + ".png"));
  EXPECT_FALSE(FileExists(figure.stem + ".svg"));
}

}  // namespace
}  // namespace replearn
