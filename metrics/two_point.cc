// The two_point probe: h for every listed hidden layer, y, w, ybar and loss for two
// training examples (docs/theory.md section 1; formulas in two_point_measures.h).
// Example specs:
//   probe { two_point { layers: [10] every: 1 } }   # empty layers = every hidden layer
//   probe { two_point { layers: [2] every: 100 class_a: 0 class_b: 1 } }   # MNIST 0 vs 1
#include "metrics/two_point.h"

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

// Index of the first training example labelled `label`, or -1.
int FirstOfClass(const Dataset& data, int label) {
  for (size_t i = 0; i < data.labels.size(); ++i) {
    if (data.labels[i] == label) return static_cast<int>(i);
  }
  return -1;
}

class TwoPointProbe final : public Probe {
 public:
  static absl::StatusOr<std::unique_ptr<Probe>> Create(const ProbeSpec& spec,
                                                       const ProbeBuildContext& ctx) {
    const TwoPointProbeSpec& tp = spec.two_point();
    std::vector<std::string> problems;
    if (tp.every() < 1) {
      problems.push_back(absl::StrCat("probe.two_point.every = ", tp.every(), "; must be >= 1"));
    }
    const auto examples = TwoPointExamples(tp, *ctx.data);
    if (!examples.ok()) problems.emplace_back(examples.status().message());
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
    return std::unique_ptr<Probe>(
        new TwoPointProbe(*ctx.data, *examples, std::move(layers), tp.every()));
  }

  bool ObservesStep(int64_t step, int64_t last_step) const override {
    return step % every_ == 0 || step == last_step;
  }

  absl::Status Observe(int64_t step, ProbeContext& ctx, CurveLog& log) override {
    ASSIGN_OR_RETURN(const Architecture* net, ctx.EvalForward(x_.data(), 2));
    for (int l : layers_) {
      const Tap tap = net->hidden(l);
      log.Add(step, l, "h", SquaredDistance(tap.data, tap.data + tap.dim, tap.dim));
    }
    const int out = net->output_dim();
    const float* yhat = net->output();
    const OutputMeasures m =
        MeasureOutputs(yhat, yhat + out, y_.row(0).data(), y_.row(1).data(), out);
    log.Add(step, -1, "y", m.y);
    log.Add(step, -1, "w", m.w);
    log.Add(step, -1, "ybar", m.ybar);
    log.Add(step, -1, "loss", m.loss);
    return absl::OkStatus();
  }

 private:
  TwoPointProbe(const Dataset& data, std::pair<int, int> examples, std::vector<int> layers,
                int every)
      : x_(2, data.input_dim()),
        y_(2, data.output_dim()),
        layers_(std::move(layers)),
        every_(every) {
    x_.row(0) = data.x.row(examples.first);
    x_.row(1) = data.x.row(examples.second);
    y_.row(0) = data.y.row(examples.first);
    y_.row(1) = data.y.row(examples.second);
  }

  // The two examples' inputs and targets, contiguous. When they are the training set's
  // first two rows of a two-example set, the trainer still reuses its own forward only if
  // it trains on exactly this buffer, which it does not; the eval forward is then one
  // extra batch-2 pass per observed step.
  MatrixRM x_, y_;
  std::vector<int> layers_;
  int every_;
};

}  // namespace

absl::StatusOr<std::pair<int, int>> TwoPointExamples(const TwoPointProbeSpec& spec,
                                                     const Dataset& data) {
  std::vector<std::string> problems;
  int picked[2];
  const int n = data.size();
  const struct {
    const char* index_field;
    int index;
    const char* class_field;
    int label;
  } which[2] = {{"index_a", spec.index_a(), "class_a", spec.class_a()},
                {"index_b", spec.index_b(), "class_b", spec.class_b()}};
  for (int k = 0; k < 2; ++k) {
    picked[k] = which[k].index;
    if (which[k].label >= 0) {
      if (data.labels.empty()) {
        problems.push_back(absl::StrCat("probe.two_point.", which[k].class_field, " = ",
                                        which[k].label,
                                        ": the dataset has no class labels; use index_a/index_b"));
        continue;
      }
      picked[k] = FirstOfClass(data, which[k].label);
      if (picked[k] < 0) {
        problems.push_back(absl::StrCat("probe.two_point.", which[k].class_field, " = ",
                                        which[k].label, ": no training example has this label"));
      }
    } else if (picked[k] < 0 || picked[k] >= n) {
      problems.push_back(absl::StrCat("probe.two_point.", which[k].index_field, " = ", picked[k],
                                      "; the training set has examples 0..", n - 1));
    }
  }
  if (problems.empty() && picked[0] == picked[1]) {
    problems.push_back(absl::StrCat("probe.two_point: both examples are training example ",
                                    picked[0], "; the probe needs two different examples"));
  }
  if (!problems.empty()) return absl::InvalidArgumentError(absl::StrJoin(problems, "\n"));
  return std::make_pair(picked[0], picked[1]);
}

REGISTER_PROBE("two_point", TwoPointProbe::Create);

}  // namespace replearn
