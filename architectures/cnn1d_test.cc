#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
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
#include "core/file_util.h"
#include "core/npy.h"
#include "core/rng.h"
#include "core/run_python.h"
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

// Float network vs the double reference below (a few float roundings per layer, sums of
// at most ~40 products of O(1) values).
constexpr double kForwardTol = 2e-5;
// Whole-network gradients vs central differences of the loss evaluated from the float
// network's outputs (in double). With the smooth nonlinearities used there and a step of
// 1e-2, the truncation error is ~h^2/6 |L'''| ~ 2e-5 |L'''|, and the float rounding of the
// outputs (~1e-6 absolute on O(1) losses) contributes ~1e-6 / (2 h) = 5e-5: hence an
// absolute floor of 3e-4 plus 1% of the gradient.
constexpr double kFiniteDiffStep = 1e-2;
constexpr double kGradAbsTol = 3e-4;
constexpr double kGradRelTol = 1e-2;
// Gradients read back from an SGD step, (before - after) / lr, vs the recorded gradients:
// the fused dense kernel and the two-GEMM path round differently, and the difference of
// two O(0.3) floats divided by lr = 0.1 loses ~3e-7.
constexpr double kSgdReadBackAbsTol = 2e-6;
constexpr double kSgdReadBackRelTol = 1e-4;

// ---- Option validation ----

TEST(Cnn1d, RejectsKernelTooLargeForTheSequence) {
  const absl::Status s =
      CreateStatus("cnn1d { width: 100 kernel: 11 depth: 10 }", Context(1, 1, 1));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(s.message()),
            "architecture.cnn1d.kernel = 11 with depth 10 and width 100 leaves a sequence of "
            "length -10 after the 11 convolutions; must be >= 1");
}

TEST(Cnn1d, RejectsKernelLargerThanTheFirstInput) {
  // One convolution too many already: the first one does not fit (5 < 7).
  const absl::Status s = CreateStatus("cnn1d { width: 5 kernel: 7 depth: 1 }", Context(1, 1, 1));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("architecture.cnn1d.kernel = 7 with depth 1 and width 5 leaves a "
                        "sequence of length -7 after the 2 convolutions; must be >= 1"));
}

TEST(Cnn1d, AcceptsTheLongestKernelThatFits) {
  // 3 convolutions of kernel 5 shorten 13 by 12: length 1 remains.
  auto net = CreateOrDie("cnn1d { width: 13 channels: 2 kernel: 5 depth: 2 }", Context(1, 1, 1));
  EXPECT_EQ(net->hidden(3).dim, 1);
  EXPECT_EQ(net->parameters().back().shape, (std::vector<int64_t>{1}));
  EXPECT_EQ(net->parameters()[6].shape, (std::vector<int64_t>{1, 2, 5}));
}

TEST(Cnn1d, ReportsAllProblemsAtOnce) {
  const absl::Status s =
      CreateStatus("cnn1d { width: 0 channels: -2 kernel: 0 depth: 0 gain: nan input_dim: -3 }",
                   Context(0, 0, 1));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(
      std::string(s.message()),
      AllOf(HasSubstr("architecture.cnn1d.width = 0; must be >= 1"),
            HasSubstr("architecture.cnn1d.channels = -2; must be >= 1"),
            HasSubstr("architecture.cnn1d.kernel = 0; must be >= 1"),
            HasSubstr("architecture.cnn1d.depth = 0; must be >= 1"),
            HasSubstr("architecture.cnn1d.gain = nan; must be > 0 and finite"),
            HasSubstr("architecture.cnn1d.input_dim = -3; must be >= 1"),
            HasSubstr("architecture.cnn1d.output_dim = 0 and the dataset gives output_dim = 0")));
}

TEST(Cnn1d, RejectsBadGainAndNonlinearity) {
  for (const char* gain : {"0", "-1", "inf"}) {
    const absl::Status s =
        CreateStatus(absl::StrCat("cnn1d { gain: ", gain, " }"), Context(1, 1, 1));
    EXPECT_THAT(std::string(s.message()), HasSubstr("architecture.cnn1d.gain = ")) << gain;
  }
#ifndef NDEBUG
  GTEST_SKIP() << "the generated enum setter asserts in debug builds";
#endif
  // Parsed proto2 messages never hold unknown enum values; only the setter can store one.
  ArchitectureSpec spec = ParseSpec("cnn1d {}");
  spec.mutable_cnn1d()->set_nonlinearity(static_cast<Nonlinearity>(99));
  EXPECT_THAT(std::string(CreateArchitecture(spec, Context(1, 1, 1)).status().message()),
              HasSubstr("architecture.cnn1d.nonlinearity = 99; not a Nonlinearity value"));
}

TEST(Cnn1d, RejectsAbsurdSize) {
  const absl::Status s = CreateStatus(
      "cnn1d { width: 100000 channels: 100000 kernel: 2 depth: 10 }", Context(1, 1, 1));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("parameters; at most"));
}

TEST(Cnn1d, DimsComeFromTheContextUnlessTheSpecSetsThem) {
  const std::string small = "width: 12 channels: 2 kernel: 3 depth: 1";
  auto from_ctx = CreateOrDie(absl::StrCat("cnn1d { ", small, " }"), Context(3, 5, 1));
  EXPECT_EQ(from_ctx->input_dim(), 3);
  EXPECT_EQ(from_ctx->output_dim(), 5);
  auto from_spec = CreateOrDie(absl::StrCat("cnn1d { ", small, " input_dim: 6 output_dim: 2 }"),
                               Context(3, 5, 1));
  EXPECT_EQ(from_spec->input_dim(), 6);
  EXPECT_EQ(from_spec->output_dim(), 2);
}

// ---- Structure ----

TEST(Cnn1d, ParametersAndTapsFollowTheSpec) {
  // Lengths 20 -> 16 -> 12 -> 8 -> 4 over depth + 1 = 4 convolutions of kernel 5.
  auto net = CreateOrDie("cnn1d { width: 20 channels: 3 kernel: 5 depth: 3 }", Context(2, 4, 1));
  const std::vector<std::pair<std::string, std::vector<int64_t>>> expected = {
      {"W0", {20, 2}},   {"b0", {20}}, {"W1", {3, 1, 5}}, {"b1", {3}},
      {"W2", {3, 3, 5}}, {"b2", {3}},  {"W3", {3, 3, 5}}, {"b3", {3}},
      {"W4", {1, 3, 5}}, {"b4", {1}},  {"W5", {4, 4}},    {"b5", {4}}};
  const std::vector<Parameter> params = net->parameters();
  ASSERT_EQ(params.size(), expected.size());
  for (size_t k = 0; k < params.size(); ++k) {
    EXPECT_EQ(params[k].name, expected[k].first);
    EXPECT_EQ(params[k].shape, expected[k].second) << params[k].name;
    ASSERT_NE(params[k].data, nullptr);
    // Biases start at zero; weights do not.
    const auto [lo, hi] = std::minmax_element(params[k].data, params[k].data + params[k].size());
    if (k % 2 == 1) {
      EXPECT_TRUE(*lo == 0.0f && *hi == 0.0f) << params[k].name;
    } else {
      EXPECT_LT(*lo, 0.0f) << params[k].name;
      EXPECT_GT(*hi, 0.0f) << params[k].name;
    }
  }
  ASSERT_EQ(net->num_hidden(), 5);
  const int dims[] = {20, 3 * 16, 3 * 12, 3 * 8, 1 * 4};
  for (int k = 0; k < 5; ++k) {
    EXPECT_EQ(net->hidden(k).name, absl::StrCat("hidden_", k));
    EXPECT_EQ(net->hidden(k).dim, dims[k]) << k;
  }
}

TEST(Cnn1d, ConvolutionInitIsXavierWithPyTorchFans) {
  // The default network: inner convolutions 20 -> 20 with kernel 11, fan_in = fan_out = 220.
  auto net = CreateOrDie("cnn1d { gain: 1.5 }", Context(1, 1, 3));
  const Parameter w2 = net->parameters()[4];
  ASSERT_EQ(w2.shape, (std::vector<int64_t>{20, 20, 11}));
  const double want_std = 1.5 * std::sqrt(2.0 / 440.0);
  Rng rng(Rng::DeriveSeed(3, 2));  // layer index 2: the second convolution
  for (int k = 0; k < 5; ++k) EXPECT_EQ(w2.data[k], static_cast<float>(want_std * rng.Normal()));
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

// Forward of Cnn1dSpec's network from parameters() (dense [out, in], conv [out, in, k]) in
// double. Returns the output; fills the taps [batch, dim] per hidden layer.
std::vector<double> ReferenceForward(Architecture& net, Nonlinearity f, const std::vector<float>& x,
                                     int batch, std::vector<std::vector<double>>* taps) {
  const std::vector<Parameter> params = net.parameters();
  auto get = [&](size_t k) {
    return std::vector<double>(params[k].data, params[k].data + params[k].size());
  };
  // First Linear.
  const int64_t width = params[0].shape[0], in = params[0].shape[1];
  std::vector<double> w = get(0), b = get(1);
  std::vector<double> h(batch * width);
  for (int n = 0; n < batch; ++n) {
    for (int64_t o = 0; o < width; ++o) {
      double s = b[o];
      for (int64_t i = 0; i < in; ++i) s += w[o * in + i] * x[n * in + i];
      h[n * width + o] = RefActivation(f, s);
    }
  }
  taps->push_back(h);
  int64_t channels = 1, length = width;
  const size_t num_convs = params.size() / 2 - 2;
  for (size_t c = 1; c <= num_convs; ++c) {
    w = get(2 * c);
    b = get(2 * c + 1);
    const int64_t out_c = params[2 * c].shape[0], k = params[2 * c].shape[2];
    const int64_t out_len = length - k + 1;
    std::vector<double> z(batch * out_c * out_len);
    for (int n = 0; n < batch; ++n) {
      for (int64_t o = 0; o < out_c; ++o) {
        for (int64_t t = 0; t < out_len; ++t) {
          double s = b[o];
          for (int64_t i = 0; i < channels; ++i) {
            for (int64_t u = 0; u < k; ++u) {
              s += w[(o * channels + i) * k + u] * h[(n * channels + i) * length + t + u];
            }
          }
          z[(n * out_c + o) * out_len + t] = RefActivation(f, s);
        }
      }
    }
    h = std::move(z);
    channels = out_c;
    length = out_len;
    taps->push_back(h);
  }
  const size_t last = params.size() - 2;
  w = get(last);
  b = get(last + 1);
  const int64_t out = params[last].shape[0];
  std::vector<double> y(batch * out);
  for (int n = 0; n < batch; ++n) {
    for (int64_t o = 0; o < out; ++o) {
      double s = b[o];
      for (int64_t i = 0; i < length; ++i) s += w[o * length + i] * h[n * length + i];
      y[n * out + o] = s;
    }
  }
  return y;
}

double HalfSquaredError(const float* y, const std::vector<float>& t) {
  double loss = 0;
  for (size_t k = 0; k < t.size(); ++k) {
    const double d = static_cast<double>(y[k]) - t[k];
    loss += 0.5 * d * d;
  }
  return loss;
}

class Cnn1dNetwork : public ::testing::TestWithParam<Nonlinearity> {};

TEST_P(Cnn1dNetwork, ForwardMatchesDoubleReference) {
  const Nonlinearity f = GetParam();
  constexpr int kBatch = 3, kIn = 4, kOut = 2;
  auto net = CreateOrDie(absl::StrCat("cnn1d { width: 15 channels: 3 kernel: 4 depth: 2 "
                                      "gain: 1.2 nonlinearity: ",
                                      Nonlinearity_Name(f), " }"),
                         Context(kIn, kOut, 7));
  // Non-zero biases, so their wiring is checked too.
  int salt = 0;
  for (const Parameter& p : net->parameters()) {
    if (p.name[0] != 'b') continue;
    const std::vector<float> b = RandomVector(p.size(), 50 + salt++);
    for (int64_t k = 0; k < p.size(); ++k) p.data[k] = 0.3f * b[k];
  }
  const std::vector<float> x = RandomVector(kBatch * kIn, 8);
  std::vector<std::vector<double>> taps;
  const std::vector<double> y = ReferenceForward(*net, f, x, kBatch, &taps);
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

// Every parameter's gradient (handed to the optimiser) vs central differences of
// L = 1/2 ||y - t||^2 through the network itself; then one SGD step on an identical
// network moves every parameter by -lr times that gradient.
class Cnn1dGradient : public ::testing::TestWithParam<Nonlinearity> {};

TEST_P(Cnn1dGradient, MatchesFiniteDifferences) {
  const Nonlinearity f = GetParam();
  constexpr int kBatch = 2, kIn = 3, kOut = 2;
  const std::string spec = absl::StrCat(
      "cnn1d { width: 14 channels: 3 kernel: 3 depth: 2 "
      "gain: 1.3 nonlinearity: ",
      Nonlinearity_Name(f), " }");
  auto net = CreateOrDie(spec, Context(kIn, kOut, 11));
  const std::vector<float> x = RandomVector(kBatch * kIn, 12);
  const std::vector<float> t = RandomVector(kBatch * kOut, 13);

  ASSERT_TRUE(net->Forward(x.data(), kBatch, false).ok());
  std::vector<float> d_output(kBatch * kOut);
  for (int k = 0; k < kBatch * kOut; ++k) d_output[k] = net->output()[k] - t[k];
  RecordingOptimizer recorder;
  ASSERT_TRUE(net->Backward(d_output.data(), recorder).ok());
  const std::vector<Parameter> params = net->parameters();
  ASSERT_EQ(recorder.grads.size(), params.size());

  double grad_norm2 = 0;
  for (size_t p = 0; p < params.size(); ++p) {
    ASSERT_EQ(static_cast<int64_t>(recorder.grads[p].size()), params[p].size());
    for (int64_t k = 0; k < params[p].size(); ++k) {
      float& v = params[p].data[k];
      const float saved = v;
      v = saved + static_cast<float>(kFiniteDiffStep);
      ASSERT_TRUE(net->Forward(x.data(), kBatch, false).ok());
      const double up = HalfSquaredError(net->output(), t);
      v = saved - static_cast<float>(kFiniteDiffStep);
      ASSERT_TRUE(net->Forward(x.data(), kBatch, false).ok());
      const double down = HalfSquaredError(net->output(), t);
      v = saved;
      const double fd = (up - down) / (2 * kFiniteDiffStep);
      grad_norm2 += fd * fd;
      EXPECT_NEAR(recorder.grads[p][k], fd, kGradAbsTol + kGradRelTol * std::abs(fd))
          << params[p].name << "[" << k << "]";
    }
  }
  ASSERT_GT(grad_norm2, 1e-2);  // the check is not vacuous

  auto twin = CreateOrDie(spec, Context(kIn, kOut, 11));
  const std::vector<std::vector<float>> before = Snapshot(*twin);
  ASSERT_TRUE(twin->Forward(x.data(), kBatch, true).ok());
  constexpr float kLr = 0.1f;
  ASSERT_TRUE(twin->BackwardSgd(d_output.data(), kLr).ok());
  const std::vector<Parameter> after = twin->parameters();
  for (size_t p = 0; p < after.size(); ++p) {
    for (int64_t k = 0; k < after[p].size(); ++k) {
      const double read_back = (before[p][k] - after[p].data[k]) / kLr;
      const double want = recorder.grads[p][k];
      EXPECT_NEAR(read_back, want, kSgdReadBackAbsTol + kSgdReadBackRelTol * std::abs(want))
          << after[p].name << "[" << k << "]";
    }
  }
}

std::string NonlinearityName(const ::testing::TestParamInfo<Nonlinearity>& info) {
  return Nonlinearity_Name(info.param);
}

INSTANTIATE_TEST_SUITE_P(All, Cnn1dNetwork,
                         ::testing::Values(NONE, RELU, LEAKY_RELU, TANH, ELU, SILU, GELU),
                         NonlinearityName);
// Only the C^2 nonlinearities: at step 1e-2 a pre-activation near a kink of f (RELU,
// LEAKY_RELU) or of f' (ELU) makes the central difference wrong by O(1) or O(h). Their
// derivatives enter through the same code path, and nonlinearity_test checks them.
INSTANTIATE_TEST_SUITE_P(Smooth, Cnn1dGradient, ::testing::Values(NONE, TANH, SILU, GELU),
                         NonlinearityName);

TEST(Cnn1d, BackwardBeforeForwardIsFailedPrecondition) {
  auto net = CreateOrDie("cnn1d { width: 8 channels: 2 kernel: 3 depth: 1 }", Context(1, 1, 1));
  const float d_output[2] = {1.0f, 1.0f};
  EXPECT_EQ(net->BackwardSgd(d_output, 0.1f).code(), absl::StatusCode::kFailedPrecondition);
  const float x[2] = {0.5f, -0.5f};
  ASSERT_TRUE(net->Forward(x, 2, true).ok());
  ASSERT_TRUE(net->BackwardSgd(d_output, 0.1f).ok());
  EXPECT_EQ(net->BackwardSgd(d_output, 0.1f).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(net->Forward(x, 0, true).code(), absl::StatusCode::kInvalidArgument);
}

TEST(Cnn1d, BatchSizeCanChangeBetweenCalls) {
  auto net = CreateOrDie("cnn1d { width: 16 channels: 3 kernel: 3 depth: 2 nonlinearity: TANH }",
                         Context(3, 2, 9));
  const std::vector<float> x = RandomVector(4 * 3, 7);
  ASSERT_TRUE(net->Forward(x.data(), 4, false).ok());
  const std::vector<float> y4(net->output(), net->output() + 4 * 2);
  ASSERT_TRUE(net->Forward(x.data(), 1, false).ok());
  for (int k = 0; k < 2; ++k) EXPECT_NEAR(net->output()[k], y4[k], 1e-6);
  ASSERT_TRUE(net->Forward(x.data(), 4, false).ok());
  for (int k = 0; k < 8; ++k) EXPECT_NEAR(net->output()[k], y4[k], 1e-6);
}

// The paper's network (the defaults) on the two-point data: the loss goes down, and two
// identically seeded runs stay bit-identical; another seed gives other parameters.
TEST(Cnn1d, DefaultNetworkTrainsOnTwoPointsDeterministically) {
  const float x[2] = {-1.0f, 0.0f};
  const float t[2] = {0.6f, static_cast<float>(0.6 + std::sqrt(0.5))};
  std::vector<double> losses[2];
  std::vector<std::vector<float>> initial[2], final_params[2];
  std::vector<float> taps[2];
  for (int run = 0; run < 2; ++run) {
    auto net = CreateOrDie("cnn1d {}", Context(1, 1, 1));
    initial[run] = Snapshot(*net);
    for (int step = 0; step < 20; ++step) {
      ASSERT_TRUE(net->Forward(x, 2, true).ok());
      float d_output[2];
      double loss = 0;
      for (int b = 0; b < 2; ++b) {
        d_output[b] = net->output()[b] - t[b];
        loss += 0.5 * d_output[b] * d_output[b];
      }
      losses[run].push_back(loss);
      ASSERT_TRUE(net->BackwardSgd(d_output, 0.01f).ok());
    }
    ASSERT_TRUE(net->Forward(x, 2, false).ok());
    const Tap tap = net->hidden(5);
    taps[run].assign(tap.data, tap.data + 2 * tap.dim);
    final_params[run] = Snapshot(*net);
  }
  // From 1.03 (the untrained output is ~0) down by ~half in 20 steps, every step lower.
  for (size_t k = 1; k < losses[0].size(); ++k) EXPECT_LT(losses[0][k], losses[0][k - 1]) << k;
  EXPECT_LT(losses[0].back(), 0.7 * losses[0].front());
  EXPECT_EQ(initial[0], initial[1]);
  EXPECT_EQ(losses[0], losses[1]);
  EXPECT_EQ(final_params[0], final_params[1]);
  EXPECT_EQ(taps[0], taps[1]);
  auto other = CreateOrDie("cnn1d {}", Context(1, 1, 2));
  const std::vector<std::vector<float>> other_params = Snapshot(*other);
  for (size_t k = 0; k < other_params.size(); k += 2) EXPECT_NE(other_params[k], initial[0][k]);
}

// One forward against PyTorch's nn.functional.linear / conv1d (in float64) on the same
// weights, exchanged as an .npz with the parameters' names and shapes.
TEST(Cnn1d, ForwardMatchesPyTorch) {
  constexpr int kBatch = 2, kIn = 3, kOut = 2;
  auto net = CreateOrDie("cnn1d { width: 30 channels: 4 kernel: 5 depth: 3 nonlinearity: ELU }",
                         Context(kIn, kOut, 21));
  NpzMembers members;
  int salt = 0;
  for (const Parameter& p : net->parameters()) {
    if (p.name[0] == 'b') {
      const std::vector<float> b = RandomVector(p.size(), 60 + salt++);
      for (int64_t k = 0; k < p.size(); ++k) p.data[k] = 0.2f * b[k];
    }
    members.push_back(
        {p.name, NpyArray::Float32(p.shape, {p.data, static_cast<size_t>(p.size())})});
  }
  const std::vector<float> x = RandomVector(kBatch * kIn, 22);
  members.push_back({"x", NpyArray::Float32({kBatch, kIn}, x)});
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string dir = tmp != nullptr ? tmp : "/tmp";
  const std::string in_path = JoinPath(dir, "cnn1d_torch_in.npz");
  const std::string out_path = JoinPath(dir, "cnn1d_torch_out.npz");
  ASSERT_TRUE(WriteNpz(in_path, members).ok());

  const absl::StatusOr<std::string> run =
      RunPython(absl::StrCat("import numpy as np, torch\n"
                             "import torch.nn.functional as F\n"
                             "a = {k: torch.from_numpy(v.astype(np.float64)) for k, v in np.load('",
                             in_path,
                             "').items()}\n"
                             "n = (len(a) - 1) // 2\n"
                             "f = F.elu\n"
                             "h = f(F.linear(a['x'], a['W0'], a['b0']))\n"
                             "taps = [h]\n"
                             "h = h.unsqueeze(1)\n"
                             "for l in range(1, n - 1):\n"
                             "    h = f(F.conv1d(h, a[f'W{l}'], a[f'b{l}']))\n"
                             "    taps.append(h.flatten(1))\n"
                             "y = F.linear(h.flatten(1), a[f'W{n-1}'], a[f'b{n-1}'])\n"
                             "out = {'y': y.numpy()}\n"
                             "out.update({f'h{k}': t.numpy() for k, t in enumerate(taps)})\n"
                             "np.savez(open('",
                             out_path, "', 'wb'), **out)\n"));
  ASSERT_TRUE(run.ok()) << run.status();
  const absl::StatusOr<std::map<std::string, NpyArray>> torch_out = ReadNpz(out_path);
  ASSERT_TRUE(torch_out.ok()) << torch_out.status();

  ASSERT_TRUE(net->Forward(x.data(), kBatch, false).ok());
  const std::vector<double> y = torch_out->at("y").ToDoubles();
  ASSERT_EQ(y.size(), static_cast<size_t>(kBatch * kOut));
  for (int k = 0; k < kBatch * kOut; ++k) EXPECT_NEAR(net->output()[k], y[k], kForwardTol) << k;
  ASSERT_EQ(net->num_hidden(), 5);
  for (int h = 0; h < net->num_hidden(); ++h) {
    const std::vector<double> want = torch_out->at(absl::StrCat("h", h)).ToDoubles();
    const Tap tap = net->hidden(h);
    ASSERT_EQ(want.size(), static_cast<size_t>(kBatch) * tap.dim) << h;
    for (size_t k = 0; k < want.size(); ++k) {
      EXPECT_NEAR(tap.data[k], want[k], kForwardTol) << tap.name << "[" << k << "]";
    }
  }
}

}  // namespace
}  // namespace replearn
