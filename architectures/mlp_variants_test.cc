// The residual ("resnet") and dropout variants of the MLP, and its backward through
// optimisers other than fused SGD: gradients against central finite differences, the
// residual forward against a double-precision reference, dropout's eval/train behaviour.
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
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

using ::testing::HasSubstr;

using test::RecordingOptimizer;

std::unique_ptr<Architecture> Build(const std::string& text, int in, int out, uint64_t seed) {
  return test::CreateOrDie(text, test::Context(in, out, seed));
}

absl::Status BuildStatus(const std::string& text) {
  return test::CreateStatus(text, test::Context(1, 1, 0));
}

// 1/2 sum (yhat - t)^2 in double, and its gradient with respect to yhat.
double Loss(const Architecture& net, const std::vector<float>& t, std::vector<float>* d_out) {
  double loss = 0;
  if (d_out != nullptr) d_out->resize(t.size());
  for (size_t i = 0; i < t.size(); ++i) {
    const double r = double{net.output()[i]} - t[i];
    loss += 0.5 * r * r;
    if (d_out != nullptr) (*d_out)[i] = static_cast<float>(r);
  }
  return loss;
}

struct Problem {
  int in = 3, out = 2, batch = 3;
  std::vector<float> x, t;
  explicit Problem(uint64_t seed) {
    Rng rng(seed);
    for (int i = 0; i < batch * in; ++i) x.push_back(static_cast<float>(rng.Normal()));
    for (int i = 0; i < batch * out; ++i) t.push_back(static_cast<float>(rng.Normal()));
  }
};

// Checks every parameter element's gradient from Backward against central differences of
// the loss of fresh networks (same seed, so a training forward draws the same first dropout
// mask) with that element moved by +-step.
void ExpectGradientsMatchFiniteDifferences(const std::string& spec, bool train) {
  const Problem p(7);
  auto net = Build(spec, p.in, p.out, 11);
  ASSERT_TRUE(net->Forward(p.x.data(), p.batch, train).ok());
  std::vector<float> d_out;
  Loss(*net, p.t, &d_out);
  RecordingOptimizer capture;
  ASSERT_TRUE(net->Backward(d_out.data(), capture).ok());
  const std::vector<Parameter> params = net->parameters();
  ASSERT_EQ(capture.grads.size(), params.size());
  constexpr float kStep = 1e-2f;
  for (size_t s = 0; s < params.size(); ++s) {
    ASSERT_EQ(capture.grads[s].size(), static_cast<size_t>(params[s].size())) << params[s].name;
    for (int64_t i = 0; i < params[s].size(); ++i) {
      double loss[2];
      for (int side = 0; side < 2; ++side) {
        auto twin = Build(spec, p.in, p.out, 11);
        float& v = twin->parameters()[s].data[i];
        v += side == 0 ? kStep : -kStep;
        CHECK(twin->Forward(p.x.data(), p.batch, train).ok());
        loss[side] = Loss(*twin, p.t, nullptr);
      }
      // The perturbed element is exact in float only up to rounding of v +- step.
      const float base = params[s].data[i];
      const double h = (double{base + kStep} - double{base - kStep});
      const double fd = (loss[0] - loss[1]) / h;
      const double g = capture.grads[s][i];
      EXPECT_NEAR(g, fd, 2e-4 + 2e-3 * std::fabs(fd))
          << spec << " " << params[s].name << "[" << i << "]";
    }
  }
}

TEST(Resnet, GradientsMatchFiniteDifferences) {
  ExpectGradientsMatchFiniteDifferences("resnet { depth: 5 width: 4 nonlinearity: TANH gain: 0.8 }",
                                        /*train=*/false);
}

TEST(MlpDropout, GradientsWithAFixedMaskMatchFiniteDifferences) {
  ExpectGradientsMatchFiniteDifferences("mlp { depth: 3 width: 5 nonlinearity: TANH dropout: 0.3 }",
                                        /*train=*/true);
}

TEST(Mlp, GenericOptimizerPathGivesTheFusedPathsGradient) {
  // Plain MLP: the gradient handed to Apply equals (W_before - W_after) / lr of the fused
  // SGD kernel, up to float rounding.
  const std::string spec = "mlp { depth: 3 width: 6 nonlinearity: LEAKY_RELU }";
  const Problem p(3);
  auto a = Build(spec, p.in, p.out, 5);
  auto b = Build(spec, p.in, p.out, 5);
  std::vector<float> d_out;
  ASSERT_TRUE(a->Forward(p.x.data(), p.batch, true).ok());
  Loss(*a, p.t, &d_out);
  RecordingOptimizer capture;
  ASSERT_TRUE(a->Backward(d_out.data(), capture).ok());
  ASSERT_TRUE(b->Forward(p.x.data(), p.batch, true).ok());
  std::vector<std::vector<float>> before;
  for (const Parameter& q : b->parameters()) before.emplace_back(q.data, q.data + q.size());
  constexpr float kLr = 1e-3f;
  ASSERT_TRUE(b->BackwardSgd(d_out.data(), kLr).ok());
  const std::vector<Parameter> after = b->parameters();
  for (size_t s = 0; s < after.size(); ++s) {
    for (int64_t i = 0; i < after[s].size(); ++i) {
      const double fused = (double{before[s][i]} - after[s].data[i]) / kLr;
      EXPECT_NEAR(capture.grads[s][i], fused, 1e-3 * (1 + std::fabs(fused)))
          << after[s].name << "[" << i << "]";
    }
  }
}

// f(x) for the residual reference below.
double Tanh(double x) { return std::tanh(x); }

TEST(Resnet, ForwardAddsTheOutputOfTwoLayersBackAfterTheActivation) {
  const int depth = 5, width = 4;
  const Problem p(9);
  auto net = Build("resnet { depth: 5 width: 4 nonlinearity: TANH gain: 0.7 }", p.in, p.out, 2);
  ASSERT_TRUE(net->Forward(p.x.data(), p.batch, false).ok());
  const std::vector<Parameter> params = net->parameters();
  for (int b = 0; b < p.batch; ++b) {
    std::vector<std::vector<double>> h;
    std::vector<double> in(p.x.begin() + b * p.in, p.x.begin() + (b + 1) * p.in);
    for (int l = 0; l <= depth; ++l) {
      const Parameter& w = params[2 * l];
      const Parameter& bias = params[2 * l + 1];
      const int rows = static_cast<int>(w.shape[0]), cols = static_cast<int>(w.shape[1]);
      std::vector<double> z(rows);
      for (int o = 0; o < rows; ++o) {
        z[o] = bias.data[o];
        for (int i = 0; i < cols; ++i) z[o] += double{w.data[o * cols + i]} * in[i];
      }
      if (l == depth) {
        for (int o = 0; o < rows; ++o) {
          EXPECT_NEAR(net->output()[b * p.out + o], z[o], 1e-5) << "example " << b;
        }
        break;
      }
      for (int o = 0; o < rows; ++o) {
        z[o] = Tanh(z[o]) + (l >= 2 ? h[l - 2][o] : 0.0);
        EXPECT_NEAR(net->hidden(l).data[b * width + o], z[o], 1e-5) << "layer " << l;
      }
      h.push_back(z);
      in = z;
    }
  }
}

TEST(MlpDropout, EvalModeIsThePlainNetworkAndTrainModeAveragesToIt) {
  // A linear one-hidden-layer net: the output is linear in each mask, so with the
  // 1/(1 - p) scaling the mean training output over independent masks is the eval output.
  const Problem p(4);
  auto drop = Build("mlp { depth: 1 width: 8 nonlinearity: NONE dropout: 0.25 }", p.in, p.out, 3);
  auto plain = Build("mlp { depth: 1 width: 8 nonlinearity: NONE }", p.in, p.out, 3);
  EXPECT_TRUE(drop->has_train_only_behaviour());
  EXPECT_FALSE(plain->has_train_only_behaviour());
  ASSERT_TRUE(plain->Forward(p.x.data(), p.batch, false).ok());
  ASSERT_TRUE(drop->Forward(p.x.data(), p.batch, false).ok());
  const int n = p.batch * p.out;
  std::vector<float> eval(drop->output(), drop->output() + n);
  for (int i = 0; i < n; ++i) EXPECT_EQ(eval[i], plain->output()[i]);

  constexpr int kDraws = 20000;
  std::vector<double> sum(n, 0.0), sum_sq(n, 0.0);
  int differs = 0;
  for (int d = 0; d < kDraws; ++d) {
    ASSERT_TRUE(drop->Forward(p.x.data(), p.batch, true).ok());
    for (int i = 0; i < n; ++i) {
      sum[i] += drop->output()[i];
      sum_sq[i] += double{drop->output()[i]} * drop->output()[i];
      differs += drop->output()[i] != eval[i];
    }
  }
  EXPECT_GT(differs, kDraws * n / 2);
  for (int i = 0; i < n; ++i) {
    const double mean = sum[i] / kDraws;
    const double sd = std::sqrt(std::max(0.0, sum_sq[i] / kDraws - mean * mean));
    EXPECT_NEAR(mean, eval[i], 5 * sd / std::sqrt(double{kDraws})) << "output " << i;
  }
}

TEST(MlpDropout, MasksAreSeededSoRunsRepeat) {
  const Problem p(4);
  const std::string spec = "mlp { depth: 2 width: 8 dropout: 0.5 }";
  auto a = Build(spec, p.in, p.out, 3), b = Build(spec, p.in, p.out, 3);
  auto c = Build(spec, p.in, p.out, 4);
  bool other_seed_differs = false;
  for (int step = 0; step < 5; ++step) {
    ASSERT_TRUE(a->Forward(p.x.data(), p.batch, true).ok());
    ASSERT_TRUE(b->Forward(p.x.data(), p.batch, true).ok());
    ASSERT_TRUE(c->Forward(p.x.data(), p.batch, true).ok());
    for (int i = 0; i < p.batch * p.out; ++i) {
      EXPECT_EQ(a->output()[i], b->output()[i]);
      other_seed_differs |= a->output()[i] != c->output()[i];
    }
  }
  EXPECT_TRUE(other_seed_differs);
}

TEST(MlpDropout, RejectsRatesOutsideZeroToOne) {
  for (const char* rate : {"-0.1", "1", "1.5", "nan"}) {
    const absl::Status s =
        BuildStatus(std::string("mlp { depth: 2 width: 4 dropout: ") + rate + " }");
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << rate;
    EXPECT_THAT(std::string(s.message()), HasSubstr("architecture.mlp.dropout = ")) << rate;
    EXPECT_THAT(std::string(s.message()), HasSubstr("must be in [0, 1)")) << rate;
  }
}

TEST(Resnet, ValidatesItsOwnFieldPaths) {
  const absl::Status s = BuildStatus("resnet { depth: 0 width: -2 }");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("architecture.resnet.depth = 0; must be >= 1"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("architecture.resnet.width = -2; must be >= 1"));
}

TEST(Mlp, AdamsFirstUpdateMovesEveryParameterByTheRateAgainstItsGradient) {
  // At t = 1, m / sqrt(v) = g / |g| exactly (bias corrections cancel): the step is
  // lr * g / (|g| + eps) per element, from the gradient the capturing optimizer sees.
  const std::string spec = "resnet { depth: 4 width: 6 nonlinearity: LEAKY_RELU }";
  const Problem p(8);
  auto a = Build(spec, p.in, p.out, 1), b = Build(spec, p.in, p.out, 1);
  std::vector<float> d_out;
  ASSERT_TRUE(a->Forward(p.x.data(), p.batch, true).ok());
  ASSERT_TRUE(b->Forward(p.x.data(), p.batch, true).ok());
  Loss(*a, p.t, &d_out);
  RecordingOptimizer capture;
  ASSERT_TRUE(a->Backward(d_out.data(), capture).ok());
  std::vector<std::vector<float>> before;
  for (const Parameter& q : b->parameters()) before.emplace_back(q.data, q.data + q.size());
  constexpr double kLr = 1e-3, kEps = 1e-8;
  AdamOptimizer adam(kLr, 0.9f, 0.999f, kEps);
  ASSERT_TRUE(b->Backward(d_out.data(), adam).ok());
  const std::vector<Parameter> after = b->parameters();
  int moved = 0;
  for (size_t s = 0; s < after.size(); ++s) {
    for (int64_t i = 0; i < after[s].size(); ++i) {
      const double g = capture.grads[s][i];
      const double expected = -kLr * g / (std::fabs(g) + kEps);
      EXPECT_NEAR(double{after[s].data[i]} - before[s][i], expected, 1e-7)
          << after[s].name << "[" << i << "]";
      moved += std::fabs(expected) > 0.5 * kLr;
    }
  }
  EXPECT_GT(moved, 0);
}

}  // namespace
}  // namespace replearn
