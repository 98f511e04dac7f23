// One training epoch of the paper's MNIST network (experiments/paper/specs/mnist_two_point.pbtxt:
// leaky-ReLU 784 -> 4 x 200 -> 10, minibatch SGD, batch 64) on the MNIST digits that
// tools/setup.sh installs (8000 training images). The spec's probe records every 25 steps
// as in the experiment; the held-out evaluation runs once at the end of the epoch.
//
//   bazel run -c opt //benchmarks:mnist_benchmark -- --benchmark_repetitions=3
#include <string>

#include "benchmark/benchmark.h"
#include "experiments/loader.h"
#include "experiments/trial.h"

namespace replearn {
namespace {

void BM_MnistEpoch(benchmark::State& state) {
  auto spec = LoadExperiment("experiments/paper/specs/mnist_two_point.pbtxt");
  if (!spec.ok()) {
    state.SkipWithError(spec.status().ToString().c_str());
    return;
  }
  spec->mutable_training()->set_epochs(1);
  spec->mutable_training()->set_threads(static_cast<int>(state.range(0)));
  spec->mutable_theory()->set_enabled(false);
  auto trial = BuildTrial(*spec);  // loads the digits once, outside the timing
  if (!trial.ok()) {
    state.SkipWithError(trial.status().ToString().c_str());
    return;
  }
  int64_t images = 0;
  for (auto _ : state) {
    auto result = Train(*trial, TrainOptions{.progress = false});
    if (!result.ok()) {
      state.SkipWithError(result.status().ToString().c_str());
      return;
    }
    images += trial->data->size();
    state.counters["test_accuracy"] = result->test_accuracy;
  }
  state.counters["images_per_second"] =
      benchmark::Counter(static_cast<double>(images), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_MnistEpoch)
    ->ArgNames({"threads"})
    ->Arg(1)
    ->Arg(2)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace replearn
