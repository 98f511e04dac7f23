#include "metrics/two_point_measures.h"

#include <cmath>
#include <vector>

#include "core/rng.h"
#include "gtest/gtest.h"
#include "metrics/curve_log.h"

namespace replearn {
namespace {

TEST(MeasureOutputs, MatchesHandComputedValues) {
  const float yhat1[] = {1, 2}, yhat2[] = {4, 6}, t1[] = {0, 0}, t2[] = {3, 0};
  const OutputMeasures m = MeasureOutputs(yhat1, yhat2, t1, t2, 2);
  EXPECT_DOUBLE_EQ(m.y, 25.0);           // (3, 4)
  EXPECT_DOUBLE_EQ(m.w, 25.0 - 9.0);     // (3, 0) . (3, 4) = 9
  EXPECT_DOUBLE_EQ(m.ybar, 1.0 + 16.0);  // mean out (2.5, 4), mean target (1.5, 0)
  // 1/2 * mean(||(1,2)||^2, ||(1,6)||^2) = 1/4 * (5 + 37)
  EXPECT_DOUBLE_EQ(m.loss, 10.5);
  EXPECT_DOUBLE_EQ(SquaredDistance(yhat1, yhat2, 2), 25.0);
}

// [LOSS-SPLIT]: L = 1/2 ybar + 1/4 (w + (dy2 - y)/2) for any outputs and targets.
TEST(MeasureOutputs, LossSplitHoldsForRandomVectors) {
  Rng rng(5);
  for (int dim : {1, 3, 10}) {
    for (int trial = 0; trial < 50; ++trial) {
      std::vector<float> a(dim), b(dim), t1(dim), t2(dim);
      for (int i = 0; i < dim; ++i) {
        a[i] = rng.Normal();
        b[i] = rng.Normal();
        t1[i] = rng.Normal();
        t2[i] = rng.Normal();
      }
      const OutputMeasures m = MeasureOutputs(a.data(), b.data(), t1.data(), t2.data(), dim);
      const double dy2 = SquaredDistance(t1.data(), t2.data(), dim);
      constexpr double kRelTol = 1e-12;
      EXPECT_NEAR(m.loss, 0.5 * m.ybar + 0.25 * (m.w + 0.5 * (dy2 - m.y)), kRelTol * (1 + m.loss));
    }
  }
}

TEST(CurveLog, WritesTidyCsvAndFindsFirstAndLast) {
  CurveLog log;
  log.Add(0, 3, "h", 0.5);
  log.Add(0, -1, "y", 1e-9);
  log.Add(1, 3, "h", 0.25);
  EXPECT_EQ(log.ToCsv(), "step,layer,quantity,value\n0,3,h,0.5\n0,,y,1e-09\n1,3,h,0.25\n");
  EXPECT_DOUBLE_EQ(log.First("h", 3), 0.5);
  EXPECT_DOUBLE_EQ(log.Last("h", 3), 0.25);
  EXPECT_TRUE(std::isnan(log.Last("h", 4)));
}

}  // namespace
}  // namespace replearn
