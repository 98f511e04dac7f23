#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "architectures/architecture.h"
#include "architectures/test_util.h"
#include "core/rng.h"
#include "glog/logging.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "proto/experiment.pb.h"

namespace replearn {
namespace {

using test::Context;
using test::CreateOrDie;
using test::CreateStatus;
using test::ParseSpec;
using test::Snapshot;

using ::testing::AllOf;
using ::testing::HasSubstr;

// Float network vs double reference forward (a few float roundings per layer).
constexpr double kForwardTol = 2e-5;
// Gradients read back from the float SGD update vs central differences in double.
constexpr double kGradAbsTol = 5e-5;
constexpr double kGradRelTol = 2e-4;
constexpr double kFiniteDiffStep = 1e-6;
// Loss decrease of one small step vs its first-order prediction lr * ||grad||^2.
constexpr double kDecreaseRelTol = 0.02;

TEST(Mlp, RejectsZeroDepth) {
  const absl::Status s =
      CreateStatus("mlp { depth: 0 width: 8 nonlinearity: TANH }", Context(1, 1, 1));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(s.message()), "architecture.mlp.depth = 0; must be >= 1");
}

TEST(Mlp, RejectsZeroWidth) {
  const absl::Status s = CreateStatus("mlp { depth: 2 width: 0 }", Context(1, 1, 1));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(s.message()), "architecture.mlp.width = 0; must be >= 1");
}

TEST(Mlp, RejectsBadGain) {
  for (const char* gain : {"0", "-1", "inf", "nan"}) {
    const absl::Status s =
        CreateStatus(std::string("mlp { depth: 2 width: 4 gain: ") + gain + " }", Context(1, 1, 1));
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << gain;
    EXPECT_THAT(std::string(s.message()),
                AllOf(HasSubstr("architecture.mlp.gain = "), HasSubstr("must be > 0 and finite")))
        << gain;
  }
}

TEST(Mlp, ReportsAllProblemsAtOnce) {
  const absl::Status s =
      CreateStatus("mlp { depth: -1 width: 0 gain: -2 input_dim: -3 }", Context(0, 0, 1));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(
      std::string(s.message()),
      AllOf(HasSubstr("architecture.mlp.depth = -1; must be >= 1"),
            HasSubstr("architecture.mlp.width = 0; must be >= 1"),
            HasSubstr("architecture.mlp.gain = -2"),
            HasSubstr("architecture.mlp.input_dim = -3; must be >= 1"),
            HasSubstr("architecture.mlp.output_dim = 0 and the dataset gives output_dim = 0")));
}

TEST(Mlp, RejectsAbsurdSize) {
  const absl::Status s = CreateStatus("mlp { depth: 100000 width: 100000 }", Context(1, 1, 1));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("parameters; at most"));
}

TEST(Mlp, DimsComeFromTheContextUnlessTheSpecSetsThem) {
  auto from_ctx = CreateOrDie("mlp { depth: 2 width: 4 }", Context(3, 5, 1));
  EXPECT_EQ(from_ctx->input_dim(), 3);
  EXPECT_EQ(from_ctx->output_dim(), 5);
  auto from_spec =
      CreateOrDie("mlp { depth: 2 width: 4 input_dim: 6 output_dim: 2 }", Context(3, 5, 1));
  EXPECT_EQ(from_spec->input_dim(), 6);
  EXPECT_EQ(from_spec->output_dim(), 2);
}

TEST(Mlp, ParametersAreNamedAndShapedLikeNnLinear) {
  auto net = CreateOrDie("mlp { depth: 3 width: 7 }", Context(2, 3, 1));
  const std::vector<Parameter> params = net->parameters();
  const std::vector<std::pair<std::string, std::vector<int64_t>>> expected = {
      {"W0", {7, 2}}, {"b0", {7}}, {"W1", {7, 7}}, {"b1", {7}},
      {"W2", {7, 7}}, {"b2", {7}}, {"W3", {3, 7}}, {"b3", {3}}};
  ASSERT_EQ(params.size(), expected.size());
  for (size_t k = 0; k < params.size(); ++k) {
    EXPECT_EQ(params[k].name, expected[k].first);
    EXPECT_EQ(params[k].shape, expected[k].second) << params[k].name;
    EXPECT_NE(params[k].data, nullptr);
  }
  // Biases start at zero; weights do not.
  EXPECT_EQ(params[1].data[0], 0.0f);
  EXPECT_NE(params[0].data[0], 0.0f);
}

TEST(Mlp, SameSeedSameParametersOtherSeedDiffers) {
  const std::string spec = "mlp { depth: 3 width: 16 nonlinearity: GELU }";
  auto a = CreateOrDie(spec, Context(4, 2, 42));
  auto b = CreateOrDie(spec, Context(4, 2, 42));
  auto c = CreateOrDie(spec, Context(4, 2, 43));
  const auto va = Snapshot(*a), vb = Snapshot(*b), vc = Snapshot(*c);
  EXPECT_EQ(va, vb);
  for (size_t k = 0; k < va.size(); k += 2) EXPECT_NE(va[k], vc[k]) << "W" << k / 2;
}

TEST(Mlp, BackwardBeforeForwardIsFailedPrecondition) {
  auto net = CreateOrDie("mlp { depth: 2 width: 4 }", Context(1, 1, 1));
  const float d_output[2] = {1.0f, 1.0f};
  EXPECT_EQ(net->BackwardSgd(d_output, 0.1f).code(), absl::StatusCode::kFailedPrecondition);
  const float x[2] = {0.5f, -0.5f};
  ASSERT_TRUE(net->Forward(x, 2, true).ok());
  ASSERT_TRUE(net->BackwardSgd(d_output, 0.1f).ok());
  // The activations of that Forward are stale after the update.
  EXPECT_EQ(net->BackwardSgd(d_output, 0.1f).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(net->Forward(x, 0, true).code(), absl::StatusCode::kInvalidArgument);
}

// ---- A double-precision reference network, independent of the library's kernels. ----

double RefActivation(Nonlinearity f, double x) {
  switch (f) {
    case NONE:
      return x;
    case RELU:
      return std::max(x, 0.0);
    case LEAKY_RELU:
      return x > 0 ? x : 0.01 * x;
    case TANH:
      return std::tanh(x);
    case ELU:
      return x > 0 ? x : std::exp(x) - 1;
    case SILU:
      return x / (1 + std::exp(-x));
    case GELU:
      return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
  }
  return std::numeric_limits<double>::quiet_NaN();
}

struct RefNet {
  std::vector<std::vector<double>> params;  // W0, b0, W1, b1, ... as in parameters()
  std::vector<std::vector<int64_t>> shapes;
  Nonlinearity f;

  // Returns the output [batch, out]; fills hidden[k] = [batch, width] when not null.
  std::vector<double> Forward(const std::vector<double>& x, int batch,
                              std::vector<std::vector<double>>* hidden = nullptr) const {
    std::vector<double> a = x;
    const size_t num_layers = params.size() / 2;
    for (size_t l = 0; l < num_layers; ++l) {
      const std::vector<double>& w = params[2 * l];
      const std::vector<double>& b = params[2 * l + 1];
      const int64_t out = shapes[2 * l][0], in = shapes[2 * l][1];
      std::vector<double> z(batch * out);
      for (int r = 0; r < batch; ++r) {
        for (int64_t o = 0; o < out; ++o) {
          double s = b[o];
          for (int64_t i = 0; i < in; ++i) s += w[o * in + i] * a[r * in + i];
          z[r * out + o] = l + 1 < num_layers ? RefActivation(f, s) : s;
        }
      }
      a = std::move(z);
      if (hidden != nullptr && l + 1 < num_layers) hidden->push_back(a);
    }
    return a;
  }

  double Loss(const std::vector<double>& x, const std::vector<double>& t, int batch) const {
    const std::vector<double> y = Forward(x, batch);
    double loss = 0;
    for (size_t k = 0; k < y.size(); ++k) loss += 0.5 * (y[k] - t[k]) * (y[k] - t[k]);
    return loss;
  }
};

RefNet ToReference(Architecture& net, Nonlinearity f) {
  RefNet ref;
  ref.f = f;
  for (const Parameter& p : net.parameters()) {
    ref.params.emplace_back(p.data, p.data + p.size());
    ref.shapes.push_back(p.shape);
  }
  return ref;
}

std::vector<float> RandomVector(int n, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (float& e : v) e = static_cast<float>(rng.Normal());
  return v;
}

class MlpGradient : public ::testing::TestWithParam<Nonlinearity> {};

// Whole-network check on a small net: Forward and taps vs the double reference; every
// parameter's gradient (read back from the SGD update) vs central differences of the double
// loss 1/2 ||y - t||^2; and the loss decrease of a small step vs lr * ||grad||^2.
TEST_P(MlpGradient, MatchesFiniteDifferencesInDouble) {
  const Nonlinearity f = GetParam();
  constexpr int kDepth = 3, kWidth = 7, kIn = 2, kOut = 3, kBatch = 2;
  const std::string spec = absl::StrCat("mlp { depth: ", kDepth, " width: ", kWidth,
                                        " nonlinearity: ", Nonlinearity_Name(f), " gain: 1.3 }");
  auto net = CreateOrDie(spec, Context(kIn, kOut, 5));
  ASSERT_EQ(net->num_hidden(), kDepth);
  RefNet ref = ToReference(*net, f);

  const std::vector<float> x = RandomVector(kBatch * kIn, 101);
  const std::vector<float> t = RandomVector(kBatch * kOut, 102);
  const std::vector<double> xd(x.begin(), x.end()), td(t.begin(), t.end());

  // Forward and taps.
  std::vector<std::vector<double>> hidden_ref;
  const std::vector<double> y_ref = ref.Forward(xd, kBatch, &hidden_ref);
  ASSERT_TRUE(net->Forward(x.data(), kBatch, true).ok());
  for (int k = 0; k < kBatch * kOut; ++k) EXPECT_NEAR(net->output()[k], y_ref[k], kForwardTol);
  for (int h = 0; h < kDepth; ++h) {
    const Tap tap = net->hidden(h);
    EXPECT_EQ(tap.name, absl::StrCat("hidden_", h));
    ASSERT_EQ(tap.dim, kWidth);
    for (int k = 0; k < kBatch * kWidth; ++k) {
      EXPECT_NEAR(tap.data[k], hidden_ref[h][k], kForwardTol) << tap.name << "[" << k << "]";
    }
  }

  // Central differences of every parameter.
  std::vector<std::vector<double>> grad_fd(ref.params.size());
  double grad_norm2 = 0;
  for (size_t p = 0; p < ref.params.size(); ++p) {
    for (double& v : ref.params[p]) {
      const double saved = v;
      v = saved + kFiniteDiffStep;
      const double up = ref.Loss(xd, td, kBatch);
      v = saved - kFiniteDiffStep;
      const double down = ref.Loss(xd, td, kBatch);
      v = saved;
      grad_fd[p].push_back((up - down) / (2 * kFiniteDiffStep));
      grad_norm2 += grad_fd[p].back() * grad_fd[p].back();
    }
  }
  ASSERT_GT(grad_norm2, 1e-3);

  // One SGD step; the gradient is (before - after) / lr.
  constexpr float kLr = 0.1f;
  std::vector<float> d_output(kBatch * kOut);
  for (int k = 0; k < kBatch * kOut; ++k) d_output[k] = net->output()[k] - t[k];
  ASSERT_TRUE(net->BackwardSgd(d_output.data(), kLr).ok());
  const std::vector<Parameter> params = net->parameters();
  for (size_t p = 0; p < params.size(); ++p) {
    for (int64_t k = 0; k < params[p].size(); ++k) {
      const double read_back = (ref.params[p][k] - params[p].data[k]) / kLr;
      EXPECT_NEAR(read_back, grad_fd[p][k], kGradAbsTol + kGradRelTol * std::abs(grad_fd[p][k]))
          << params[p].name << "[" << k << "]";
    }
  }

  // A small step on an identical network (same seed) lowers the loss by ~ lr ||grad||^2.
  // The step is sized to lower the loss by ~0.1%, so second-order terms stay far below
  // kDecreaseRelTol.
  const double loss = ref.Loss(xd, td, kBatch);
  const float small_lr = static_cast<float>(1e-3 * loss / grad_norm2);
  auto twin = CreateOrDie(spec, Context(kIn, kOut, 5));
  ASSERT_TRUE(twin->Forward(x.data(), kBatch, true).ok());
  for (int k = 0; k < kBatch * kOut; ++k) d_output[k] = twin->output()[k] - t[k];
  ASSERT_TRUE(twin->BackwardSgd(d_output.data(), small_lr).ok());
  const double decrease = loss - ToReference(*twin, f).Loss(xd, td, kBatch);
  EXPECT_NEAR(decrease, small_lr * grad_norm2, kDecreaseRelTol * small_lr * grad_norm2);
}

INSTANTIATE_TEST_SUITE_P(All, MlpGradient,
                         ::testing::Values(NONE, RELU, LEAKY_RELU, TANH, ELU, SILU, GELU),
                         [](const ::testing::TestParamInfo<Nonlinearity>& info) {
                           return Nonlinearity_Name(info.param);
                         });

TEST(Mlp, BatchSizeCanChangeBetweenCalls) {
  auto net = CreateOrDie("mlp { depth: 2 width: 9 nonlinearity: TANH }", Context(3, 2, 9));
  const std::vector<float> x = RandomVector(4 * 3, 7);
  ASSERT_TRUE(net->Forward(x.data(), 4, false).ok());
  const std::vector<float> y4(net->output(), net->output() + 4 * 2);
  ASSERT_TRUE(net->Forward(x.data(), 1, false).ok());
  for (int k = 0; k < 2; ++k) EXPECT_NEAR(net->output()[k], y4[k], 1e-6);
  ASSERT_TRUE(net->Forward(x.data(), 4, false).ok());
  for (int k = 0; k < 8; ++k) EXPECT_NEAR(net->output()[k], y4[k], 1e-6);
}

// The default network of the paper on its two-point data: the loss goes down, and two
// identically seeded runs stay bit-identical (the fused kernel is deterministic).
TEST(Mlp, DefaultNetworkTrainsOnTwoPointsDeterministically) {
  const std::string spec = "mlp { depth: 20 width: 500 nonlinearity: LEAKY_RELU gain: 1.0 }";
  const float x[2] = {-1.0f, 0.0f};
  const float t[2] = {0.6f, static_cast<float>(0.6 + std::sqrt(0.5))};
  std::vector<double> losses[2];
  std::vector<std::vector<float>> final_params[2];
  for (int run = 0; run < 2; ++run) {
    auto net = CreateOrDie(spec, Context(1, 1, 1));
    for (int step = 0; step < 30; ++step) {
      ASSERT_TRUE(net->Forward(x, 2, true).ok());
      float d_output[2];
      double loss = 0;
      for (int b = 0; b < 2; ++b) {
        d_output[b] = net->output()[b] - t[b];
        loss += 0.5 * d_output[b] * d_output[b];
      }
      losses[run].push_back(loss);
      ASSERT_TRUE(net->BackwardSgd(d_output, 0.005f).ok());
    }
    final_params[run] = Snapshot(*net);
  }
  EXPECT_LT(losses[0].back(), 0.9 * losses[0].front());
  EXPECT_EQ(losses[0], losses[1]);
  EXPECT_EQ(final_params[0], final_params[1]);
}

}  // namespace
}  // namespace replearn
