#include "architectures/conv.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "architectures/nonlinearity.h"
#include "architectures/optimizer.h"
#include "architectures/test_util.h"
#include "core/rng.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace replearn {
namespace {

using test::RandomVector;
using test::RecordingOptimizer;

using ::testing::HasSubstr;

// Float oneDNN convolution vs the double loops below: sums of at most ~50 products of O(1)
// values, each rounded once in float (relative 6e-8), so errors stay well below 1e-5.
constexpr double kForwardTol = 1e-5;
// Backward vs central differences of a double loss. The loss is quadratic in any single
// input, weight or bias, so the central difference has no truncation error; what remains
// is the float rounding of dy (relative 6e-8) and of oneDNN's sums.
constexpr double kGradAbsTol = 1e-5;
constexpr double kGradRelTol = 1e-5;
constexpr double kFiniteDiffStep = 1e-3;

std::vector<double> ToDouble(const float* data, int64_t n) {
  return std::vector<double>(data, data + n);
}

// ---- Naive references in double. ----

struct Geometry {
  int in_c, out_c, h, w, kh, kw, ph, pw;
  int oh() const { return h + 2 * ph - kh + 1; }
  int ow() const { return w + 2 * pw - kw + 1; }
  Conv2dShape ToShape() const {
    Conv2dShape s;
    s.in_channels = in_c;
    s.out_channels = out_c;
    s.height = h;
    s.width = w;
    s.kernel_h = kh;
    s.kernel_w = kw;
    s.pad_h = ph;
    s.pad_w = pw;
    return s;
  }
  std::string Name() const {
    return absl::StrCat(in_c, "->", out_c, " ", h, "x", w, " k", kh, "x", kw, " pad", ph, ",", pw);
  }
};

// The direct convolution of conv.h's header, with zero padding by bounds checks.
std::vector<double> NaiveConv(const Geometry& g, int batch, const std::vector<double>& x,
                              const std::vector<double>& w, const std::vector<double>& b) {
  std::vector<double> y(int64_t{batch} * g.out_c * g.oh() * g.ow());
  for (int n = 0; n < batch; ++n) {
    for (int o = 0; o < g.out_c; ++o) {
      for (int i = 0; i < g.oh(); ++i) {
        for (int j = 0; j < g.ow(); ++j) {
          double s = b[o];
          for (int c = 0; c < g.in_c; ++c) {
            for (int u = 0; u < g.kh; ++u) {
              for (int v = 0; v < g.kw; ++v) {
                const int r = i + u - g.ph, q = j + v - g.pw;
                if (r < 0 || r >= g.h || q < 0 || q >= g.w) continue;
                s += w[((o * g.in_c + c) * g.kh + u) * g.kw + v] *
                     x[((int64_t{n} * g.in_c + c) * g.h + r) * g.w + q];
              }
            }
          }
          y[((int64_t{n} * g.out_c + o) * g.oh() + i) * g.ow() + j] = s;
        }
      }
    }
  }
  return y;
}

double HalfSquaredError(const std::vector<double>& y, const std::vector<double>& t) {
  double loss = 0;
  for (size_t k = 0; k < y.size(); ++k) loss += 0.5 * (y[k] - t[k]) * (y[k] - t[k]);
  return loss;
}

// d/dv of loss(v) at every entry of v by central differences.
template <typename Loss>
std::vector<double> CentralDifferences(std::vector<double>& v, Loss loss) {
  std::vector<double> grad(v.size());
  for (size_t k = 0; k < v.size(); ++k) {
    const double saved = v[k];
    v[k] = saved + kFiniteDiffStep;
    const double up = loss();
    v[k] = saved - kFiniteDiffStep;
    const double down = loss();
    v[k] = saved;
    grad[k] = (up - down) / (2 * kFiniteDiffStep);
  }
  return grad;
}

void ExpectGradNear(const std::vector<float>& got, const std::vector<double>& want,
                    const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t k = 0; k < got.size(); ++k) {
    EXPECT_NEAR(got[k], want[k], kGradAbsTol + kGradRelTol * std::abs(want[k]))
        << what << "[" << k << "]";
  }
}

const Geometry kGeometries[] = {
    {1, 3, 1, 9, 1, 3, 0, 0},   // a 1-D convolution: height 1, kernel 1 x 3
    {2, 3, 1, 12, 1, 5, 0, 2},  // 1-D with padding
    {2, 3, 5, 6, 3, 3, 1, 1},   // the convnet block: 3 x 3, same padding
    {3, 2, 4, 7, 2, 3, 0, 1},   // even kernel, padding on one axis only
    {2, 4, 6, 5, 3, 1, 2, 0},   // kernel 3 x 1, padding larger than needed for "same"
    {1, 1, 3, 3, 3, 3, 0, 0},   // kernel as large as the input: 1 x 1 output
};

class Conv2dGeometry : public ::testing::TestWithParam<Geometry> {};

TEST_P(Conv2dGeometry, ForwardMatchesDirectConvolution) {
  const Geometry g = GetParam();
  Conv2d conv(g.ToShape());
  ASSERT_EQ(conv.in_size(), int64_t{g.in_c} * g.h * g.w);
  ASSERT_EQ(conv.out_size(), int64_t{g.out_c} * g.oh() * g.ow());
  conv.InitXavierNormal(1.5, 7, 3);
  const std::vector<float> bias = RandomVector(g.out_c, 11);
  std::copy(bias.begin(), bias.end(), conv.bias());
  for (int batch : {1, 3}) {
    const std::vector<float> x = RandomVector(batch * conv.in_size(), 100 + batch);
    std::vector<float> y(batch * conv.out_size());
    ASSERT_TRUE(conv.Forward(x.data(), batch, y.data()).ok());
    const std::vector<double> want =
        NaiveConv(g, batch, ToDouble(x.data(), x.size()),
                  ToDouble(conv.weights(), conv.num_weights()), ToDouble(bias.data(), g.out_c));
    for (size_t k = 0; k < y.size(); ++k) {
      EXPECT_NEAR(y[k], want[k], kForwardTol)
          << g.Name() << " batch " << batch << " y[" << k << "]";
    }
  }
}

// dx, dW and db for L = 1/2 sum (y - t)^2 against central differences of that loss
// evaluated with the double convolution; dx also with the nonlinearity factor.
TEST_P(Conv2dGeometry, BackwardMatchesFiniteDifferences) {
  const Geometry g = GetParam();
  constexpr int kBatch = 2;
  Conv2d conv(g.ToShape());
  conv.InitXavierNormal(1.0, 3, 0);
  const std::vector<float> bias = RandomVector(g.out_c, 12);
  std::copy(bias.begin(), bias.end(), conv.bias());
  const std::vector<float> x = RandomVector(kBatch * conv.in_size(), 13);
  const std::vector<float> t = RandomVector(kBatch * conv.out_size(), 14);

  std::vector<double> xd = ToDouble(x.data(), x.size());
  std::vector<double> wd = ToDouble(conv.weights(), conv.num_weights());
  std::vector<double> bd = ToDouble(bias.data(), bias.size());
  const std::vector<double> td = ToDouble(t.data(), t.size());
  auto loss = [&] { return HalfSquaredError(NaiveConv(g, kBatch, xd, wd, bd), td); };
  const std::vector<double> y = NaiveConv(g, kBatch, xd, wd, bd);
  std::vector<float> dy(y.size());
  for (size_t k = 0; k < y.size(); ++k) dy[k] = static_cast<float>(y[k] - td[k]);

  const std::vector<double> dx_fd = CentralDifferences(xd, loss);
  const std::vector<double> dw_fd = CentralDifferences(wd, loss);
  const std::vector<double> db_fd = CentralDifferences(bd, loss);

  // Forward first, as a network would (the backward must not depend on it, though).
  std::vector<float> y_float(y.size());
  ASSERT_TRUE(conv.Forward(x.data(), kBatch, y_float.data()).ok());
  RecordingOptimizer recorder;
  std::vector<float> dx(x.size());
  ASSERT_TRUE(
      conv.Backward(x.data(), dy.data(), kBatch, dx.data(), NONE, nullptr, recorder, 4).ok());
  ExpectGradNear(dx, dx_fd, g.Name() + " dx");
  ASSERT_EQ(recorder.grads.size(), 2u);
  ExpectGradNear(recorder.grads[4], dw_fd, g.Name() + " dW");
  ExpectGradNear(recorder.grads[5], db_fd, g.Name() + " db");
  // The recorder leaves the parameters alone.
  EXPECT_EQ(ToDouble(conv.weights(), conv.num_weights()), wd);

  // With a preceding tanh: dx is multiplied by tanh'(p).
  const std::vector<float> pre = RandomVector(x.size(), 15);
  std::vector<float> dx_tanh(x.size());
  ASSERT_TRUE(
      conv.Backward(x.data(), dy.data(), kBatch, dx_tanh.data(), TANH, pre.data(), recorder, 0)
          .ok());
  std::vector<double> want(x.size());
  for (size_t k = 0; k < x.size(); ++k) {
    const double th = std::tanh(static_cast<double>(pre[k]));
    want[k] = dx_fd[k] * (1 - th * th);
  }
  ExpectGradNear(dx_tanh, want, g.Name() + " dx * tanh'");
  // No dx: still the same weight gradients.
  ASSERT_TRUE(conv.Backward(x.data(), dy.data(), kBatch, nullptr, NONE, nullptr, recorder, 0).ok());
  ExpectGradNear(recorder.grads[0], dw_fd, g.Name() + " dW without dx");
}

INSTANTIATE_TEST_SUITE_P(Shapes, Conv2dGeometry, ::testing::ValuesIn(kGeometries));

TEST(Conv2d, XavierNormalUsesPyTorchFans) {
  // fan_in = 4 * 3 * 5 = 60, fan_out = 8 * 3 * 5 = 120: std = 2 * sqrt(2 / 180).
  Conv2d conv({4, 8, 6, 6, 3, 5, 1, 2});
  conv.InitXavierNormal(2.0, 9, 5);
  const double want_std = 2.0 * std::sqrt(2.0 / 180.0);
  // The first weights are the first draws of the layer's stream, in row-major order.
  Rng rng(Rng::DeriveSeed(9, 5));
  for (int k = 0; k < 10; ++k) {
    EXPECT_EQ(conv.weights()[k], static_cast<float>(want_std * rng.Normal())) << k;
  }
  double sum2 = 0;
  for (int64_t k = 0; k < conv.num_weights(); ++k) sum2 += conv.weights()[k] * conv.weights()[k];
  // 480 draws: the sample std is within ~3 * 1/sqrt(2 * 480) = 10% of the true one.
  EXPECT_NEAR(std::sqrt(sum2 / conv.num_weights()), want_std, 0.1 * want_std);
  for (int o = 0; o < 8; ++o) EXPECT_EQ(conv.bias()[o], 0.0f);
}

TEST(Conv2d, SgdOptimizerUpdatesTheParametersByTheGradient) {
  Conv2d conv({2, 3, 4, 4, 3, 3, 1, 1});
  conv.InitXavierNormal(1.0, 1, 0);
  const std::vector<float> x = RandomVector(conv.in_size(), 1);
  const std::vector<float> dy = RandomVector(conv.out_size(), 2);
  RecordingOptimizer recorder;
  ASSERT_TRUE(conv.Backward(x.data(), dy.data(), 1, nullptr, NONE, nullptr, recorder, 0).ok());
  const std::vector<float> w_before(conv.weights(), conv.weights() + conv.num_weights());
  constexpr float kLr = 0.25f;
  SgdOptimizer sgd(kLr);
  ASSERT_TRUE(conv.Backward(x.data(), dy.data(), 1, nullptr, NONE, nullptr, sgd, 0).ok());
  for (int64_t k = 0; k < conv.num_weights(); ++k) {
    EXPECT_EQ(conv.weights()[k], w_before[k] - kLr * recorder.grads[0][k]) << k;
  }
  for (int o = 0; o < 3; ++o) EXPECT_EQ(conv.bias()[o], -kLr * recorder.grads[1][o]) << o;
}

// Same inputs, same bits, also when other batch sizes ran in between (one plan per size).
TEST(Conv2d, DeterministicAndIndependentOfOtherBatchSizes) {
  const Conv2dShape shape{3, 5, 7, 9, 3, 3, 1, 1};
  auto run = [&](bool interleave) {
    Conv2d conv(shape);
    conv.InitXavierNormal(1.0, 4, 2);
    const std::vector<float> x = RandomVector(2 * conv.in_size(), 5);
    const std::vector<float> dy = RandomVector(2 * conv.out_size(), 6);
    std::vector<float> y(2 * conv.out_size()), dx(x.size());
    std::vector<float> y_other(3 * conv.out_size());
    const std::vector<float> x_other = RandomVector(3 * conv.in_size(), 7);
    RecordingOptimizer recorder;
    EXPECT_TRUE(conv.Forward(x.data(), 2, y.data()).ok());
    if (interleave) {
      EXPECT_TRUE(conv.Forward(x_other.data(), 3, y_other.data()).ok());
    }
    EXPECT_TRUE(conv.Backward(x.data(), dy.data(), 2, dx.data(), NONE, nullptr, recorder, 0).ok());
    std::vector<float> all = y;
    all.insert(all.end(), dx.begin(), dx.end());
    all.insert(all.end(), recorder.grads[0].begin(), recorder.grads[0].end());
    all.insert(all.end(), recorder.grads[1].begin(), recorder.grads[1].end());
    return all;
  };
  const std::vector<float> a = run(false);
  EXPECT_EQ(a, run(false));
  EXPECT_EQ(a, run(true));
}

TEST(Conv2d, RejectsBatchZero) {
  Conv2d conv({1, 1, 1, 4, 1, 2, 0, 0});
  float x[4] = {}, y[3];
  const absl::Status s = conv.Forward(x, 0, y);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("batch = 0; must be >= 1"));
}

// ---- Pooling ----

struct PoolCase {
  PoolKind kind;
  int channels, h, w;
  std::string Name() const {
    return absl::StrCat(kind == PoolKind::kMax ? "max" : "avg", " ", channels, "x", h, "x", w);
  }
};

std::vector<double> NaivePool(const PoolCase& p, int batch, const std::vector<double>& x) {
  const int oh = p.h / 2, ow = p.w / 2;
  std::vector<double> y(int64_t{batch} * p.channels * oh * ow);
  for (int nc = 0; nc < batch * p.channels; ++nc) {
    for (int i = 0; i < oh; ++i) {
      for (int j = 0; j < ow; ++j) {
        const double* base = x.data() + int64_t{nc} * p.h * p.w;
        const double a = base[2 * i * p.w + 2 * j], b = base[2 * i * p.w + 2 * j + 1];
        const double c = base[(2 * i + 1) * p.w + 2 * j], d = base[(2 * i + 1) * p.w + 2 * j + 1];
        y[(int64_t{nc} * oh + i) * ow + j] =
            p.kind == PoolKind::kMax ? std::max({a, b, c, d}) : (a + b + c + d) / 4;
      }
    }
  }
  return y;
}

// Distinct values 0.1 apart in random order: no ties, and no perturbation of kFiniteDiffStep
// changes which element of a window is the maximum.
std::vector<float> DistinctValues(int64_t n, uint64_t seed) {
  std::vector<float> v(n);
  for (int64_t k = 0; k < n; ++k) v[k] = static_cast<float>(0.1 * (k - n / 2));
  Rng rng(seed);
  for (int64_t k = n - 1; k > 0; --k) std::swap(v[k], v[rng.UniformInt(k + 1)]);
  return v;
}

class Pool2dCase : public ::testing::TestWithParam<PoolCase> {};

TEST_P(Pool2dCase, ForwardAndBackwardMatchNaivePooling) {
  const PoolCase p = GetParam();
  constexpr int kBatch = 2;
  Pool2d pool(p.kind, p.channels, p.h, p.w);
  ASSERT_EQ(pool.out_height(), p.h / 2);
  ASSERT_EQ(pool.out_width(), p.w / 2);
  const std::vector<float> x = DistinctValues(kBatch * pool.in_size(), 3);
  std::vector<float> y(kBatch * pool.out_size());
  ASSERT_TRUE(pool.Forward(x.data(), kBatch, y.data()).ok());
  std::vector<double> xd = ToDouble(x.data(), x.size());
  const std::vector<double> want = NaivePool(p, kBatch, xd);
  for (size_t k = 0; k < y.size(); ++k) {
    // The max is one of the inputs, exactly; the mean of 4 floats rounds once or twice.
    EXPECT_NEAR(y[k], want[k], 1e-6) << p.Name() << " y[" << k << "]";
  }

  const std::vector<float> t = RandomVector(y.size(), 4);
  const std::vector<double> td = ToDouble(t.data(), t.size());
  std::vector<float> dy(y.size());
  for (size_t k = 0; k < y.size(); ++k) dy[k] = static_cast<float>(want[k] - td[k]);
  const std::vector<double> dx_fd =
      CentralDifferences(xd, [&] { return HalfSquaredError(NaivePool(p, kBatch, xd), td); });
  std::vector<float> dx(x.size(), 123.0f);  // the dropped row/column must be overwritten
  ASSERT_TRUE(pool.Backward(dy.data(), kBatch, dx.data()).ok());
  ExpectGradNear(dx, dx_fd, p.Name() + " dx");
}

INSTANTIATE_TEST_SUITE_P(Shapes, Pool2dCase,
                         ::testing::Values(PoolCase{PoolKind::kMax, 3, 4, 6},
                                           PoolCase{PoolKind::kMax, 2, 5, 7},
                                           PoolCase{PoolKind::kMax, 1, 2, 3},
                                           PoolCase{PoolKind::kAverage, 3, 4, 6},
                                           PoolCase{PoolKind::kAverage, 2, 5, 7},
                                           PoolCase{PoolKind::kAverage, 1, 3, 2}));

TEST(Pool2d, BackwardWithoutForwardIsFailedPrecondition) {
  Pool2d pool(PoolKind::kMax, 1, 4, 4);
  float dy[4] = {}, dx[16];
  EXPECT_EQ(pool.Backward(dy, 1, dx).code(), absl::StatusCode::kFailedPrecondition);
}

// Max pooling's backward uses the max positions of the last Forward at its batch size, also
// when a Forward at another batch size ran in between (each size has its own workspace).
TEST(Pool2d, BackwardUsesTheLastForwardOfItsBatchSize) {
  Pool2d pool(PoolKind::kMax, 1, 2, 2);
  const float x1[4] = {0, 5, 1, 2};  // max at index 1
  const float x3[12] = {9, 0, 0, 0, 0, 9, 0, 0, 0, 0, 9, 0};
  float y1[1], y3[3];
  ASSERT_TRUE(pool.Forward(x1, 1, y1).ok());
  ASSERT_TRUE(pool.Forward(x3, 3, y3).ok());
  EXPECT_EQ(y1[0], 5.0f);
  const float dy[1] = {2.0f};
  float dx[4];
  ASSERT_TRUE(pool.Backward(dy, 1, dx).ok());
  EXPECT_THAT(std::vector<float>(dx, dx + 4), ::testing::ElementsAre(0, 2, 0, 0));
}

}  // namespace
}  // namespace replearn
