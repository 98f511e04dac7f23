// One training step of every universality-suite row at its suite size, and of the 2-D
// convnet on an MNIST-sized minibatch.
//
// Suite rows: each spec of experiments/paper/specs/universality/ is built exactly as a run builds
// it (BuildTrial: its architecture, two-point dataset and optimiser). A step is
// Forward(train) + the 1/2-MSE loss gradient + Backward through the spec's optimiser, on 1
// thread (training.threads of the specs). The convnet: default ConvNetSpec (1 x 28 x 28,
// conv 16 and 32 channels with 2x2 max pooling, dense 128, 10 outputs), batch 64.
//
//   bazel run -c opt //benchmarks:architecture_benchmark -- --benchmark_repetitions=3
#include <memory>
#include <string>
#include <vector>

#include "architectures/architecture.h"
#include "architectures/optimizer.h"
#include "benchmark/benchmark.h"
#include "core/dnnl.h"
#include "core/rng.h"
#include "experiments/paper/universality.h"
#include "experiments/trial.h"
#include "proto/experiment.pb.h"

namespace replearn {
namespace {

// Forward + loss gradient + Backward on (x, y) until the benchmark stops.
void Steps(benchmark::State& state, Architecture& net, Optimizer& optimizer, const float* x,
           const float* y, int batch) {
  SetDnnlThreads(1);
  const int out = net.output_dim();
  std::vector<float> d_output(static_cast<size_t>(batch) * out);
  double loss = 0;
  for (auto _ : state) {
    absl::Status status = net.Forward(x, batch, /*train=*/true);
    if (!status.ok()) {
      state.SkipWithError(status.ToString().c_str());
      return;
    }
    loss = 0;
    for (int i = 0; i < batch * out; ++i) {
      const float r = net.output()[i] - y[i];
      loss += 0.5 * double{r} * r / batch;
      d_output[i] = r / batch;
    }
    status = net.Backward(d_output.data(), optimizer);
    if (!status.ok()) {
      state.SkipWithError(status.ToString().c_str());
      return;
    }
  }
  state.counters["loss"] = loss;
}

void SuiteRowStep(benchmark::State& state, const Experiment& spec) {
  auto trial = BuildTrial(spec);
  auto optimizer = CreateOptimizer(spec.training());
  if (!trial.ok() || !optimizer.ok()) {
    state.SkipWithError(!trial.ok() ? trial.status().ToString().c_str()
                                    : optimizer.status().ToString().c_str());
    return;
  }
  Steps(state, *trial->net, **optimizer, trial->data->x.data(), trial->data->y.data(),
        trial->data->size());
}

void BM_ConvnetMnistBatch64(benchmark::State& state) {
  constexpr int kBatch = 64, kPixels = 28 * 28, kClasses = 10;
  ArchitectureSpec spec;
  spec.mutable_convnet();
  BuildContext ctx;
  ctx.input_dim = kPixels;
  ctx.output_dim = kClasses;
  ctx.seed = 1;
  auto net = CreateArchitecture(spec, ctx);
  if (!net.ok()) {
    state.SkipWithError(net.status().ToString().c_str());
    return;
  }
  Rng rng(3);
  std::vector<float> x(kBatch * kPixels), y(kBatch * kClasses, 0.0f);
  for (float& v : x) v = static_cast<float>(rng.Normal());
  for (int b = 0; b < kBatch; ++b) y[b * kClasses + rng.UniformInt(kClasses)] = 1.0f;
  SgdOptimizer sgd(0.01f);
  Steps(state, **net, sgd, x.data(), y.data(), kBatch);
}
BENCHMARK(BM_ConvnetMnistBatch64)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace replearn

int main(int argc, char** argv) {
  replearn::SuiteOptions options;
  auto rows = replearn::LoadSuite("experiments/paper/specs/universality", options);
  if (!rows.ok()) {
    std::fprintf(stderr, "architecture_benchmark: %s\n",
                 std::string(rows.status().message()).c_str());
    return 1;
  }
  for (const replearn::SuiteRow& row : *rows) {
    benchmark::RegisterBenchmark(
        ("BM_SuiteStep/" + row.name).c_str(),
        [spec = row.spec](benchmark::State& state) { replearn::SuiteRowStep(state, spec); })
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
