#include "architectures/dense.h"

#include <cmath>
#include <cstring>
#include <functional>
#include <vector>

#include "Eigen/Core"
#include "architectures/nonlinearity.h"
#include "core/dnnl.h"
#include "core/rng.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace replearn {
namespace {

using ::testing::HasSubstr;
using RowMatrixXd = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Float sums of n products vs double: |error| <= kSumRelTol * sum of |products|.
constexpr double kSumRelTol = 1e-5;
// Gradients from the float layer (dx directly, W and b read back from the update) vs central
// differences of the double loss.
constexpr double kGradTol = 2e-5;
constexpr double kFiniteDiffStep = 1e-6;
// Xavier init: relative error of the sample standard deviation (about 5 standard errors
// for the sizes below).
constexpr double kInitStdRelTol = 0.01;

std::vector<float> RandomVector(int64_t n, uint64_t seed, double scale = 1.0) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (float& e : v) e = static_cast<float>(scale * rng.Normal());
  return v;
}

void RandomizeLayer(Dense& layer, uint64_t seed) {
  layer.InitXavierNormal(1.0, seed, 0);
  const std::vector<float> b = RandomVector(layer.out_dim(), seed + 1, 0.5);
  std::copy(b.begin(), b.end(), layer.bias());
}

RowMatrixXd ToDouble(const float* data, int rows, int cols) {
  return Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
             data, rows, cols)
      .cast<double>();
}

// Y = X W^T + b in double.
RowMatrixXd ReferenceForward(const RowMatrixXd& x, const RowMatrixXd& w, const Eigen::VectorXd& b) {
  RowMatrixXd y = x * w.transpose();
  y.rowwise() += b.transpose();
  return y;
}

// L = 1/2 ||X W^T + b - T||^2 in double.
double Loss(const RowMatrixXd& x, const RowMatrixXd& w, const Eigen::VectorXd& b,
            const RowMatrixXd& t) {
  return 0.5 * (ReferenceForward(x, w, b) - t).squaredNorm();
}

// Central differences of f over every entry of m (m is restored).
template <typename Matrix>
Matrix FiniteDiffGradient(Matrix& m, const std::function<double()>& f) {
  Matrix g(m.rows(), m.cols());
  for (Eigen::Index k = 0; k < m.size(); ++k) {
    const double saved = m.data()[k];
    m.data()[k] = saved + kFiniteDiffStep;
    const double up = f();
    m.data()[k] = saved - kFiniteDiffStep;
    const double down = f();
    m.data()[k] = saved;
    g.data()[k] = (up - down) / (2 * kFiniteDiffStep);
  }
  return g;
}

TEST(Dense, ForwardMatchesDoubleReference) {
  constexpr int kIn = 37, kOut = 23, kBatch = 3;
  Dense layer(kIn, kOut);
  RandomizeLayer(layer, 11);
  const std::vector<float> x = RandomVector(kBatch * kIn, 12);
  std::vector<float> y(kBatch * kOut);
  ASSERT_TRUE(layer.Forward(x.data(), kBatch, y.data()).ok());

  const RowMatrixXd xd = ToDouble(x.data(), kBatch, kIn);
  const RowMatrixXd wd = ToDouble(layer.weights(), kOut, kIn);
  const Eigen::VectorXd bd = ToDouble(layer.bias(), kOut, 1);
  const RowMatrixXd ref = ReferenceForward(xd, wd, bd);
  const RowMatrixXd scale =
      (xd.cwiseAbs() * wd.cwiseAbs().transpose()).rowwise() + bd.cwiseAbs().transpose();
  for (int b = 0; b < kBatch; ++b) {
    for (int o = 0; o < kOut; ++o) {
      EXPECT_NEAR(y[b * kOut + o], ref(b, o), kSumRelTol * scale(b, o)) << b << "," << o;
    }
  }
}

TEST(Dense, RejectsEmptyBatch) {
  Dense layer(3, 2);
  float x[3] = {}, y[2] = {};
  const absl::Status forward = layer.Forward(x, 0, y);
  EXPECT_EQ(forward.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(forward.message()), HasSubstr("batch = 0"));
  EXPECT_EQ(layer.BackwardSgdFused(x, y, 0, 0.1f, nullptr).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(layer.BackwardSgdReference(x, y, -1, 0.1f, nullptr).code(),
            absl::StatusCode::kInvalidArgument);
}

enum class Path { kFused, kReference, kDispatch };

struct GradientCase {
  Path path;
  int batch;
};

class DenseGradient : public ::testing::TestWithParam<GradientCase> {};

// Gradients of L = 1/2 ||y - t||^2 wrt x (with and without the f'(p) factor), W and b, vs
// central differences. W and b gradients are read back from the update: (before - after)/lr.
TEST_P(DenseGradient, MatchesFiniteDifferences) {
  // 71 rows: several blocks of kBlockRows, the last partial, and not a multiple of 4.
  constexpr int kIn = 37, kOut = 71;
  constexpr float kLr = 0.5f;
  const GradientCase c = GetParam();
  const int batch = c.batch;

  Dense layer(kIn, kOut);
  RandomizeLayer(layer, 21);
  const std::vector<float> x = RandomVector(batch * kIn, 22);
  const std::vector<float> t = RandomVector(batch * kOut, 23);
  const std::vector<float> p = RandomVector(batch * kIn, 24);  // preactivation for f'(p)

  RowMatrixXd xd = ToDouble(x.data(), batch, kIn);
  RowMatrixXd wd = ToDouble(layer.weights(), kOut, kIn);
  Eigen::VectorXd bd = ToDouble(layer.bias(), kOut, 1);
  const RowMatrixXd td = ToDouble(t.data(), batch, kOut);
  const auto loss = [&] { return Loss(xd, wd, bd, td); };
  const RowMatrixXd grad_x = FiniteDiffGradient(xd, loss);
  const RowMatrixXd grad_w = FiniteDiffGradient(wd, loss);
  const Eigen::VectorXd grad_b = FiniteDiffGradient(bd, loss);

  std::vector<float> y(batch * kOut), dy(batch * kOut);
  ASSERT_TRUE(layer.Forward(x.data(), batch, y.data()).ok());
  for (int k = 0; k < batch * kOut; ++k) dy[k] = y[k] - t[k];

  std::vector<float> dx(batch * kIn, -1.0f);
  absl::Status status;
  switch (c.path) {
    case Path::kFused:
      status = layer.BackwardSgdFused(x.data(), dy.data(), batch, kLr, dx.data(), TANH, p.data());
      break;
    case Path::kReference:
      status =
          layer.BackwardSgdReference(x.data(), dy.data(), batch, kLr, dx.data(), TANH, p.data());
      break;
    case Path::kDispatch:
      status = layer.BackwardSgd(x.data(), dy.data(), batch, kLr, dx.data(), TANH, p.data());
      break;
  }
  ASSERT_TRUE(status.ok()) << status;

  for (int b = 0; b < batch; ++b) {
    for (int i = 0; i < kIn; ++i) {
      const double expected = grad_x(b, i) * NonlinearityDerivative<double>(TANH, p[b * kIn + i]);
      EXPECT_NEAR(dx[b * kIn + i], expected, kGradTol) << "dx " << b << "," << i;
    }
  }
  for (int o = 0; o < kOut; ++o) {
    for (int i = 0; i < kIn; ++i) {
      const double read_back = (wd(o, i) - layer.weights()[o * kIn + i]) / kLr;
      EXPECT_NEAR(read_back, grad_w(o, i), kGradTol) << "W " << o << "," << i;
    }
    EXPECT_NEAR((bd(o) - layer.bias()[o]) / kLr, grad_b(o), kGradTol) << "b " << o;
  }
}

INSTANTIATE_TEST_SUITE_P(
    All, DenseGradient,
    ::testing::Values(GradientCase{Path::kFused, 1}, GradientCase{Path::kFused, 2},
                      GradientCase{Path::kFused, 3}, GradientCase{Path::kFused, 4},
                      GradientCase{Path::kFused, 5}, GradientCase{Path::kReference, 2},
                      GradientCase{Path::kReference, 5}, GradientCase{Path::kDispatch, 2},
                      GradientCase{Path::kDispatch, 6}),
    [](const ::testing::TestParamInfo<GradientCase>& info) {
      const char* path = info.param.path == Path::kFused       ? "Fused"
                         : info.param.path == Path::kReference ? "Reference"
                                                               : "Dispatch";
      return std::string(path) + "Batch" + std::to_string(info.param.batch);
    });

struct LayerState {
  std::vector<float> w, b, dx;
};

// One backward of a freshly initialised [in -> out] layer on fixed data, run with `threads`.
LayerState RunBackward(int in, int out, int batch, bool fused, bool want_dx, int threads) {
  Dense layer(in, out);
  RandomizeLayer(layer, 31);
  const std::vector<float> x = RandomVector(batch * in, 32);
  const std::vector<float> dy = RandomVector(batch * out, 33);
  const std::vector<float> p = RandomVector(batch * in, 34);
  LayerState s;
  s.dx.assign(batch * in, 0.0f);
  float* dx = want_dx ? s.dx.data() : nullptr;
  const int saved_threads = DnnlMaxThreads();
  SetDnnlThreads(threads);
  const absl::Status status =
      fused
          ? layer.BackwardSgdFused(x.data(), dy.data(), batch, 0.01f, dx, LEAKY_RELU, p.data())
          : layer.BackwardSgdReference(x.data(), dy.data(), batch, 0.01f, dx, LEAKY_RELU, p.data());
  SetDnnlThreads(saved_threads);
  EXPECT_TRUE(status.ok()) << status;
  s.w.assign(layer.weights(), layer.weights() + int64_t{in} * out);
  s.b.assign(layer.bias(), layer.bias() + out);
  return s;
}

// Every build of the fused kernel this CPU can run (AVX-512, AVX2 + FMA, portable) against
// the two-GEMM reference, on sizes that cover the row-group and block remainders.
TEST(Dense, FusedMatchesReferenceToFloatRounding) {
  struct Size {
    int in, out, batch;
  };
  struct RestoreIsa {
    ~RestoreIsa() { SetDenseKernelIsaForTesting(BestDenseKernelIsa()); }
  } restore_isa;
  for (int isa = 0; isa <= static_cast<int>(BestDenseKernelIsa()); ++isa) {
    SetDenseKernelIsaForTesting(static_cast<DenseKernelIsa>(isa));
    for (const Size& size : {Size{500, 500, 2}, Size{500, 500, 1}, Size{129, 67, 3},
                             Size{64, 200, 4}, Size{50, 90, 7}, Size{3, 1, 2}}) {
      SCOPED_TRACE(testing::Message() << "isa " << isa << ", " << size.in << "->" << size.out
                                      << " batch " << size.batch);
      const LayerState fused = RunBackward(size.in, size.out, size.batch, true, true, 2);
      const LayerState ref = RunBackward(size.in, size.out, size.batch, false, true, 2);
      // Independent bounds: |W| plus the update's magnitude, and sum_o |dy W| for dx.
      const std::vector<float> x = RandomVector(size.batch * size.in, 32);
      const std::vector<float> dy = RandomVector(size.batch * size.out, 33);
      Dense initial(size.in, size.out);
      RandomizeLayer(initial, 31);
      for (int o = 0; o < size.out; ++o) {
        for (int i = 0; i < size.in; ++i) {
          double update = 0;
          for (int b = 0; b < size.batch; ++b) {
            update += std::abs(dy[b * size.out + o] * x[b * size.in + i]);
          }
          const double scale = std::abs(initial.weights()[o * size.in + i]) + 0.01 * update;
          ASSERT_NEAR(fused.w[o * size.in + i], ref.w[o * size.in + i], kSumRelTol * scale);
        }
        double bias_update = 0;
        for (int b = 0; b < size.batch; ++b) bias_update += std::abs(dy[b * size.out + o]);
        ASSERT_NEAR(fused.b[o], ref.b[o], kSumRelTol * (std::abs(ref.b[o]) + 0.01 * bias_update));
      }
      for (int b = 0; b < size.batch; ++b) {
        for (int i = 0; i < size.in; ++i) {
          double scale = 0;
          for (int o = 0; o < size.out; ++o) {
            scale += std::abs(dy[b * size.out + o] * initial.weights()[o * size.in + i]);
          }
          ASSERT_NEAR(fused.dx[b * size.in + i], ref.dx[b * size.in + i], kSumRelTol * scale);
        }
      }
    }
  }
}

TEST(Dense, FusedIsBitIdenticalAcrossRunsAndThreadCounts) {
  const LayerState a = RunBackward(500, 500, 2, true, true, 2);
  const LayerState b = RunBackward(500, 500, 2, true, true, 2);
  const LayerState c = RunBackward(500, 500, 2, true, true, 1);
  for (const LayerState* other : {&b, &c}) {
    EXPECT_EQ(std::memcmp(a.w.data(), other->w.data(), a.w.size() * sizeof(float)), 0);
    EXPECT_EQ(std::memcmp(a.b.data(), other->b.data(), a.b.size() * sizeof(float)), 0);
    EXPECT_EQ(std::memcmp(a.dx.data(), other->dx.data(), a.dx.size() * sizeof(float)), 0);
  }
}

TEST(Dense, SkippingDxGivesTheSameUpdate) {
  const LayerState with_dx = RunBackward(300, 200, 2, true, true, 2);
  const LayerState without_dx = RunBackward(300, 200, 2, true, false, 2);
  EXPECT_EQ(with_dx.w, without_dx.w);
  EXPECT_EQ(with_dx.b, without_dx.b);
  EXPECT_THAT(without_dx.dx, ::testing::Each(0.0f));  // left untouched
}

TEST(Dense, XavierNormalInit) {
  constexpr int kIn = 500, kOut = 300;
  constexpr double kGain = 1.5;
  Dense layer(kIn, kOut);
  layer.InitXavierNormal(kGain, 7, 3);
  const double expected_std = kGain * std::sqrt(2.0 / (kIn + kOut));
  double sum = 0, sum2 = 0;
  const int64_t n = int64_t{kIn} * kOut;
  for (int64_t k = 0; k < n; ++k) {
    sum += layer.weights()[k];
    sum2 += double{layer.weights()[k]} * layer.weights()[k];
  }
  const double mean = sum / n;
  EXPECT_NEAR(mean, 0.0, 5 * expected_std / std::sqrt(n));
  EXPECT_NEAR(std::sqrt(sum2 / n - mean * mean), expected_std, kInitStdRelTol * expected_std);
  for (int o = 0; o < kOut; ++o) EXPECT_EQ(layer.bias()[o], 0.0f);

  // The documented stream: Rng(DeriveSeed(seed, layer_index)) in row-major order.
  Rng rng(Rng::DeriveSeed(7, 3));
  for (int k = 0; k < 10; ++k) {
    EXPECT_EQ(layer.weights()[k], static_cast<float>(expected_std * rng.Normal()));
  }
  Dense same(kIn, kOut), other_layer(kIn, kOut);
  same.InitXavierNormal(kGain, 7, 3);
  other_layer.InitXavierNormal(kGain, 7, 4);
  EXPECT_EQ(std::memcmp(same.weights(), layer.weights(), n * sizeof(float)), 0);
  EXPECT_NE(other_layer.weights()[0], layer.weights()[0]);
}

}  // namespace
}  // namespace replearn
