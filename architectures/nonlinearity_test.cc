#include "architectures/nonlinearity.h"

#include <cmath>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/dnnl.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace replearn {
namespace {

// float results vs double closed forms. For |x| < kTail: a few float ulps of the value plus
// a few ulps of 1 (f' of SILU and GELU crosses zero there). In the tails, relative error
// only: no cancellation. GELU's erfc(z) amplifies the rounding of z = x / sqrt 2 by 2 z^2,
// up to ~150 float epsilons at |x| = 12 (where the values are ~1e-32).
constexpr double kFloatRelTol = 1e-6;
constexpr double kFloatAbsTol = 1e-7;
constexpr double kTail = 3.0;
constexpr double kFloatTailRelTol = 2e-5;
// Ours vs oneDNN's eltwise primitives. Its JIT kernels use polynomial approximations
// accurate to a few float ulps relative to values of order 1, but its 1 - tanh(x)^2 and
// gelu_erf lose relative accuracy where the value is tiny: the absolute term is ~2 ulps of 1
// (times |dy| for the backward, dx = dy f'(x)).
constexpr double kOneDnnRelTol = 2e-6;
constexpr double kOneDnnAbsTol = 2.5e-7;
// Analytic derivative vs central differences, both in double.
constexpr double kFiniteDiffStep = 1e-5;
constexpr double kFiniteDiffTol = 1e-8;

const Nonlinearity kAll[] = {NONE, RELU, LEAKY_RELU, TANH, ELU, SILU, GELU};

float Apply(Nonlinearity f, float x) {
  float y;
  ApplyNonlinearity(f, &x, &y, 1);
  return y;
}

float Derivative(Nonlinearity f, float x) {
  float g = 1.0f;
  MultiplyByNonlinearityDerivative(f, &x, &g, 1);
  return g;
}

bool Near(double actual, double expected, double rel_tol, double abs_tol) {
  return std::abs(actual - expected) <= abs_tol + rel_tol * std::abs(expected);
}

// Inputs from -lo to hi in `n` equal steps, plus exactly 0 and the points next to it.
std::vector<float> Sweep(float lo, float hi, int n) {
  std::vector<float> x;
  for (int i = 0; i <= n; ++i) x.push_back(lo + (hi - lo) * static_cast<float>(i) / n);
  x.push_back(0.0f);
  x.push_back(1e-30f);
  x.push_back(-1e-30f);
  return x;
}

TEST(Nonlinearity, DocumentedValues) {
  EXPECT_EQ(Apply(LEAKY_RELU, -2.0f), -0.02f);
  EXPECT_EQ(Apply(LEAKY_RELU, 3.0f), 3.0f);
  EXPECT_EQ(Apply(RELU, -2.0f), 0.0f);
  EXPECT_EQ(Apply(RELU, 2.5f), 2.5f);
  EXPECT_EQ(Apply(NONE, -1.75f), -1.75f);
  for (Nonlinearity f : kAll) EXPECT_EQ(Apply(f, 0.0f), 0.0f) << Nonlinearity_Name(f);

  // Literals from the closed forms (tanh(1), e^-1 - 1, 1 / (1 + e^-1), Phi(1)).
  EXPECT_NEAR(Apply(TANH, 1.0f), 0.7615941559557649, 1e-7);
  EXPECT_NEAR(Apply(ELU, -1.0f), -0.6321205588285577, 1e-7);
  EXPECT_EQ(Apply(ELU, 2.0f), 2.0f);
  EXPECT_NEAR(Apply(SILU, 1.0f), 0.7310585786300049, 1e-7);
  EXPECT_NEAR(Apply(SILU, -1.0f), -0.2689414213699951, 1e-7);
  EXPECT_NEAR(Apply(GELU, 1.0f), 0.8413447460685429, 1e-7);
  EXPECT_NEAR(Apply(GELU, -1.0f), -0.15865525393145707, 1e-7);

  // f'(0): the x <= 0 branch for the kinks (oneDNN's eltwise_relu convention).
  EXPECT_EQ(Derivative(RELU, 0.0f), 0.0f);
  EXPECT_EQ(Derivative(LEAKY_RELU, 0.0f), 0.01f);
  EXPECT_EQ(Derivative(NONE, 0.0f), 1.0f);
  EXPECT_EQ(Derivative(TANH, 0.0f), 1.0f);
  EXPECT_EQ(Derivative(ELU, 0.0f), 1.0f);
  EXPECT_EQ(Derivative(SILU, 0.0f), 0.5f);
  EXPECT_EQ(Derivative(GELU, 0.0f), 0.5f);

  EXPECT_EQ(Derivative(RELU, -2.0f), 0.0f);
  EXPECT_EQ(Derivative(RELU, 2.0f), 1.0f);
  EXPECT_EQ(Derivative(LEAKY_RELU, -2.0f), 0.01f);
  EXPECT_EQ(Derivative(LEAKY_RELU, 2.0f), 1.0f);
  EXPECT_EQ(Derivative(NONE, 5.0f), 1.0f);
  // 1 - tanh(1)^2, e^-1, s(1)(1 + 1 - s(1)), Phi(1) + phi(1).
  EXPECT_NEAR(Derivative(TANH, 1.0f), 0.41997434161402614, 1e-7);
  EXPECT_NEAR(Derivative(ELU, -1.0f), 0.36787944117144233, 1e-7);
  EXPECT_EQ(Derivative(ELU, 1.0f), 1.0f);
  EXPECT_NEAR(Derivative(SILU, 1.0f), 0.9276705118714869, 1e-7);
  EXPECT_NEAR(Derivative(GELU, 1.0f), 1.0833154705876864, 1e-7);
  EXPECT_NEAR(Derivative(GELU, -1.0f), -0.08331547058768636, 1e-7);
}

TEST(Nonlinearity, MultiplyScalesTheIncomingGradient) {
  const float x[3] = {-2.0f, 0.0f, 3.0f};
  float g[3] = {10.0f, -4.0f, 0.5f};
  MultiplyByNonlinearityDerivative(LEAKY_RELU, x, g, 3);
  EXPECT_EQ(g[0], 10.0f * 0.01f);
  EXPECT_EQ(g[1], -4.0f * 0.01f);
  EXPECT_EQ(g[2], 0.5f);
}

class NonlinearitySweep : public ::testing::TestWithParam<Nonlinearity> {};

TEST_P(NonlinearitySweep, FloatArraysMatchDoubleClosedForm) {
  const Nonlinearity f = GetParam();
  const std::vector<float> x = Sweep(-12.0f, 12.0f, 2401);
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<float> y(n), g(n, 1.0f), in_place = x;
  ApplyNonlinearity(f, x.data(), y.data(), n);
  ApplyNonlinearity(f, in_place.data(), in_place.data(), n);
  MultiplyByNonlinearityDerivative(f, x.data(), g.data(), n);
  for (int64_t i = 0; i < n; ++i) {
    const double xd = x[i];
    const double y_ref = NonlinearityValue<double>(f, xd);
    const double g_ref = NonlinearityDerivative<double>(f, xd);
    const bool tail = std::abs(xd) >= kTail;
    const double rel_tol = tail ? kFloatTailRelTol : kFloatRelTol;
    const double abs_tol = tail ? 0.0 : kFloatAbsTol;
    EXPECT_PRED4(Near, y[i], y_ref, rel_tol, abs_tol) << "x = " << xd;
    EXPECT_PRED4(Near, g[i], g_ref, rel_tol, abs_tol) << "x = " << xd;
    EXPECT_EQ(in_place[i], y[i]) << "x = " << xd;
  }
}

TEST_P(NonlinearitySweep, DerivativeMatchesCentralDifferencesInDouble) {
  const Nonlinearity f = GetParam();
  constexpr double h = kFiniteDiffStep;
  for (int i = -4000; i <= 4000; ++i) {
    const double x = i * 2.5e-3 + 1.234e-4;  // never within h of the kink at 0
    const double fd =
        (NonlinearityValue<double>(f, x + h) - NonlinearityValue<double>(f, x - h)) / (2 * h);
    EXPECT_NEAR(NonlinearityDerivative<double>(f, x), fd, kFiniteDiffTol) << "x = " << x;
  }
}

struct OneDnnEltwise {
  dnnl::algorithm algorithm;
  float alpha;
  float beta;
};

OneDnnEltwise OneDnnEquivalent(Nonlinearity f) {
  switch (f) {
    case RELU:
      return {dnnl::algorithm::eltwise_relu, 0.0f, 0.0f};
    case LEAKY_RELU:
      return {dnnl::algorithm::eltwise_relu, static_cast<float>(kLeakyReluSlope), 0.0f};
    case TANH:
      return {dnnl::algorithm::eltwise_tanh, 0.0f, 0.0f};
    case ELU:
      return {dnnl::algorithm::eltwise_elu, static_cast<float>(kEluAlpha), 0.0f};
    case SILU:
      return {dnnl::algorithm::eltwise_swish, 1.0f, 0.0f};
    case GELU:
      return {dnnl::algorithm::eltwise_gelu_erf, 0.0f, 0.0f};
    case NONE:
    default:
      return {dnnl::algorithm::eltwise_linear, 1.0f, 0.0f};
  }
}

// oneDNN's forward y = f(x) and backward dx = dy * f'(x) (backward from the source).
absl::Status RunOneDnn(Nonlinearity f, std::vector<float>& x, std::vector<float>& dy,
                       std::vector<float>* y, std::vector<float>* dx) {
  const OneDnnEltwise e = OneDnnEquivalent(f);
  y->assign(x.size(), 0.0f);
  dx->assign(x.size(), 0.0f);
  return DnnlCall("eltwise reference", [&] {
    dnnl::engine& engine = CpuEngine();
    dnnl::stream& stream = CpuStream();
    const dnnl::memory::desc md({static_cast<dnnl::memory::dim>(x.size())},
                                dnnl::memory::data_type::f32, dnnl::memory::format_tag::a);
    dnnl::memory src(md, engine, x.data()), dst(md, engine, y->data());
    dnnl::memory diff_dst(md, engine, dy.data()), diff_src(md, engine, dx->data());
    const dnnl::eltwise_forward::primitive_desc fwd(
        dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_training, e.algorithm, md, e.alpha,
                                    e.beta),
        engine);
    dnnl::eltwise_forward(fwd).execute(stream, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}});
    const dnnl::eltwise_backward::primitive_desc bwd(
        dnnl::eltwise_backward::desc(e.algorithm, md, md, e.alpha, e.beta), engine, fwd);
    dnnl::eltwise_backward(bwd).execute(
        stream,
        {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_DIFF_SRC, diff_src}});
    stream.wait();
  });
}

TEST_P(NonlinearitySweep, MatchesOneDnnEltwisePrimitives) {
  const Nonlinearity f = GetParam();
  std::vector<float> x = Sweep(-10.0f, 10.0f, 4001);
  const int64_t n = static_cast<int64_t>(x.size());
  // A varying incoming gradient, so the backward's multiplication is exercised too.
  std::vector<float> dy(n);
  for (int64_t i = 0; i < n; ++i) dy[i] = 0.5f + 0.25f * static_cast<float>(i % 7);

  std::vector<float> y_dnnl, dx_dnnl;
  ASSERT_TRUE(RunOneDnn(f, x, dy, &y_dnnl, &dx_dnnl).ok());

  std::vector<float> y(n), dx = dy;
  ApplyNonlinearity(f, x.data(), y.data(), n);
  MultiplyByNonlinearityDerivative(f, x.data(), dx.data(), n);
  for (int64_t i = 0; i < n; ++i) {
    EXPECT_PRED4(Near, y[i], y_dnnl[i], kOneDnnRelTol, kOneDnnAbsTol) << "x = " << x[i];
    EXPECT_PRED4(Near, dx[i], dx_dnnl[i], kOneDnnRelTol, kOneDnnAbsTol * dy[i]) << "x = " << x[i];
  }
  // The convention at the kink is oneDNN's exactly.
  const int64_t zero = n - 3;
  ASSERT_EQ(x[zero], 0.0f);
  EXPECT_EQ(dx[zero], dx_dnnl[zero]);
}

INSTANTIATE_TEST_SUITE_P(All, NonlinearitySweep, ::testing::ValuesIn(kAll),
                         [](const ::testing::TestParamInfo<Nonlinearity>& info) {
                           return Nonlinearity_Name(info.param);
                         });

}  // namespace
}  // namespace replearn
