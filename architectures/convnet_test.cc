#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "architectures/architecture.h"
#include "architectures/optimizer.h"
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
using test::RandomVector;
using test::RecordingOptimizer;
using test::Snapshot;

using ::testing::AllOf;
using ::testing::HasSubstr;

// Float network vs the double reference below (sums of at most ~60 products of O(1)
// values, a few float roundings per layer).
constexpr double kForwardTol = 2e-5;
// Gradients vs central differences of the double reference's loss with a tiny step (as
// mlp_test): the differences are accurate to ~1e-9, so what remains is the float network's
// rounding.
constexpr double kRefStep = 1e-6;
constexpr double kRefGradAbsTol = 5e-5;
constexpr double kRefGradRelTol = 2e-4;
// Max pooling is not differentiable where a window's two largest values tie; the reference
// check is valid while every window's top two differ by far more than the perturbations
// move them (~kRefStep times an O(1) input).
constexpr double kMinMaxPoolGap = 1e-4;
// Gradients vs central differences through the float network itself (loss in double from
// its float outputs), as cnn1d_test: step 1e-2, truncation ~2e-5 |L'''|, output rounding
// ~1e-6 / (2 h) = 5e-5; hence 3e-4 absolute plus 1%.
constexpr double kNetStep = 1e-2;
constexpr double kNetGradAbsTol = 3e-4;
constexpr double kNetGradRelTol = 1e-2;

// ---- Option validation ----

TEST(ConvNet, RejectsInputDimThatIsNotTheImageSize) {
  const absl::Status s =
      CreateStatus("convnet { input_channels: 3 height: 8 width: 10 }", Context(784, 10, 1));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(s.message()),
            "architecture.convnet: input_channels * height * width = 3 * 8 * 10 = 240, but the "
            "dataset's input_dim = 784; they must be equal");
}

TEST(ConvNet, RejectsPoolingToSizeZero) {
  // 6 x 5 -> 3 x 2 -> 1 x 1 -> the third block cannot pool.
  const absl::Status s =
      CreateStatus("convnet { height: 6 width: 5 channels: [2, 2, 2] pooling: AVERAGE_POOLING }",
                   Context(30, 1, 1));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(s.message()),
            "architecture.convnet.pooling = AVERAGE_POOLING: block 2 would pool its 1 x 1 "
            "output to 0 x 0 (input 6 x 5, 3 blocks); every side must stay >= 1 (use fewer "
            "blocks, a larger input or NO_POOLING)");
  // One side is enough; without pooling the same net is fine.
  EXPECT_THAT(
      std::string(
          CreateStatus("convnet { height: 1 width: 8 channels: [2] }", Context(8, 1, 1)).message()),
      HasSubstr("block 0 would pool its 1 x 8 output to 0 x 4"));
  EXPECT_TRUE(CreateStatus("convnet { height: 6 width: 5 channels: [2, 2, 2] pooling: NO_POOLING }",
                           Context(30, 1, 1))
                  .ok());
}

TEST(ConvNet, ReportsAllProblemsAtOnce) {
  const absl::Status s = CreateStatus(
      "convnet { input_channels: 0 height: -1 channels: [4, 0] dense_widths: [-2] gain: 0 "
      "output_dim: -1 }",
      Context(1, 1, 1));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()),
              AllOf(HasSubstr("architecture.convnet.input_channels = 0; must be >= 1"),
                    HasSubstr("architecture.convnet.height = -1; must be >= 1"),
                    HasSubstr("architecture.convnet.channels[1] = 0; must be >= 1"),
                    HasSubstr("architecture.convnet.dense_widths[0] = -2; must be >= 1"),
                    HasSubstr("architecture.convnet.gain = 0; must be > 0 and finite"),
                    HasSubstr("architecture.convnet.output_dim = -1; must be >= 1")));
}

TEST(ConvNet, RejectsMissingOutputDim) {
  const absl::Status s = CreateStatus("convnet {}", Context(784, 0, 1));
  EXPECT_EQ(std::string(s.message()),
            "architecture.convnet.output_dim = 0 and the dataset gives output_dim = 0; must be "
            ">= 1");
}

// Parsed proto2 messages never hold unknown enum values (they go to the unknown fields);
// only the generated setters can store one, and they assert against it in debug builds.
TEST(ConvNet, RejectsBadEnums) {
#ifndef NDEBUG
  GTEST_SKIP() << "the generated enum setters assert in debug builds";
#endif
  ArchitectureSpec spec = ParseSpec("convnet {}");
  spec.mutable_convnet()->set_pooling(static_cast<Pooling>(7));
  spec.mutable_convnet()->set_nonlinearity(static_cast<Nonlinearity>(99));
  const absl::Status s = CreateArchitecture(spec, Context(784, 1, 1)).status();
  EXPECT_THAT(std::string(s.message()),
              AllOf(HasSubstr("architecture.convnet.pooling = 7; not a Pooling value"),
                    HasSubstr("architecture.convnet.nonlinearity = 99; not a Nonlinearity value")));
}

TEST(ConvNet, RejectsAbsurdSize) {
  const absl::Status s = CreateStatus(
      "convnet { height: 28 width: 28 channels: [4] pooling: NO_POOLING dense_widths: [2000000] }",
      Context(784, 1, 1));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("parameters; at most"));
}

// ---- Structure ----

TEST(ConvNet, DefaultsAreTwoBlocksAndOneDenseLayer) {
  auto net = CreateOrDie("convnet {}", Context(784, 10, 1));
  EXPECT_EQ(net->input_dim(), 784);
  EXPECT_EQ(net->output_dim(), 10);
  const std::vector<std::pair<std::string, std::vector<int64_t>>> expected = {
      {"W0", {16, 1, 3, 3}},     {"b0", {16}},  {"W1", {32, 16, 3, 3}}, {"b1", {32}},
      {"W2", {128, 32 * 7 * 7}}, {"b2", {128}}, {"W3", {10, 128}},      {"b3", {10}}};
  const std::vector<Parameter> params = net->parameters();
  ASSERT_EQ(params.size(), expected.size());
  for (size_t k = 0; k < params.size(); ++k) {
    EXPECT_EQ(params[k].name, expected[k].first);
    EXPECT_EQ(params[k].shape, expected[k].second) << params[k].name;
    ASSERT_NE(params[k].data, nullptr);
  }
  ASSERT_EQ(net->num_hidden(), 3);
  const int dims[] = {16 * 14 * 14, 32 * 7 * 7, 128};
  for (int k = 0; k < 3; ++k) {
    EXPECT_EQ(net->hidden(k).name, absl::StrCat("hidden_", k));
    EXPECT_EQ(net->hidden(k).dim, dims[k]) << k;
  }
  // Xavier-normal with PyTorch's fans: W1 has fan_in = 16 * 9, fan_out = 32 * 9.
  Rng rng(Rng::DeriveSeed(1, 1));
  const double want_std = std::sqrt(2.0 / (48 * 9));
  for (int k = 0; k < 5; ++k) {
    EXPECT_EQ(params[2].data[k], static_cast<float>(want_std * rng.Normal()));
  }
}

TEST(ConvNet, TapDimsWithoutPoolingAndWithOddSizes) {
  auto pooled = CreateOrDie(
      "convnet { input_channels: 2 height: 7 width: 9 channels: [3, 4] "
      "dense_widths: [5, 6] }",
      Context(126, 2, 1));
  // 7 x 9 -> 3 x 4 -> 1 x 2.
  const int pooled_dims[] = {3 * 3 * 4, 4 * 1 * 2, 5, 6};
  ASSERT_EQ(pooled->num_hidden(), 4);
  for (int k = 0; k < 4; ++k) EXPECT_EQ(pooled->hidden(k).dim, pooled_dims[k]) << k;
  EXPECT_EQ(pooled->parameters()[4].shape, (std::vector<int64_t>{5, 8}));

  auto plain = CreateOrDie(
      "convnet { input_channels: 2 height: 7 width: 9 channels: [3, 4] "
      "pooling: NO_POOLING dense_widths: [5] }",
      Context(126, 2, 1));
  const int plain_dims[] = {3 * 7 * 9, 4 * 7 * 9, 5};
  ASSERT_EQ(plain->num_hidden(), 3);
  for (int k = 0; k < 3; ++k) EXPECT_EQ(plain->hidden(k).dim, plain_dims[k]) << k;
}

// ---- A double reference network, independent of the library's kernels. ----

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

// ConvNetSpec's network on the parameters W0, b0, ... (4-D weights: 3 x 3 convolutions
// with zero padding 1, each followed by f and the pooling; then dense layers, f on all but
// the last).
struct RefConvNet {
  int in_c, height, width;
  Pooling pooling;
  Nonlinearity f;
  std::vector<std::vector<double>> params;
  std::vector<std::vector<int64_t>> shapes;
  // Smallest difference between the two largest values of any max-pooling window seen.
  mutable double min_max_gap = std::numeric_limits<double>::infinity();

  std::vector<double> Forward(const std::vector<double>& x, int batch,
                              std::vector<std::vector<double>>* taps = nullptr) const {
    std::vector<double> a = x;
    int64_t c = in_c, h = height, w = width;
    size_t l = 0;
    for (; shapes[2 * l].size() == 4; ++l) {
      const std::vector<double>& k = params[2 * l];
      const std::vector<double>& b = params[2 * l + 1];
      const int64_t out_c = shapes[2 * l][0];
      std::vector<double> z(batch * out_c * h * w);
      for (int n = 0; n < batch; ++n) {
        for (int64_t o = 0; o < out_c; ++o) {
          for (int64_t i = 0; i < h; ++i) {
            for (int64_t j = 0; j < w; ++j) {
              double s = b[o];
              for (int64_t ci = 0; ci < c; ++ci) {
                for (int u = 0; u < 3; ++u) {
                  for (int v = 0; v < 3; ++v) {
                    const int64_t r = i + u - 1, q = j + v - 1;
                    if (r < 0 || r >= h || q < 0 || q >= w) continue;
                    s += k[((o * c + ci) * 3 + u) * 3 + v] * a[((n * c + ci) * h + r) * w + q];
                  }
                }
              }
              z[((n * out_c + o) * h + i) * w + j] = RefActivation(f, s);
            }
          }
        }
      }
      c = out_c;
      if (pooling != NO_POOLING) {
        const int64_t ph = h / 2, pw = w / 2;
        std::vector<double> p(batch * c * ph * pw);
        for (int64_t nc = 0; nc < batch * c; ++nc) {
          for (int64_t i = 0; i < ph; ++i) {
            for (int64_t j = 0; j < pw; ++j) {
              double v[4];
              for (int u = 0; u < 2; ++u) {
                for (int t = 0; t < 2; ++t) v[2 * u + t] = z[(nc * h + 2 * i + u) * w + 2 * j + t];
              }
              std::sort(v, v + 4);
              min_max_gap = std::min(min_max_gap, v[3] - v[2]);
              p[(nc * ph + i) * pw + j] =
                  pooling == MAX_POOLING ? v[3] : (v[0] + v[1] + v[2] + v[3]) / 4;
            }
          }
        }
        z = std::move(p);
        h = ph;
        w = pw;
      }
      a = std::move(z);
      if (taps != nullptr) taps->push_back(a);
    }
    const size_t num_layers = params.size() / 2;
    for (; l < num_layers; ++l) {
      const std::vector<double>& m = params[2 * l];
      const std::vector<double>& b = params[2 * l + 1];
      const int64_t out = shapes[2 * l][0], in = shapes[2 * l][1];
      std::vector<double> z(batch * out);
      for (int n = 0; n < batch; ++n) {
        for (int64_t o = 0; o < out; ++o) {
          double s = b[o];
          for (int64_t i = 0; i < in; ++i) s += m[o * in + i] * a[n * in + i];
          z[n * out + o] = l + 1 < num_layers ? RefActivation(f, s) : s;
        }
      }
      a = std::move(z);
      if (taps != nullptr && l + 1 < num_layers) taps->push_back(a);
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

struct NetCase {
  Pooling pooling;
  Nonlinearity f;
};

std::string CaseName(const ::testing::TestParamInfo<NetCase>& info) {
  return absl::StrCat(Pooling_Name(info.param.pooling), "_", Nonlinearity_Name(info.param.f));
}

// A small net with an odd height: 2 x 5 x 6 -> (pooled) 3 x 2 x 3 -> 2 x 1 x 1 -> 4 -> 2.
constexpr int kInC = 2, kHeight = 5, kWidth = 6, kIn = kInC * kHeight * kWidth, kOut = 2;

std::string SmallSpec(const NetCase& c) {
  return absl::StrCat(
      "convnet { input_channels: 2 height: 5 width: 6 channels: [3, 2] "
      "dense_widths: [4] gain: 1.3 pooling: ",
      Pooling_Name(c.pooling), " nonlinearity: ", Nonlinearity_Name(c.f), " }");
}

// Random non-zero biases, so their wiring is checked too.
void RandomizeBiases(Architecture& net, uint64_t seed) {
  for (const Parameter& p : net.parameters()) {
    if (p.name[0] != 'b') continue;
    const std::vector<float> b = RandomVector(p.size(), seed++);
    for (int64_t k = 0; k < p.size(); ++k) p.data[k] = 0.3f * b[k];
  }
}

RefConvNet ToReference(Architecture& net, const NetCase& c) {
  RefConvNet ref{kInC, kHeight, kWidth, c.pooling, c.f, {}, {}};
  for (const Parameter& p : net.parameters()) {
    ref.params.emplace_back(p.data, p.data + p.size());
    ref.shapes.push_back(p.shape);
  }
  return ref;
}

class ConvNetCase : public ::testing::TestWithParam<NetCase> {};

TEST_P(ConvNetCase, ForwardAndTapsMatchDoubleReference) {
  const NetCase c = GetParam();
  constexpr int kBatch = 3;
  auto net = CreateOrDie(SmallSpec(c), Context(kIn, kOut, 3));
  RandomizeBiases(*net, 30);
  const RefConvNet ref = ToReference(*net, c);
  const std::vector<float> x = RandomVector(kBatch * kIn, 4);
  std::vector<std::vector<double>> taps;
  const std::vector<double> y = ref.Forward(std::vector<double>(x.begin(), x.end()), kBatch, &taps);
  ASSERT_TRUE(net->Forward(x.data(), kBatch, false).ok());
  for (int k = 0; k < kBatch * kOut; ++k) EXPECT_NEAR(net->output()[k], y[k], kForwardTol) << k;
  ASSERT_EQ(net->num_hidden(), static_cast<int>(taps.size()));
  for (int h = 0; h < net->num_hidden(); ++h) {
    const Tap tap = net->hidden(h);
    ASSERT_EQ(static_cast<size_t>(tap.dim) * kBatch, taps[h].size()) << h;
    for (size_t k = 0; k < taps[h].size(); ++k) {
      EXPECT_NEAR(tap.data[k], taps[h][k], kForwardTol) << tap.name << "[" << k << "]";
    }
  }
}

// Every parameter's gradient (handed to the optimiser) vs central differences of the
// double reference's L = 1/2 ||y - t||^2; then one SGD step on an identical network moves
// every parameter by -lr times that gradient.
TEST_P(ConvNetCase, GradientsMatchReferenceFiniteDifferences) {
  const NetCase c = GetParam();
  constexpr int kBatch = 2;
  auto net = CreateOrDie(SmallSpec(c), Context(kIn, kOut, 5));
  RandomizeBiases(*net, 40);
  RefConvNet ref = ToReference(*net, c);
  const std::vector<float> x = RandomVector(kBatch * kIn, 6);
  const std::vector<float> t = RandomVector(kBatch * kOut, 7);
  const std::vector<double> xd(x.begin(), x.end()), td(t.begin(), t.end());

  ASSERT_TRUE(net->Forward(x.data(), kBatch, true).ok());
  std::vector<float> d_output(kBatch * kOut);
  for (int k = 0; k < kBatch * kOut; ++k) d_output[k] = net->output()[k] - t[k];
  RecordingOptimizer recorder;
  ASSERT_TRUE(net->Backward(d_output.data(), recorder).ok());
  ASSERT_EQ(recorder.grads.size(), ref.params.size());

  double grad_norm2 = 0;
  for (size_t p = 0; p < ref.params.size(); ++p) {
    ASSERT_EQ(recorder.grads[p].size(), ref.params[p].size());
    for (size_t k = 0; k < ref.params[p].size(); ++k) {
      double& v = ref.params[p][k];
      const double saved = v;
      v = saved + kRefStep;
      const double up = ref.Loss(xd, td, kBatch);
      v = saved - kRefStep;
      const double down = ref.Loss(xd, td, kBatch);
      v = saved;
      const double fd = (up - down) / (2 * kRefStep);
      grad_norm2 += fd * fd;
      EXPECT_NEAR(recorder.grads[p][k], fd, kRefGradAbsTol + kRefGradRelTol * std::abs(fd))
          << "W/b " << p << " [" << k << "]";
    }
  }
  ASSERT_GT(grad_norm2, 1e-2);  // the check is not vacuous
  if (c.pooling == MAX_POOLING) {
    ASSERT_GT(ref.min_max_gap, kMinMaxPoolGap);
  }

  auto twin = CreateOrDie(SmallSpec(c), Context(kIn, kOut, 5));
  RandomizeBiases(*twin, 40);
  const std::vector<std::vector<float>> before = Snapshot(*twin);
  ASSERT_TRUE(twin->Forward(x.data(), kBatch, true).ok());
  constexpr float kLr = 0.1f;
  ASSERT_TRUE(twin->BackwardSgd(d_output.data(), kLr).ok());
  const std::vector<Parameter> after = twin->parameters();
  for (size_t p = 0; p < after.size(); ++p) {
    for (int64_t k = 0; k < after[p].size(); ++k) {
      const double read_back = (before[p][k] - after[p].data[k]) / kLr;
      const double want = recorder.grads[p][k];
      // Rounding of (before - after) / lr on O(1) parameters (~6e-7) and of the fused
      // dense kernel vs the GEMM path.
      EXPECT_NEAR(read_back, want, 2e-6 + 1e-4 * std::abs(want))
          << after[p].name << "[" << k << "]";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(All, ConvNetCase,
                         ::testing::Values(NetCase{MAX_POOLING, LEAKY_RELU},
                                           NetCase{MAX_POOLING, TANH},
                                           NetCase{AVERAGE_POOLING, GELU},
                                           NetCase{AVERAGE_POOLING, RELU},
                                           NetCase{NO_POOLING, SILU}, NetCase{NO_POOLING, ELU}),
                         CaseName);

class ConvNetSmooth : public ::testing::TestWithParam<NetCase> {};

// The same gradients against central differences through the network itself, perturbing
// the float parameters via parameters(). Only smooth cases: max pooling and kinks would
// be crossed by a step of 1e-2.
TEST_P(ConvNetSmooth, GradientsMatchFiniteDifferencesThroughTheNetwork) {
  const NetCase c = GetParam();
  constexpr int kBatch = 2;
  auto net = CreateOrDie(SmallSpec(c), Context(kIn, kOut, 8));
  const std::vector<float> x = RandomVector(kBatch * kIn, 9);
  const std::vector<float> t = RandomVector(kBatch * kOut, 10);
  ASSERT_TRUE(net->Forward(x.data(), kBatch, false).ok());
  std::vector<float> d_output(kBatch * kOut);
  for (int k = 0; k < kBatch * kOut; ++k) d_output[k] = net->output()[k] - t[k];
  RecordingOptimizer recorder;
  ASSERT_TRUE(net->Backward(d_output.data(), recorder).ok());
  auto loss = [&] {
    double l = 0;
    for (int k = 0; k < kBatch * kOut; ++k) {
      const double d = static_cast<double>(net->output()[k]) - t[k];
      l += 0.5 * d * d;
    }
    return l;
  };
  const std::vector<Parameter> params = net->parameters();
  for (size_t p = 0; p < params.size(); ++p) {
    for (int64_t k = 0; k < params[p].size(); ++k) {
      float& v = params[p].data[k];
      const float saved = v;
      v = saved + static_cast<float>(kNetStep);
      ASSERT_TRUE(net->Forward(x.data(), kBatch, false).ok());
      const double up = loss();
      v = saved - static_cast<float>(kNetStep);
      ASSERT_TRUE(net->Forward(x.data(), kBatch, false).ok());
      const double down = loss();
      v = saved;
      const double fd = (up - down) / (2 * kNetStep);
      EXPECT_NEAR(recorder.grads[p][k], fd, kNetGradAbsTol + kNetGradRelTol * std::abs(fd))
          << params[p].name << "[" << k << "]";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Smooth, ConvNetSmooth,
                         ::testing::Values(NetCase{AVERAGE_POOLING, TANH},
                                           NetCase{NO_POOLING, GELU}),
                         CaseName);

TEST(ConvNet, BackwardBeforeForwardIsFailedPrecondition) {
  auto net = CreateOrDie(SmallSpec({MAX_POOLING, TANH}), Context(kIn, kOut, 1));
  std::vector<float> d_output(2 * kOut, 1.0f);
  EXPECT_EQ(net->BackwardSgd(d_output.data(), 0.1f).code(), absl::StatusCode::kFailedPrecondition);
  const std::vector<float> x = RandomVector(2 * kIn, 1);
  ASSERT_TRUE(net->Forward(x.data(), 2, true).ok());
  ASSERT_TRUE(net->BackwardSgd(d_output.data(), 0.1f).ok());
  EXPECT_EQ(net->BackwardSgd(d_output.data(), 0.1f).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(net->Forward(x.data(), 0, true).code(), absl::StatusCode::kInvalidArgument);
}

TEST(ConvNet, BatchSizeCanChangeBetweenCalls) {
  auto net = CreateOrDie(SmallSpec({MAX_POOLING, TANH}), Context(kIn, kOut, 2));
  const std::vector<float> x = RandomVector(4 * kIn, 3);
  ASSERT_TRUE(net->Forward(x.data(), 4, false).ok());
  const std::vector<float> y4(net->output(), net->output() + 4 * kOut);
  ASSERT_TRUE(net->Forward(x.data(), 1, false).ok());
  for (int k = 0; k < kOut; ++k) EXPECT_NEAR(net->output()[k], y4[k], 1e-6);
  ASSERT_TRUE(net->Forward(x.data(), 4, false).ok());
  for (int k = 0; k < 4 * kOut; ++k) EXPECT_NEAR(net->output()[k], y4[k], 1e-6);
}

// Two images with different targets: SGD lowers the loss step after step, and two
// identically seeded runs are bit-identical (parameters, losses, taps).
TEST(ConvNet, TrainsOnTwoImagesDeterministically) {
  const std::string spec = "convnet { height: 12 width: 12 channels: [4, 8] dense_widths: [16] }";
  constexpr int kPixels = 144;
  std::vector<float> x = RandomVector(2 * kPixels, 11);
  const float t[2] = {0.6f, static_cast<float>(0.6 + std::sqrt(0.5))};
  std::vector<double> losses[2];
  std::vector<std::vector<float>> initial[2], final_params[2];
  std::vector<float> taps[2];
  for (int run = 0; run < 2; ++run) {
    auto net = CreateOrDie(spec, Context(kPixels, 1, 4));
    initial[run] = Snapshot(*net);
    for (int step = 0; step < 20; ++step) {
      ASSERT_TRUE(net->Forward(x.data(), 2, true).ok());
      float d_output[2];
      double loss = 0;
      for (int b = 0; b < 2; ++b) {
        d_output[b] = net->output()[b] - t[b];
        loss += 0.5 * d_output[b] * d_output[b];
      }
      losses[run].push_back(loss);
      ASSERT_TRUE(net->BackwardSgd(d_output, 0.01f).ok());
    }
    ASSERT_TRUE(net->Forward(x.data(), 2, false).ok());
    const Tap tap = net->hidden(1);
    taps[run].assign(tap.data, tap.data + 2 * tap.dim);
    final_params[run] = Snapshot(*net);
  }
  for (size_t k = 1; k < losses[0].size(); ++k) EXPECT_LT(losses[0][k], losses[0][k - 1]) << k;
  EXPECT_LT(losses[0].back(), 0.5 * losses[0].front());
  EXPECT_EQ(initial[0], initial[1]);
  EXPECT_EQ(losses[0], losses[1]);
  EXPECT_EQ(final_params[0], final_params[1]);
  EXPECT_EQ(taps[0], taps[1]);
  auto other = CreateOrDie(spec, Context(kPixels, 1, 5));
  const std::vector<std::vector<float>> other_params = Snapshot(*other);
  for (size_t k = 0; k < other_params.size(); k += 2) EXPECT_NE(other_params[k], initial[0][k]);
}

}  // namespace
}  // namespace replearn
