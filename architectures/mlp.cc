// The "mlp" architecture: a fully connected network
//
//   h_0 = f(W_0 x + b_0),  h_k = f(W_k h_{k-1} + b_k) for k = 1 .. depth - 1,
//   y = W_depth h_{depth-1} + b_depth                     (no nonlinearity on the output)
//
// with W_0 [width, input_dim], W_k [width, width], W_depth [output_dim, width]. Taps:
// hidden(k) = h_k. Initialisation: Xavier-normal with gain, W_l ~ N(0, gain^2 * 2 /
// (fan_in + fan_out)) from Rng(Rng::DeriveSeed(seed, l)), biases 0. Training: BackwardSgd
// runs each layer's fused backward + SGD kernel (dense.h) from the output down; the
// derivative f'(pre-activation) is applied inside that kernel's final pass over dx.
//
// Example spec (the paper's default network):
//   architecture { mlp { depth: 20 width: 500 nonlinearity: LEAKY_RELU gain: 1.0 } }
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "architectures/aligned_buffer.h"
#include "architectures/architecture.h"
#include "architectures/dense.h"
#include "architectures/nonlinearity.h"
#include "core/status_macros.h"
#include "glog/logging.h"

namespace replearn {
namespace {

// Parameters beyond this are a spec typo, not an experiment (8 GiB of float weights).
constexpr double kMaxParameters = 2147483648.0;

// Resolves a dimension that the spec may leave 0 ("from the dataset"); appends a problem
// to `problems` when the result is not >= 1.
int ResolveDim(const char* field, int spec_value, int context_value,
               std::vector<std::string>* problems) {
  if (spec_value < 0) {
    problems->push_back(absl::StrCat("architecture.mlp.", field, " = ", spec_value,
                                     "; must be >= 1 (or 0 to take it from the dataset)"));
    return 0;
  }
  const int value = spec_value != 0 ? spec_value : context_value;
  if (value < 1) {
    problems->push_back(absl::StrCat("architecture.mlp.", field, " = 0 and the dataset gives ",
                                     field, " = ", context_value, "; must be >= 1"));
  }
  return value;
}

class Mlp final : public Architecture {
 public:
  static absl::StatusOr<std::unique_ptr<Architecture>> Create(const ArchitectureSpec& spec,
                                                              const BuildContext& ctx) {
    const MlpSpec& mlp = spec.mlp();
    std::vector<std::string> problems;
    if (mlp.depth() < 1) {
      problems.push_back(absl::StrCat("architecture.mlp.depth = ", mlp.depth(), "; must be >= 1"));
    }
    if (mlp.width() < 1) {
      problems.push_back(absl::StrCat("architecture.mlp.width = ", mlp.width(), "; must be >= 1"));
    }
    if (!(mlp.gain() > 0) || !std::isfinite(mlp.gain())) {
      problems.push_back(
          absl::StrCat("architecture.mlp.gain = ", mlp.gain(), "; must be > 0 and finite"));
    }
    if (!Nonlinearity_IsValid(mlp.nonlinearity())) {
      problems.push_back(
          absl::StrCat("architecture.mlp.nonlinearity = ", static_cast<int>(mlp.nonlinearity()),
                       "; not a Nonlinearity value"));
    }
    const int input_dim = ResolveDim("input_dim", mlp.input_dim(), ctx.input_dim, &problems);
    const int output_dim = ResolveDim("output_dim", mlp.output_dim(), ctx.output_dim, &problems);
    if (problems.empty()) {
      // In double: the product of two int32 fields times a third can overflow int64.
      const double width = mlp.width();
      const double count = (input_dim + 1.0) * width + (mlp.depth() - 1.0) * (width + 1) * width +
                           (width + 1) * output_dim;
      if (count > kMaxParameters) {
        problems.push_back(absl::StrCat("architecture.mlp: depth ", mlp.depth(), " and width ",
                                        mlp.width(), " give ", count, " parameters; at most ",
                                        kMaxParameters, " are supported"));
      }
    }
    if (!problems.empty()) return absl::InvalidArgumentError(absl::StrJoin(problems, ". "));

    std::vector<Dense> layers;
    layers.reserve(mlp.depth() + 1);
    for (int l = 0; l <= mlp.depth(); ++l) {
      const int in = l == 0 ? input_dim : mlp.width();
      const int out = l == mlp.depth() ? output_dim : mlp.width();
      layers.emplace_back(in, out);
      layers.back().InitXavierNormal(mlp.gain(), ctx.seed, l);
    }
    return std::unique_ptr<Architecture>(
        new Mlp(mlp.depth(), mlp.nonlinearity(), std::move(layers)));
  }

  int input_dim() const override { return layers_.front().in_dim(); }
  int output_dim() const override { return layers_.back().out_dim(); }
  int num_hidden() const override { return depth_; }

  absl::Status Forward(const float* x, int batch, bool /*train*/) override {
    if (batch < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("mlp Forward: batch = ", batch, "; must be >= 1"));
    }
    if (batch != batch_) Resize(batch);
    std::memcpy(input_.data(), x, sizeof(float) * batch * input_dim());
    for (int l = 0; l <= depth_; ++l) {
      const float* in = l == 0 ? input_.data() : post_[l - 1].data();
      RETURN_IF_ERROR(layers_[l].Forward(in, batch, pre_[l].data()));
      if (l < depth_) {
        ApplyNonlinearity(nonlinearity_, pre_[l].data(), post_[l].data(),
                          int64_t{batch} * layers_[l].out_dim());
      }
    }
    forward_done_ = true;
    return absl::OkStatus();
  }

  const float* output() const override { return batch_ == 0 ? nullptr : pre_.back().data(); }

  Tap hidden(int layer) const override {
    CHECK(layer >= 0 && layer < depth_) << "hidden layer " << layer << " of " << depth_;
    Tap tap;
    tap.name = absl::StrCat("hidden_", layer);
    tap.dim = layers_[layer].out_dim();
    tap.data = batch_ == 0 ? nullptr : post_[layer].data();
    return tap;
  }

  absl::Status BackwardSgd(const float* d_output, float learning_rate) override {
    if (!forward_done_) {
      return absl::FailedPreconditionError(
          "mlp BackwardSgd: no Forward since construction or the last BackwardSgd");
    }
    const float* dy = d_output;
    for (int l = depth_; l >= 0; --l) {
      const float* in = l == 0 ? input_.data() : post_[l - 1].data();
      float* dx = l == 0 ? nullptr : grad_[l % 2].data();
      const float* preactivation = l == 0 ? nullptr : pre_[l - 1].data();
      RETURN_IF_ERROR(
          layers_[l].BackwardSgd(in, dy, batch_, learning_rate, dx, nonlinearity_, preactivation));
      dy = dx;
    }
    // The stored activations belong to the parameters before this update.
    forward_done_ = false;
    return absl::OkStatus();
  }

  std::vector<Parameter> parameters() override {
    std::vector<Parameter> params;
    params.reserve(2 * layers_.size());
    for (size_t l = 0; l < layers_.size(); ++l) {
      Dense& layer = layers_[l];
      params.push_back({absl::StrCat("W", l), {layer.out_dim(), layer.in_dim()}, layer.weights()});
      params.push_back({absl::StrCat("b", l), {layer.out_dim()}, layer.bias()});
    }
    return params;
  }

 private:
  Mlp(int depth, Nonlinearity nonlinearity, std::vector<Dense> layers)
      : depth_(depth),
        nonlinearity_(nonlinearity),
        layers_(std::move(layers)),
        pre_(layers_.size()),
        post_(depth) {}

  // Buffers for a new batch size: the only allocations, so a fixed batch allocates once.
  void Resize(int batch) {
    batch_ = batch;
    input_.Reset(int64_t{batch} * input_dim());
    for (size_t l = 0; l < layers_.size(); ++l) {
      pre_[l].Reset(int64_t{batch} * layers_[l].out_dim());
      layers_[l].Reserve(batch);
    }
    for (int l = 0; l < depth_; ++l) post_[l].Reset(int64_t{batch} * layers_[l].out_dim());
    for (AlignedBuffer& g : grad_) g.Reset(int64_t{batch} * layers_.front().out_dim());
  }

  const int depth_;
  const Nonlinearity nonlinearity_;
  std::vector<Dense> layers_;  // depth_ hidden layers, then the output layer
  int batch_ = 0;
  bool forward_done_ = false;
  AlignedBuffer input_;              // the last Forward's x, [batch, input_dim]
  std::vector<AlignedBuffer> pre_;   // pre-activations per layer; pre_.back() is the output
  std::vector<AlignedBuffer> post_;  // h_k = f(pre_[k]) per hidden layer
  AlignedBuffer grad_[2];            // dL/d(pre-activation) of hidden layers, ping-pong
};

}  // namespace

REGISTER_ARCHITECTURE("mlp", Mlp::Create);

}  // namespace replearn
