// The "cnn1d" architecture: the paper's 1-D CNN (Cnn1dSpec in experiment.proto)
//
//   h_0 = f(W_0 x + b_0)                                  Linear(input_dim -> width)
//   h_1 = f(conv_1(h_0))                                  Conv1d(1 -> channels, kernel)
//   h_k = f(conv_k(h_{k-1}))  for k = 2 .. depth          Conv1d(channels -> channels, kernel)
//   h_{depth+1} = f(conv_{depth+1}(h_depth))              Conv1d(channels -> 1, kernel)
//   y = W_{depth+2} h_{depth+1} + b_{depth+2}             Linear(length -> output_dim)
//
// h_0 is read as a 1-channel sequence of length `width`. The convolutions have stride 1 and
// no padding, so after k of them the length is L_k = width - k (kernel - 1); the output
// layer sees L_{depth+1}. Taps: hidden(k) = h_k, dim width for k = 0 and
// out_channels * L_k (channel-major) for the convolutions. Parameters "W<l>", "b<l>" for
// l = 0 .. depth + 2 in forward order: dense weights [out, in] (nn.Linear), convolution
// weights [out_channels, in_channels, kernel] (nn.Conv1d). Initialisation: Xavier-normal
// with gain from Rng(Rng::DeriveSeed(seed, l)), PyTorch's fans for the convolutions
// (conv.h), biases 0. Backward: the dense layers use Dense::Backward (fused SGD when the
// optimiser is plain SGD), the convolutions oneDNN's backward primitives (conv.h).
//
// Example spec (the paper's CNN):
//   architecture { cnn1d { width: 500 channels: 20 kernel: 11 depth: 10 } }
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "architectures/aligned_buffer.h"
#include "architectures/architecture.h"
#include "architectures/conv.h"
#include "architectures/dense.h"
#include "architectures/nonlinearity.h"
#include "core/status_macros.h"
#include "glog/logging.h"

namespace replearn {
namespace {

// Parameters beyond this are a spec typo, not an experiment (8 GiB of float weights); the
// same bound applies to the activations of one example.
constexpr double kMaxParameters = 2147483648.0;

// Resolves a dimension that the spec may leave 0 ("from the dataset"); appends a problem
// to `problems` when the result is not >= 1.
int ResolveDim(const char* field, int spec_value, int context_value,
               std::vector<std::string>* problems) {
  if (spec_value < 0) {
    problems->push_back(absl::StrCat("architecture.cnn1d.", field, " = ", spec_value,
                                     "; must be >= 1 (or 0 to take it from the dataset)"));
    return 0;
  }
  const int value = spec_value != 0 ? spec_value : context_value;
  if (value < 1) {
    problems->push_back(absl::StrCat("architecture.cnn1d.", field, " = 0 and the dataset gives ",
                                     field, " = ", context_value, "; must be >= 1"));
  }
  return value;
}

class Cnn1d final : public Architecture {
 public:
  static absl::StatusOr<std::unique_ptr<Architecture>> Create(const ArchitectureSpec& spec,
                                                              const BuildContext& ctx) {
    const Cnn1dSpec& cnn = spec.cnn1d();
    std::vector<std::string> problems;
    const std::pair<const char*, int> sizes[] = {{"width", cnn.width()},
                                                 {"channels", cnn.channels()},
                                                 {"kernel", cnn.kernel()},
                                                 {"depth", cnn.depth()}};
    for (const auto& [field, value] : sizes) {
      if (value < 1) {
        problems.push_back(
            absl::StrCat("architecture.cnn1d.", field, " = ", value, "; must be >= 1"));
      }
    }
    if (!(cnn.gain() > 0) || !std::isfinite(cnn.gain())) {
      problems.push_back(
          absl::StrCat("architecture.cnn1d.gain = ", cnn.gain(), "; must be > 0 and finite"));
    }
    if (!Nonlinearity_IsValid(cnn.nonlinearity())) {
      problems.push_back(
          absl::StrCat("architecture.cnn1d.nonlinearity = ", static_cast<int>(cnn.nonlinearity()),
                       "; not a Nonlinearity value"));
    }
    const int input_dim = ResolveDim("input_dim", cnn.input_dim(), ctx.input_dim, &problems);
    const int output_dim = ResolveDim("output_dim", cnn.output_dim(), ctx.output_dim, &problems);
    // In int64: (depth + 1) * (kernel - 1) can exceed int32.
    const int64_t num_convs = int64_t{cnn.depth()} + 1;
    const int64_t final_length = cnn.width() - num_convs * (int64_t{cnn.kernel()} - 1);
    if (cnn.width() >= 1 && cnn.kernel() >= 1 && cnn.depth() >= 1 && final_length < 1) {
      problems.push_back(absl::StrCat("architecture.cnn1d.kernel = ", cnn.kernel(), " with depth ",
                                      cnn.depth(), " and width ", cnn.width(),
                                      " leaves a sequence of length ", final_length, " after the ",
                                      num_convs, " convolutions; must be >= 1"));
    }
    if (problems.empty()) {
      // In double: products of int32 fields overflow int64 long before this bound.
      const double width = cnn.width(), channels = cnn.channels(), kernel = cnn.kernel();
      const double count = (input_dim + 1.0) * width + (channels * kernel + channels) +
                           (cnn.depth() - 1.0) * (channels * channels * kernel + channels) +
                           (channels * kernel + 1) + (final_length + 1.0) * output_dim;
      if (count > kMaxParameters) {
        problems.push_back(absl::StrCat("architecture.cnn1d: width ", cnn.width(), ", channels ",
                                        cnn.channels(), ", kernel ", cnn.kernel(), " and depth ",
                                        cnn.depth(), " give ", count, " parameters; at most ",
                                        kMaxParameters, " are supported"));
      }
      const double activations = width + channels * width * num_convs;
      if (activations > kMaxParameters) {
        problems.push_back(absl::StrCat("architecture.cnn1d: width ", cnn.width(), ", channels ",
                                        cnn.channels(), " and depth ", cnn.depth(), " give ~",
                                        activations, " activations per example; at most ",
                                        kMaxParameters, " are supported"));
      }
    }
    if (!problems.empty()) return absl::InvalidArgumentError(absl::StrJoin(problems, ". "));

    const int depth = cnn.depth();
    Dense first(input_dim, cnn.width());
    first.InitXavierNormal(cnn.gain(), ctx.seed, 0);
    std::vector<Conv2d> convs;
    convs.reserve(depth + 1);
    int length = cnn.width();
    for (int k = 0; k <= depth; ++k) {
      Conv2dShape shape;
      shape.in_channels = k == 0 ? 1 : cnn.channels();
      shape.out_channels = k == depth ? 1 : cnn.channels();
      shape.height = 1;
      shape.width = length;
      shape.kernel_h = 1;
      shape.kernel_w = cnn.kernel();
      convs.emplace_back(shape);
      convs.back().InitXavierNormal(cnn.gain(), ctx.seed, k + 1);
      length = shape.out_width();
    }
    Dense last(length, output_dim);
    last.InitXavierNormal(cnn.gain(), ctx.seed, depth + 2);
    return std::unique_ptr<Architecture>(new Cnn1d(
        cnn.nonlinearity(), cnn.kernel(), std::move(first), std::move(convs), std::move(last)));
  }

  int input_dim() const override { return first_.in_dim(); }
  int output_dim() const override { return last_.out_dim(); }
  int num_hidden() const override { return static_cast<int>(convs_.size()) + 1; }

  absl::Status Forward(const float* x, int batch, bool /*train*/) override {
    if (batch < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("cnn1d Forward: batch = ", batch, "; must be >= 1"));
    }
    if (batch > capacity_) Grow(batch);
    batch_ = batch;
    forward_done_ = false;
    std::memcpy(input_.data(), x, sizeof(float) * batch * static_cast<size_t>(input_dim()));
    RETURN_IF_ERROR(first_.Forward(input_.data(), batch, pre_[0].data()));
    ApplyNonlinearity(nonlinearity_, pre_[0].data(), post_[0].data(),
                      int64_t{batch} * first_.out_dim());
    for (size_t k = 0; k < convs_.size(); ++k) {
      RETURN_IF_ERROR(convs_[k].Forward(post_[k].data(), batch, pre_[k + 1].data()));
      ApplyNonlinearity(nonlinearity_, pre_[k + 1].data(), post_[k + 1].data(),
                        batch * convs_[k].out_size());
    }
    RETURN_IF_ERROR(last_.Forward(post_.back().data(), batch, output_.data()));
    forward_done_ = true;
    return absl::OkStatus();
  }

  const float* output() const override { return batch_ == 0 ? nullptr : output_.data(); }

  Tap hidden(int layer) const override {
    CHECK(layer >= 0 && layer < num_hidden()) << "hidden layer " << layer << " of " << num_hidden();
    Tap tap;
    tap.name = absl::StrCat("hidden_", layer);
    tap.dim = static_cast<int>(layer == 0 ? first_.out_dim() : convs_[layer - 1].out_size());
    tap.data = batch_ == 0 ? nullptr : post_[layer].data();
    return tap;
  }

  absl::Status Backward(const float* d_output, Optimizer& optimizer) override {
    if (!forward_done_) {
      return absl::FailedPreconditionError(
          "cnn1d Backward: no Forward since construction or the last Backward");
    }
    // The stored activations belong to the parameters before this update.
    forward_done_ = false;
    const int n = static_cast<int>(convs_.size());
    // grad_[k % 2] holds dL/d(pre_[k]) while layer k + 1 runs its backward.
    RETURN_IF_ERROR(last_.Backward(post_[n].data(), d_output, batch_, grad_[n % 2].data(),
                                   nonlinearity_, pre_[n].data(), optimizer, 2 * (n + 1)));
    for (int k = n - 1; k >= 0; --k) {
      RETURN_IF_ERROR(convs_[k].Backward(post_[k].data(), grad_[(k + 1) % 2].data(), batch_,
                                         grad_[k % 2].data(), nonlinearity_, pre_[k].data(),
                                         optimizer, 2 * (k + 1)));
    }
    return first_.Backward(input_.data(), grad_[0].data(), batch_, nullptr, NONE, nullptr,
                           optimizer, 0);
  }

  std::vector<Parameter> parameters() override {
    std::vector<Parameter> params;
    params.reserve(2 * (convs_.size() + 2));
    params.push_back({"W0", {first_.out_dim(), first_.in_dim()}, first_.weights()});
    params.push_back({"b0", {first_.out_dim()}, first_.bias()});
    for (size_t k = 0; k < convs_.size(); ++k) {
      const Conv2dShape& s = convs_[k].shape();
      params.push_back({absl::StrCat("W", k + 1),
                        {s.out_channels, s.in_channels, kernel_},
                        convs_[k].weights()});
      params.push_back({absl::StrCat("b", k + 1), {s.out_channels}, convs_[k].bias()});
    }
    const size_t l = convs_.size() + 1;
    params.push_back({absl::StrCat("W", l), {last_.out_dim(), last_.in_dim()}, last_.weights()});
    params.push_back({absl::StrCat("b", l), {last_.out_dim()}, last_.bias()});
    return params;
  }

 private:
  Cnn1d(Nonlinearity nonlinearity, int kernel, Dense first, std::vector<Conv2d> convs, Dense last)
      : nonlinearity_(nonlinearity),
        kernel_(kernel),
        first_(std::move(first)),
        convs_(std::move(convs)),
        last_(std::move(last)),
        pre_(convs_.size() + 1),
        post_(convs_.size() + 1) {}

  // Buffers for `batch` rows. They only grow, so smaller batches reuse them and a fixed
  // (or alternating) batch size allocates nothing after its first step.
  void Grow(int batch) {
    capacity_ = batch;
    input_.Reset(int64_t{batch} * input_dim());
    int64_t widest = first_.out_dim();
    pre_[0].Reset(int64_t{batch} * first_.out_dim());
    post_[0].Reset(int64_t{batch} * first_.out_dim());
    for (size_t k = 0; k < convs_.size(); ++k) {
      pre_[k + 1].Reset(batch * convs_[k].out_size());
      post_[k + 1].Reset(batch * convs_[k].out_size());
      widest = std::max(widest, convs_[k].out_size());
    }
    output_.Reset(int64_t{batch} * output_dim());
    for (AlignedBuffer& g : grad_) g.Reset(batch * widest);
    first_.Reserve(batch);
    last_.Reserve(batch);
  }

  const Nonlinearity nonlinearity_;
  const int kernel_;
  Dense first_;
  std::vector<Conv2d> convs_;  // depth + 1 convolutions
  Dense last_;
  int batch_ = 0;     // of the last Forward
  int capacity_ = 0;  // rows the buffers hold
  bool forward_done_ = false;
  AlignedBuffer input_;              // the last Forward's x, [batch, input_dim]
  std::vector<AlignedBuffer> pre_;   // pre-activations: first Linear, then each convolution
  std::vector<AlignedBuffer> post_;  // h_k = f(pre_[k]), the taps
  AlignedBuffer output_;             // [batch, output_dim]
  AlignedBuffer grad_[2];            // dL/d(pre-activation), ping-pong
};

}  // namespace

REGISTER_ARCHITECTURE("cnn1d", Cnn1d::Create);

}  // namespace replearn
