// The "mlp" architecture (and the network behind "resnet", resnet.cc): a fully connected
// network
//
//   h_0 = f(W_0 x + b_0),  h_k = f(W_k h_{k-1} + b_k) [+ h_{k-2}] for k = 1 .. depth - 1,
//   y = W_depth h_{depth-1} + b_depth                     (no nonlinearity on the output)
//
// with W_0 [width, input_dim], W_k [width, width], W_depth [output_dim, width]. The term
// h_{k-2} is added for k >= 2 in "resnet" only (the paper's skip from two layers back, after
// the activation). Taps: hidden(k) = h_k. Initialisation: Xavier-normal with gain,
// W_l ~ N(0, gain^2 * 2 / (fan_in + fan_out)) from Rng(Rng::DeriveSeed(seed, l)), biases 0.
//
// Dropout (mlp.dropout = p > 0): in training forwards, the input of every dense layer is
// multiplied by a fresh mask of 0 (probability p) and 1 / (1 - p), drawn from
// Rng(DeriveSeed(seed, kDropoutStream)) in forward order; eval forwards use no mask.
//
// Training: without skip or dropout, Backward runs each layer's fused backward + SGD kernel
// (dense.h) from the output down, applying f'(pre-activation) inside the kernel. Otherwise
// (and for optimisers other than SGD) the layer returns dL/d(its input), which is multiplied
// by the layer's dropout mask, gets the skip gradient dL/dh_{k+2} added, and is then
// multiplied by f'(pre-activation).
//
// Example specs:
//   architecture { mlp { depth: 20 width: 500 nonlinearity: LEAKY_RELU gain: 1.0 } }
//   architecture { resnet { depth: 20 width: 500 gain: 0.1 } }
//   architecture { mlp { depth: 10 width: 500 dropout: 0.1 } }
#include "architectures/mlp.h"

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
#include "core/rng.h"
#include "core/status_macros.h"
#include "glog/logging.h"

namespace replearn {
namespace {

// Parameters beyond this are a spec typo, not an experiment (8 GiB of float weights).
constexpr double kMaxParameters = 2147483648.0;
// Rng stream of the dropout masks (layer initialisations use streams 0 .. depth).
constexpr uint64_t kDropoutStream = uint64_t{1} << 32;

// Resolves a dimension that the spec may leave 0 ("from the dataset"); appends a problem
// to `problems` when the result is not >= 1.
int ResolveDim(const std::string& prefix, const char* field, int spec_value, int context_value,
               std::vector<std::string>* problems) {
  if (spec_value < 0) {
    problems->push_back(absl::StrCat(prefix, ".", field, " = ", spec_value,
                                     "; must be >= 1 (or 0 to take it from the dataset)"));
    return 0;
  }
  const int value = spec_value != 0 ? spec_value : context_value;
  if (value < 1) {
    problems->push_back(absl::StrCat(prefix, ".", field, " = 0 and the dataset gives ", field,
                                     " = ", context_value, "; must be >= 1"));
  }
  return value;
}

class Mlp final : public Architecture {
 public:
  static absl::StatusOr<std::unique_ptr<Architecture>> Create(MlpOptions o,
                                                              const BuildContext& ctx) {
    const std::string& f = o.field;
    std::vector<std::string> problems;
    if (o.depth < 1) problems.push_back(absl::StrCat(f, ".depth = ", o.depth, "; must be >= 1"));
    if (o.width < 1) problems.push_back(absl::StrCat(f, ".width = ", o.width, "; must be >= 1"));
    if (!(o.gain > 0) || !std::isfinite(o.gain)) {
      problems.push_back(absl::StrCat(f, ".gain = ", o.gain, "; must be > 0 and finite"));
    }
    if (!Nonlinearity_IsValid(o.nonlinearity)) {
      problems.push_back(absl::StrCat(f, ".nonlinearity = ", static_cast<int>(o.nonlinearity),
                                      "; not a Nonlinearity value"));
    }
    if (!(o.dropout >= 0 && o.dropout < 1)) {
      problems.push_back(absl::StrCat(f, ".dropout = ", o.dropout, "; must be in [0, 1)"));
    }
    o.input_dim = ResolveDim(f, "input_dim", o.input_dim, ctx.input_dim, &problems);
    o.output_dim = ResolveDim(f, "output_dim", o.output_dim, ctx.output_dim, &problems);
    if (problems.empty()) {
      // In double: the product of two int32 fields times a third can overflow int64.
      const double width = o.width;
      const double count = (o.input_dim + 1.0) * width + (o.depth - 1.0) * (width + 1) * width +
                           (width + 1) * o.output_dim;
      if (count > kMaxParameters) {
        problems.push_back(absl::StrCat(f, ": depth ", o.depth, " and width ", o.width, " give ",
                                        count, " parameters; at most ", kMaxParameters,
                                        " are supported"));
      }
    }
    if (!problems.empty()) return absl::InvalidArgumentError(absl::StrJoin(problems, ". "));

    std::vector<Dense> layers;
    layers.reserve(o.depth + 1);
    for (int l = 0; l <= o.depth; ++l) {
      const int in = l == 0 ? o.input_dim : o.width;
      const int out = l == o.depth ? o.output_dim : o.width;
      layers.emplace_back(in, out);
      layers.back().InitXavierNormal(o.gain, ctx.seed, l);
    }
    return std::unique_ptr<Architecture>(new Mlp(o, ctx.seed, std::move(layers)));
  }

  int input_dim() const override { return layers_.front().in_dim(); }
  int output_dim() const override { return layers_.back().out_dim(); }
  int num_hidden() const override { return depth_; }
  bool has_train_only_behaviour() const override { return dropout_ > 0; }

  absl::Status Forward(const float* x, int batch, bool train) override {
    if (batch < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("mlp Forward: batch = ", batch, "; must be >= 1"));
    }
    if (batch != batch_) Resize(batch);
    std::memcpy(input_.data(), x, sizeof(float) * batch * input_dim());
    masked_ = train && dropout_ > 0;
    for (int l = 0; l <= depth_; ++l) {
      const float* in = LayerInput(l);
      if (masked_) {
        const int64_t n = int64_t{batch} * layers_[l].in_dim();
        float* mask = mask_[l].data();
        float* dropped = dropped_[l].data();
        for (int64_t i = 0; i < n; ++i) {
          mask[i] = dropout_rng_.Uniform() < dropout_ ? 0.0f : dropout_scale_;
          dropped[i] = in[i] * mask[i];
        }
        in = dropped;
      }
      RETURN_IF_ERROR(layers_[l].Forward(in, batch, pre_[l].data()));
      if (l < depth_) {
        const int64_t n = int64_t{batch} * layers_[l].out_dim();
        float* h = post_[l].data();
        ApplyNonlinearity(nonlinearity_, pre_[l].data(), h, n);
        if (skip_ && l >= 2) {
          const float* h2 = post_[l - 2].data();
          for (int64_t i = 0; i < n; ++i) h[i] += h2[i];
        }
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

  absl::Status Backward(const float* d_output, Optimizer& optimizer) override {
    if (!forward_done_) {
      return absl::FailedPreconditionError(
          "mlp Backward: no Forward since construction or the last Backward");
    }
    // The stored activations belong to the parameters before this update.
    forward_done_ = false;
    if (!skip_ && !masked_) {
      // The fast path: f'(pre-activation) is applied inside each layer's kernel.
      const float* dy = d_output;
      for (int l = depth_; l >= 0; --l) {
        float* dx = l == 0 ? nullptr : dz_[l % 2].data();
        const float* preactivation = l == 0 ? nullptr : pre_[l - 1].data();
        RETURN_IF_ERROR(layers_[l].Backward(LayerInput(l), dy, batch_, dx, nonlinearity_,
                                            preactivation, optimizer, 2 * l));
        dy = dx;
      }
      return absl::OkStatus();
    }
    const float* dy = d_output;
    for (int l = depth_; l >= 0; --l) {
      const float* in = masked_ ? dropped_[l].data() : LayerInput(l);
      if (l == 0) {
        return layers_[0].Backward(in, dy, batch_, nullptr, NONE, nullptr, optimizer, 0);
      }
      // dh = dL/dh_{l-1}: through layer l, its dropout mask, and the skip to h_{l+1}.
      const int k = l - 1;
      float* dh = dh_[k].data();
      RETURN_IF_ERROR(layers_[l].Backward(in, dy, batch_, dh, NONE, nullptr, optimizer, 2 * l));
      const int64_t n = int64_t{batch_} * layers_[k].out_dim();
      if (masked_) {
        const float* mask = mask_[l].data();
        for (int64_t i = 0; i < n; ++i) dh[i] *= mask[i];
      }
      if (skip_ && k + 2 < depth_) {
        const float* dh2 = dh_[k + 2].data();
        for (int64_t i = 0; i < n; ++i) dh[i] += dh2[i];
      }
      float* dz = dz_[l % 2].data();
      std::memcpy(dz, dh, sizeof(float) * n);
      MultiplyByNonlinearityDerivative(nonlinearity_, pre_[k].data(), dz, n);
      dy = dz;
    }
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
  Mlp(const MlpOptions& o, uint64_t seed, std::vector<Dense> layers)
      : depth_(o.depth),
        nonlinearity_(o.nonlinearity),
        skip_(o.skip),
        dropout_(static_cast<float>(o.dropout)),
        dropout_scale_(static_cast<float>(1.0 / (1.0 - o.dropout))),
        dropout_rng_(Rng::DeriveSeed(seed, kDropoutStream)),
        layers_(std::move(layers)),
        pre_(layers_.size()),
        post_(depth_) {}

  // The (unmasked) input of dense layer l in the last Forward.
  const float* LayerInput(int l) const { return l == 0 ? input_.data() : post_[l - 1].data(); }

  // Buffers for a new batch size: the only allocations, so a fixed batch allocates once.
  void Resize(int batch) {
    batch_ = batch;
    input_.Reset(int64_t{batch} * input_dim());
    for (size_t l = 0; l < layers_.size(); ++l) {
      pre_[l].Reset(int64_t{batch} * layers_[l].out_dim());
      layers_[l].Reserve(batch);
    }
    for (int l = 0; l < depth_; ++l) post_[l].Reset(int64_t{batch} * layers_[l].out_dim());
    for (AlignedBuffer& g : dz_) g.Reset(int64_t{batch} * layers_.front().out_dim());
    if (skip_ || dropout_ > 0) {
      dh_.resize(depth_);
      for (int l = 0; l < depth_; ++l) dh_[l].Reset(int64_t{batch} * layers_[l].out_dim());
    }
    if (dropout_ > 0) {
      mask_.resize(layers_.size());
      dropped_.resize(layers_.size());
      for (size_t l = 0; l < layers_.size(); ++l) {
        mask_[l].Reset(int64_t{batch} * layers_[l].in_dim());
        dropped_[l].Reset(int64_t{batch} * layers_[l].in_dim());
      }
    }
  }

  const int depth_;
  const Nonlinearity nonlinearity_;
  const bool skip_;
  const float dropout_;
  const float dropout_scale_;
  Rng dropout_rng_;
  std::vector<Dense> layers_;  // depth_ hidden layers, then the output layer
  int batch_ = 0;
  bool forward_done_ = false;
  bool masked_ = false;                 // the last Forward applied dropout masks
  AlignedBuffer input_;                 // the last Forward's x, [batch, input_dim]
  std::vector<AlignedBuffer> pre_;      // pre-activations per layer; pre_.back() is the output
  std::vector<AlignedBuffer> post_;     // h_k per hidden layer
  AlignedBuffer dz_[2];                 // dL/d(pre-activation) of hidden layers, ping-pong
  std::vector<AlignedBuffer> dh_;       // dL/dh_k per hidden layer (skip or dropout only)
  std::vector<AlignedBuffer> mask_;     // dropout mask of each dense layer's input
  std::vector<AlignedBuffer> dropped_;  // masked input of each dense layer
};

absl::StatusOr<std::unique_ptr<Architecture>> CreateMlp(const ArchitectureSpec& spec,
                                                        const BuildContext& ctx) {
  MlpOptions o = CommonMlpOptions(spec.mlp(), "architecture.mlp");
  o.dropout = spec.mlp().dropout();
  return BuildMlp(o, ctx);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Architecture>> BuildMlp(const MlpOptions& options,
                                                       const BuildContext& ctx) {
  return Mlp::Create(options, ctx);
}

REGISTER_ARCHITECTURE("mlp", CreateMlp);

}  // namespace replearn
