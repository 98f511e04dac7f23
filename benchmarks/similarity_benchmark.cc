// Every representation-similarity measure (metrics/similarity.h) on n = 100 examples with
// 500 features in both representations (Y = X + 0.5 noise, Gaussian), and the permutation
// baseline of debiased CKA with 100 permutations.
//
//   bazel run -c opt //benchmarks:similarity_benchmark -- --benchmark_repetitions=3
//
// Counter "value": the measure's result, so a change in timing can be told from a change in
// what is computed. DoNotOptimize only ever sees const doubles: Google Benchmark 1.7's
// read-write overload ("+m,r") can corrupt a double under GCC (google/benchmark#903).
#include <cstdint>

#include "Eigen/Core"
#include "benchmark/benchmark.h"
#include "core/rng.h"
#include "metrics/similarity.h"

namespace replearn {
namespace {

Eigen::MatrixXd Gaussian(int64_t rows, int64_t cols, uint64_t seed) {
  Rng rng(seed);
  Eigen::MatrixXd m(rows, cols);
  for (int64_t j = 0; j < cols; ++j) {
    for (int64_t i = 0; i < rows; ++i) m(i, j) = rng.Normal();
  }
  return m;
}

void BM_Similarity(benchmark::State& state, SimilarityMeasure measure) {
  const Eigen::MatrixXd x = Gaussian(state.range(0), state.range(1), 1);
  const Eigen::MatrixXd y = x + 0.5 * Gaussian(state.range(0), state.range(1), 2);
  double value = 0;
  for (auto _ : state) {
    const absl::StatusOr<double> v = ComputeSimilarity(measure, x, y);
    if (!v.ok()) {
      state.SkipWithError(v.status().ToString().c_str());
      return;
    }
    benchmark::DoNotOptimize(*v);
    value = *v;
  }
  state.counters["value"] = value;
}

void Sizes(benchmark::internal::Benchmark* b) {
  b->Args({100, 500})->ArgNames({"n", "features"})->Unit(benchmark::kMicrosecond);
}

BENCHMARK_CAPTURE(BM_Similarity, cka_debiased, SimilarityMeasure::kCkaDebiased)->Apply(Sizes);
BENCHMARK_CAPTURE(BM_Similarity, cka_biased, SimilarityMeasure::kCkaBiased)->Apply(Sizes);
BENCHMARK_CAPTURE(BM_Similarity, procrustes_angular, SimilarityMeasure::kProcrustesAngular)
    ->Apply(Sizes);
BENCHMARK_CAPTURE(BM_Similarity, rsa_pearson, SimilarityMeasure::kRsaPearson)->Apply(Sizes);
BENCHMARK_CAPTURE(BM_Similarity, rsa_spearman, SimilarityMeasure::kRsaSpearman)->Apply(Sizes);
BENCHMARK_CAPTURE(BM_Similarity, mutual_knn, SimilarityMeasure::kMutualKnn)->Apply(Sizes);

void BM_PermutationBaselineCkaDebiased(benchmark::State& state) {
  const Eigen::MatrixXd x = Gaussian(state.range(0), state.range(1), 1);
  const Eigen::MatrixXd y = x + 0.5 * Gaussian(state.range(0), state.range(1), 2);
  const SimilarityFunction cka = [](const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
    return LinearCkaDebiased(a, b);
  };
  double mean = 0;
  for (auto _ : state) {
    const auto baseline = ComputePermutationBaseline(cka, x, y, 100, 7);
    if (!baseline.ok()) {
      state.SkipWithError(baseline.status().ToString().c_str());
      return;
    }
    benchmark::DoNotOptimize(baseline->mean);
    mean = baseline->mean;
  }
  state.counters["mean"] = mean;
}
BENCHMARK(BM_PermutationBaselineCkaDebiased)
    ->Args({100, 500})
    ->ArgNames({"n", "features"})
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace replearn
