#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/csv.h"
#include "core/dnnl.h"
#include "core/file_util.h"
#include "core/progress.h"
#include "core/rng.h"
#include "core/status_macros.h"
#include "core/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace replearn {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string TestDir() {
  const char* tmp = std::getenv("TEST_TMPDIR");
  return tmp != nullptr ? tmp : "/tmp";
}

TEST(Rng, SameSeedSameStreamOtherSeedDiffers) {
  Rng a(7), b(7), c(8);
  for (int i = 0; i < 100; ++i) {
    const uint64_t va = a.NextU64();
    EXPECT_EQ(va, b.NextU64());
    EXPECT_NE(va, c.NextU64());
  }
}

TEST(Rng, NormalHasUnitMomentsAndUniformIsInRange) {
  Rng rng(123);
  constexpr int kN = 200000;
  double sum = 0, sum2 = 0, sum4 = 0;
  for (int i = 0; i < kN; ++i) {
    const double z = rng.Normal();
    sum += z;
    sum2 += z * z;
    sum4 += z * z * z * z;
  }
  // Standard errors: mean 1/sqrt(N) ~ 0.0022, variance sqrt(2/N) ~ 0.0032.
  EXPECT_NEAR(sum / kN, 0.0, 0.01);
  EXPECT_NEAR(sum2 / kN, 1.0, 0.015);
  EXPECT_NEAR(sum4 / kN, 3.0, 0.08);  // kurtosis of a normal
  for (int i = 0; i < 1000; ++i) {
    const double u = rng.Uniform();
    EXPECT_GE(u, 0.0);
    EXPECT_LT(u, 1.0);
    EXPECT_LT(rng.UniformInt(5), 5u);
  }
}

TEST(Rng, DeriveSeedIsPureAndSeparatesStreams) {
  EXPECT_EQ(Rng::DeriveSeed(1, 2), Rng::DeriveSeed(1, 2));
  EXPECT_NE(Rng::DeriveSeed(1, 2), Rng::DeriveSeed(1, 3));
  EXPECT_NE(Rng::DeriveSeed(1, 2), Rng::DeriveSeed(2, 2));
}

TEST(Csv, WritesQuotesAndParsesBack) {
  CsvWriter w({"step", "name", "value"});
  w.AddRow({"0", "a,b", FormatDouble(0.1)});
  w.AddRow({"1", "say \"hi\"", FormatDouble(-2.5e-9)});
  EXPECT_EQ(w.contents(), "step,name,value\n0,\"a,b\",0.1\n1,\"say \"\"hi\"\"\",-2.5e-09\n");
  const auto table = ParseCsv(w.contents(), "x.csv");
  ASSERT_TRUE(table.ok()) << table.status();
  ASSERT_EQ(table->rows.size(), 2u);
  EXPECT_EQ(table->rows[0][1], "a,b");
  EXPECT_EQ(table->rows[1][1], "say \"hi\"");
  EXPECT_EQ(table->Column("value"), 2);
  EXPECT_EQ(table->Column("nope"), -1);
}

TEST(Csv, RejectsRaggedRowNamingFileAndLine) {
  const auto table = ParseCsv("a,b\n1,2\n3\n", "curves.csv");
  EXPECT_EQ(table.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(table.status().message(), HasSubstr("curves.csv:3"));
  EXPECT_FALSE(ParseCsv("a\n\"unterminated\n", "u.csv").ok());
}

TEST(Csv, FormatDoubleRoundTripsFloats) {
  for (float f : {1.0f, 0.1f, 3.14159274f, 1e-30f, 123456.789f}) {
    EXPECT_EQ(static_cast<float>(std::strtod(FormatDouble(f).c_str(), nullptr)), f);
  }
}

TEST(FileUtil, AtomicWriteReplacesAndLeavesNoTemporary) {
  const std::string dir = JoinPath(TestDir(), "atomic/sub");
  ASSERT_TRUE(MakeDirs(dir).ok());
  const std::string path = JoinPath(dir, "f.txt");
  ASSERT_TRUE(WriteFileAtomically(path, "one").ok());
  ASSERT_TRUE(WriteFileAtomically(path, "two").ok());
  EXPECT_EQ(*ReadFile(path), "two");
  EXPECT_FALSE(FileExists(path + ".tmp." + std::to_string(getpid())));
  const auto missing = ReadFile(JoinPath(dir, "missing.txt"));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("missing.txt"));
  EXPECT_FALSE(WriteFileAtomically("/nonexistent_dir_xyz/f", "x").ok());
}

absl::StatusOr<int> Half(int x) {
  if (x % 2 != 0) return absl::InvalidArgumentError("odd");
  return x / 2;
}

absl::Status Quarter(int x, int* out) {
  ASSIGN_OR_RETURN(const int h, Half(x));
  ASSIGN_OR_RETURN(*out, Half(h));
  return absl::OkStatus();
}

absl::Status CheckEven(int x) {
  return x % 2 == 0 ? absl::OkStatus() : absl::InvalidArgumentError(absl::StrCat(x, " is odd"));
}

// Counts the calls that got past each RETURN_IF_ERROR, so the test sees where it returned.
absl::Status BothEven(int a, int b, int* reached) {
  *reached = 0;
  RETURN_IF_ERROR(CheckEven(a));
  ++*reached;
  RETURN_IF_ERROR(CheckEven(b));
  ++*reached;
  return absl::OkStatus();
}

TEST(StatusMacros, PropagateErrorsAndValues) {
  int out = 0;
  EXPECT_THAT(Quarter(8, &out), IsOk());
  EXPECT_EQ(out, 2);
  out = -1;
  EXPECT_THAT(Quarter(6, &out), StatusIs(absl::StatusCode::kInvalidArgument, "odd"));
  EXPECT_EQ(out, -1);  // the second ASSIGN_OR_RETURN did not assign
}

TEST(StatusMacros, ReturnIfErrorReturnsTheFirstErrorUnchanged) {
  int reached = -1;
  EXPECT_THAT(BothEven(2, 4, &reached), IsOk());
  EXPECT_EQ(reached, 2);
  EXPECT_THAT(BothEven(3, 4, &reached), StatusIs(absl::StatusCode::kInvalidArgument, "3 is odd"));
  EXPECT_EQ(reached, 0);
  EXPECT_THAT(BothEven(2, 5, &reached), StatusIs(absl::StatusCode::kInvalidArgument, "5 is odd"));
  EXPECT_EQ(reached, 1);
}

TEST(StatusMatchers, MatchCodeAndMessage) {
  const absl::Status bad = absl::NotFoundError("no file x.pbtxt");
  EXPECT_THAT(bad, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(bad, StatusIs(absl::StatusCode::kNotFound, HasSubstr("x.pbtxt")));
  EXPECT_THAT(bad, Not(StatusIs(absl::StatusCode::kInvalidArgument)));
  EXPECT_THAT(bad, Not(StatusIs(absl::StatusCode::kNotFound, HasSubstr("y.pbtxt"))));
  EXPECT_THAT(bad, Not(IsOk()));
  EXPECT_THAT(absl::StatusOr<int>(3), IsOk());
  EXPECT_THAT(Half(3), StatusIs(absl::StatusCode::kInvalidArgument, "odd"));
  // The failure text names the actual status.
  ::testing::StringMatchResultListener listener;
  EXPECT_FALSE(
      ::testing::ExplainMatchResult(StatusIs(absl::StatusCode::kInternal), bad, &listener));
  EXPECT_THAT(listener.str(), HasSubstr("no file x.pbtxt"));
}

TEST(Dnnl, CallTurnsExceptionIntoStatus) {
  EXPECT_TRUE(DnnlCall("ok", [] { CpuStream().wait(); }).ok());
  const absl::Status bad = DnnlCall("bad memory", [] {
    dnnl::memory::desc md({-5}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::a);
    dnnl::memory m(md, CpuEngine());
  });
  EXPECT_EQ(bad.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(bad.message(), HasSubstr("bad memory"));
  EXPECT_TRUE(DnnlStatus(dnnl_success, "x").ok());
  EXPECT_THAT(DnnlStatus(dnnl_invalid_arguments, "sgemm").message(), HasSubstr("sgemm"));
}

TEST(Progress, PlainModePrintsLines) {
  char* buf = nullptr;
  size_t len = 0;
  FILE* mem = open_memstream(&buf, &len);
  {
    Progress p("run", 10, "step", mem, 0.0);
    p.set_tty(false);
    for (int i = 0; i <= 10; ++i) p.Update(i, "loss 1");
    p.Finish();
  }
  std::fclose(mem);
  const std::string text(buf, len);
  std::free(buf);
  EXPECT_THAT(text, HasSubstr("10/10 steps"));
  EXPECT_THAT(text, HasSubstr("done in"));
  EXPECT_EQ(text.find('\r'), std::string::npos);
}

}  // namespace
}  // namespace replearn
