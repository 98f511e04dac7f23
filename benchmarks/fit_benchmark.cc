// Fitting [ODE] to the curves of all 20 hidden layers of a 6000-step default run
// (theory/fit.h, docs/theory.md section 5).
//
// Input. By default a synthetic run: for every layer, the curves [ODE] + [LOSS] predict with
// that layer's rates of a reference fit of a real default run (the table below: eta_h, eta_y,
// eta_ybar from its fit.csv, h0 from its curves.csv; y0, w0, ||ybar0 - ybar*||^2 shared),
// 6001 steps, with seeded 1% multiplicative noise. Real curves fit worse than these (their
// normalised loss is up to ~1.2 in the shallow layers), which changes the work the fitter does,
// so a real curves.csv can be given instead:
//   REPLEARN_FIT_CURVES=/path/curves.csv   (dx2, dy2 from REPLEARN_FIT_DX2 / REPLEARN_FIT_DY2,
//                                            default 1 and 0.5, the default dataset)
//   REPLEARN_FIT_CSV_OUT=/path/fit.csv     write the fit.csv of one FitLayers call (checking
//                                            fit quality against a reference)
//
//   bazel run -c opt //benchmarks:fit_benchmark -- --benchmark_repetitions=3
//   REPLEARN_FIT_CURVES=$PWD/curves.csv bazel run -c opt //benchmarks:fit_benchmark
// (bazel run executes in the runfiles tree: give an absolute path.)
//
// Benchmarks: BM_FitLayers20/threads:N (FitLayers over all layers with N threads) and
// BM_FitOneLayer (Fit of layer 10). Counters: layer-10 normalised loss and the worst layer's.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "core/rng.h"
#include "theory/curves_io.h"
#include "theory/fit.h"

namespace replearn {
namespace {

constexpr int kSteps = 6001;  // steps 0..6000, as the probes record a 6000-step run
constexpr int kTrackedLayer = 10;

// Reference fit of the default run (seed 1): layer, eta_h, eta_y, eta_ybar, h0.
struct LayerTruth {
  double eta_h, eta_y, eta_ybar, h0;
};
constexpr LayerTruth kReference[20] = {
    {0.001121386919, 0.001514949908, 0.01241126312, 0.9579749127},
    {0.0006649912763, 0.003601842047, 0.01249978038, 0.3519560512},
    {0.0004993892942, 0.006218726156, 0.0125837812, 0.176170587},
    {0.0003902092253, 0.01090639233, 0.01270145393, 0.07864165842},
    {0.0003347525729, 0.01680892433, 0.01280965068, 0.03820738704},
    {0.0002925011806, 0.0248521232, 0.01290116783, 0.01860335661},
    {0.0003272520734, 0.02918169759, 0.01298210804, 0.01045374318},
    {0.0003617578444, 0.03580423244, 0.01304914334, 0.004921618368},
    {0.0004249573277, 0.04212772555, 0.01309544662, 0.002092463285},
    {0.0005393333971, 0.0440216365, 0.01311926311, 0.0009836879146},
    {0.0007285256133, 0.04224021385, 0.01313154909, 0.0004827713515},
    {0.0009051108131, 0.04239248514, 0.01313724932, 0.0002328859604},
    {0.00115869533, 0.04117122818, 0.01314020992, 0.0001086327104},
    {0.001666340086, 0.03721725987, 0.01314180784, 4.309446634e-05},
    {0.002044881666, 0.03644197349, 0.01314226836, 2.169624199e-05},
    {0.002845355633, 0.03466932901, 0.01314252064, 9.757720224e-06},
    {0.003710920063, 0.04078753593, 0.01314257645, 4.991443347e-06},
    {0.004447491972, 0.02226441843, 0.0131425251, 2.404092984e-06},
    {0.004893441068, 0.01537939858, 0.01314229923, 1.183819144e-06},
    {0.005058075102, 0.01179699312, 0.01314171478, 5.089972678e-07},
};
constexpr double kY0 = 1.781678607e-10;
constexpr double kYbar0Err2 = 0.9092513179;
constexpr double kDx2 = 1.0;
constexpr double kDy2 = 0.5;

struct Dataset {
  std::string label;
  std::vector<int> layers;
  std::vector<Curves> curves;
  std::string error;  // non-empty: could not be built
};

double EnvDouble(const char* name, double fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::atof(v) : fallback;
}

Dataset Synthetic() {
  Dataset d;
  d.label = "synthetic";
  std::vector<double> t(kSteps);
  for (int i = 0; i < kSteps; ++i) t[i] = i;
  // The real run's output starts anti-aligned with the target difference: w0 = y0 + sqrt(dy2 y0).
  const State start{0.0, kY0, kY0 + std::sqrt(kDy2 * kY0)};
  for (int layer = 0; layer < 20; ++layer) {
    const LayerTruth& r = kReference[layer];
    State initial = start;
    initial.h = r.h0;
    absl::StatusOr<Curves> c =
        SimulateCurves(initial, Rates{r.eta_h, r.eta_y, r.eta_ybar}, kDx2, kDy2, kYbar0Err2, t);
    if (!c.ok()) {
      d.error = absl::StrCat("layer ", layer, ": ", c.status().ToString());
      return d;
    }
    Rng rng(Rng::DeriveSeed(2024, layer));
    for (std::vector<double>* v : {&c->h, &c->y, &c->w, &c->loss}) {
      for (double& x : *v) x *= 1.0 + 0.01 * rng.Normal();
    }
    d.layers.push_back(layer);
    d.curves.push_back(*std::move(c));
  }
  return d;
}

Dataset FromFile(const std::string& path) {
  Dataset d;
  d.label = "file";
  absl::StatusOr<RecordedCurves> recorded = ReadCurvesCsv(path);
  if (!recorded.ok()) {
    d.error = recorded.status().ToString();
    return d;
  }
  d.layers = recorded->layers;
  d.curves = ToLayerCurves(*recorded, EnvDouble("REPLEARN_FIT_DX2", kDx2),
                           EnvDouble("REPLEARN_FIT_DY2", kDy2));
  return d;
}

const Dataset& GetDataset() {
  static const Dataset* dataset = [] {
    const char* path = std::getenv("REPLEARN_FIT_CURVES");
    auto* d = new Dataset(path != nullptr && *path != '\0' ? FromFile(path) : Synthetic());
    if (const char* out = std::getenv("REPLEARN_FIT_CSV_OUT"); out != nullptr && d->error.empty()) {
      std::vector<FitResult> fits;
      for (auto& f : FitLayers(d->curves, FitOptions(), 2)) {
        if (!f.ok()) {
          d->error = f.status().ToString();
          return static_cast<const Dataset*>(d);
        }
        fits.push_back(*std::move(f));
      }
      const absl::Status s = WriteFitCsv(out, d->layers, d->curves, fits);
      if (!s.ok()) d->error = s.ToString();
    }
    return static_cast<const Dataset*>(d);
  }();
  return *dataset;
}

void BM_FitLayers20(benchmark::State& state) {
  const Dataset& d = GetDataset();
  if (!d.error.empty()) {
    state.SkipWithError(d.error.c_str());
    return;
  }
  const int threads = static_cast<int>(state.range(0));
  double tracked = 0.0, worst = 0.0;
  for (auto _ : state) {
    std::vector<absl::StatusOr<FitResult>> fits = FitLayers(d.curves, FitOptions(), threads);
    worst = 0.0;
    for (size_t k = 0; k < fits.size(); ++k) {
      if (!fits[k].ok()) {
        state.SkipWithError(fits[k].status().ToString().c_str());
        return;
      }
      worst = std::max(worst, fits[k]->normalised_loss);
      if (d.layers[k] == kTrackedLayer) tracked = fits[k]->normalised_loss;
    }
    benchmark::DoNotOptimize(fits.data());
  }
  state.counters["layer10_norm_loss"] = tracked;
  state.counters["max_norm_loss"] = worst;
  state.SetLabel(
      absl::StrCat(d.label, ", ", d.curves.size(), " layers x ", d.curves[0].t.size(), " steps"));
}
BENCHMARK(BM_FitLayers20)
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MeasureProcessCPUTime();

void BM_FitOneLayer(benchmark::State& state) {
  const Dataset& d = GetDataset();
  if (!d.error.empty()) {
    state.SkipWithError(d.error.c_str());
    return;
  }
  const auto it = std::find(d.layers.begin(), d.layers.end(), kTrackedLayer);
  const Curves& c = d.curves[it == d.layers.end() ? d.curves.size() / 2 : it - d.layers.begin()];
  double loss = 0.0;
  for (auto _ : state) {
    absl::StatusOr<FitResult> fit = Fit(c);
    if (!fit.ok()) {
      state.SkipWithError(fit.status().ToString().c_str());
      return;
    }
    loss = fit->normalised_loss;
    benchmark::DoNotOptimize(fit);
  }
  state.counters["norm_loss"] = loss;
  state.SetLabel(absl::StrCat(d.label, ", layer ", kTrackedLayer));
}
BENCHMARK(BM_FitOneLayer)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace replearn
