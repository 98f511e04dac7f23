// The two_point probe: h for every listed hidden layer, y, w, ybar and loss for the
// dataset's first two examples (THEORY.md section 1; formulas in two_point_measures.h).
// Example spec:
//   probe { two_point { layers: [10] every: 1 } }   # empty layers = every hidden layer
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/status_macros.h"
#include "metrics/probe.h"
#include "metrics/two_point_measures.h"

namespace replearn {
namespace {

class TwoPointProbe final : public Probe {
 public:
  static absl::StatusOr<std::unique_ptr<Probe>> Create(const ProbeSpec& spec,
                                                       const ProbeBuildContext& ctx) {
    const TwoPointProbeSpec& tp = spec.two_point();
    std::vector<std::string> problems;
    if (tp.every() < 1) {
      problems.push_back(absl::StrCat("probe.two_point.every = ", tp.every(), "; must be >= 1"));
    }
    if (ctx.data->size() < 2) {
      problems.push_back(absl::StrCat("probe.two_point: the dataset has ", ctx.data->size(),
                                      " examples; the probe needs at least 2"));
    }
    const int num_hidden = ctx.net->num_hidden();
    std::vector<int> layers(tp.layers().begin(), tp.layers().end());
    if (layers.empty()) {
      for (int l = 0; l < num_hidden; ++l) layers.push_back(l);
    }
    for (int l : layers) {
      if (l < 0 || l >= num_hidden) {
        problems.push_back(absl::StrCat("probe.two_point.layers: layer ", l,
                                        " does not exist; the network has hidden layers 0..",
                                        num_hidden - 1));
      }
    }
    if (!problems.empty()) return absl::InvalidArgumentError(absl::StrJoin(problems, "\n"));
    std::sort(layers.begin(), layers.end());
    layers.erase(std::unique(layers.begin(), layers.end()), layers.end());
    return std::unique_ptr<Probe>(new TwoPointProbe(*ctx.data, std::move(layers), tp.every()));
  }

  bool ObservesStep(int64_t step, int64_t last_step) const override {
    return step % every_ == 0 || step == last_step;
  }

  absl::Status Observe(int64_t step, ProbeContext& ctx, CurveLog& log) override {
    ASSIGN_OR_RETURN(const Architecture* net, ctx.EvalForward(data_.x.data(), 2));
    for (int l : layers_) {
      const Tap tap = net->hidden(l);
      log.Add(step, l, "h", SquaredDistance(tap.data, tap.data + tap.dim, tap.dim));
    }
    const int out = net->output_dim();
    const float* yhat = net->output();
    const OutputMeasures m =
        MeasureOutputs(yhat, yhat + out, data_.y.row(0).data(), data_.y.row(1).data(), out);
    log.Add(step, -1, "y", m.y);
    log.Add(step, -1, "w", m.w);
    log.Add(step, -1, "ybar", m.ybar);
    log.Add(step, -1, "loss", m.loss);
    return absl::OkStatus();
  }

 private:
  TwoPointProbe(const Dataset& data, std::vector<int> layers, int every)
      : data_(data), layers_(std::move(layers)), every_(every) {}

  const Dataset& data_;
  std::vector<int> layers_;
  int every_;
};

}  // namespace

REGISTER_PROBE("two_point", TwoPointProbe::Create);

}  // namespace replearn
