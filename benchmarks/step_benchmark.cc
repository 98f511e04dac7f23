// One training step of the paper's default network, and its dense layer on its own.
//
// Default network: mlp depth 20, width 500, leaky ReLU, gain 1, input 1, output 1; the
// two-point data x = (-1, 0), y = (0.6, 0.6 + sqrt(0.5)); SGD with lr 0.005. A step is
// Forward + the gradient of the 1/2-MSE loss + BackwardSgd. The "with probes" variant also
// computes, for every hidden layer, ||a2 - a1||^2 in double from the taps (what the
// two_point probe records every step).
//
//   bazel run -c opt //benchmarks:step_benchmark -- --benchmark_repetitions=3
#include <cmath>
#include <memory>
#include <vector>

#include "architectures/architecture.h"
#include "architectures/dense.h"
#include "benchmark/benchmark.h"
#include "core/dnnl.h"
#include "core/rng.h"
#include "proto/experiment.pb.h"

namespace replearn {
namespace {

constexpr int kBatch = 2;
constexpr float kLearningRate = 0.005f;

std::unique_ptr<Architecture> DefaultNetwork(benchmark::State& state) {
  ArchitectureSpec spec;
  MlpSpec* mlp = spec.mutable_mlp();
  mlp->set_depth(20);
  mlp->set_width(500);
  mlp->set_nonlinearity(LEAKY_RELU);
  mlp->set_gain(1.0);
  BuildContext ctx;
  ctx.input_dim = 1;
  ctx.output_dim = 1;
  ctx.seed = 1;
  absl::StatusOr<std::unique_ptr<Architecture>> net = CreateArchitecture(spec, ctx);
  if (!net.ok()) {
    state.SkipWithError(net.status().ToString().c_str());
    return nullptr;
  }
  return *std::move(net);
}

void TrainStep(benchmark::State& state, bool with_probes) {
  SetDnnlThreads(static_cast<int>(state.range(0)));
  std::unique_ptr<Architecture> net = DefaultNetwork(state);
  if (net == nullptr) return;
  const float x[kBatch] = {-1.0f, 0.0f};
  const float y[kBatch] = {0.6f, static_cast<float>(0.6 + std::sqrt(0.5))};
  std::vector<double> distances(net->num_hidden());
  float d_output[kBatch];
  double loss = 0;
  for (auto _ : state) {
    absl::Status status = net->Forward(x, kBatch, /*train=*/true);
    if (!status.ok()) {
      state.SkipWithError(status.ToString().c_str());
      break;
    }
    if (with_probes) {
      for (int h = 0; h < net->num_hidden(); ++h) {
        const Tap tap = net->hidden(h);
        double d2 = 0;
        for (int i = 0; i < tap.dim; ++i) {
          const double d = double{tap.data[tap.dim + i]} - double{tap.data[i]};
          d2 += d * d;
        }
        distances[h] = d2;
      }
      benchmark::DoNotOptimize(distances.data());
    }
    // L = 1/2 mean_b (out_b - y_b)^2.
    loss = 0;
    for (int b = 0; b < kBatch; ++b) {
      const float r = net->output()[b] - y[b];
      loss += 0.5 * r * r / kBatch;
      d_output[b] = r / kBatch;
    }
    status = net->BackwardSgd(d_output, kLearningRate);
    if (!status.ok()) {
      state.SkipWithError(status.ToString().c_str());
      break;
    }
  }
  state.counters["final_loss"] = loss;
}

void BM_TrainStep(benchmark::State& state) { TrainStep(state, /*with_probes=*/false); }
void BM_TrainStepWithProbes(benchmark::State& state) { TrainStep(state, /*with_probes=*/true); }

void Threads(benchmark::internal::Benchmark* b) {
  b->ArgNames({"threads"})->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);
}

BENCHMARK(BM_TrainStep)->Apply(Threads);
BENCHMARK(BM_TrainStepWithProbes)->Apply(Threads);

// [2, 500] x [500, 500] layers. layers:1 runs one layer whose 1 MB of weights stays hot in
// L2; layers:19 runs 19 distinct layers per iteration (19 MB, the default network's hidden
// weights), so the weights stream from L3 as in a training step. Time is per iteration,
// i.e. per 19 layers for layers:19.
constexpr int kWidth = 500;

struct LayerData {
  std::vector<Dense> layers;
  std::vector<float> x, dy, dx, y;
  explicit LayerData(int num_layers) {
    for (int l = 0; l < num_layers; ++l) {
      layers.emplace_back(kWidth, kWidth);
      layers.back().InitXavierNormal(1.0, 1, l);
      layers.back().Reserve(kBatch);
    }
    Rng rng(2);
    for (std::vector<float>* v : {&x, &dy}) {
      v->resize(kBatch * kWidth);
      for (float& e : *v) e = static_cast<float>(rng.Normal());
    }
    dx.resize(kBatch * kWidth);
    y.resize(kBatch * kWidth);
  }
};

// A tiny learning rate keeps W from drifting over millions of updates.
constexpr float kLayerLearningRate = 1e-7f;

enum class LayerOp { kForward, kBackwardFused, kBackwardReference };

void DenseLayers(benchmark::State& state, LayerOp op) {
  SetDnnlThreads(static_cast<int>(state.range(0)));
  LayerData d(static_cast<int>(state.range(1)));
  for (auto _ : state) {
    for (Dense& layer : d.layers) {
      absl::Status status;
      switch (op) {
        case LayerOp::kForward:
          status = layer.Forward(d.x.data(), kBatch, d.y.data());
          break;
        case LayerOp::kBackwardFused:
          status = layer.BackwardSgdFused(d.x.data(), d.dy.data(), kBatch, kLayerLearningRate,
                                          d.dx.data());
          break;
        case LayerOp::kBackwardReference:
          status = layer.BackwardSgdReference(d.x.data(), d.dy.data(), kBatch, kLayerLearningRate,
                                              d.dx.data());
          break;
      }
      if (!status.ok()) state.SkipWithError(status.ToString().c_str());
    }
    benchmark::DoNotOptimize(d.y.data());
    benchmark::DoNotOptimize(d.dx.data());
  }
}

void BM_DenseForward(benchmark::State& state) { DenseLayers(state, LayerOp::kForward); }
void BM_DenseBackwardFused(benchmark::State& state) { DenseLayers(state, LayerOp::kBackwardFused); }
void BM_DenseBackwardReference(benchmark::State& state) {
  DenseLayers(state, LayerOp::kBackwardReference);
}

void LayerArgs(benchmark::internal::Benchmark* b) {
  b->ArgNames({"threads", "layers"})->UseRealTime()->Unit(benchmark::kMicrosecond);
  for (int layers : {1, 19}) {
    for (int threads : {1, 2}) b->Args({threads, layers});
  }
}

BENCHMARK(BM_DenseForward)->Apply(LayerArgs);
BENCHMARK(BM_DenseBackwardFused)->Apply(LayerArgs);
BENCHMARK(BM_DenseBackwardReference)->Apply(LayerArgs);

}  // namespace
}  // namespace replearn
