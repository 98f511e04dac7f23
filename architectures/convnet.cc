// The "convnet" architecture: a 2-D image CNN (ConvNetSpec in experiment.proto)
//
//   a_0 = x, read as an image [input_channels, height, width] (channel-major)
//   block i = 0 .. B - 1:   a_{i+1} = pool(f(conv_i(a_i)))   Conv2d 3 x 3, stride 1, pad 1
//   dense j = 0 .. D - 1:   d_j = f(V_j d_{j-1} + c_j)        d_{-1} = a_B flattened
//   y = V_D d_{D-1} + c_D                                    (no nonlinearity on the output)
//
// with B = channels_size() (default [16, 32]) and D = dense_widths_size() (default [128]).
// pool is 2 x 2 max or average pooling with stride 2 (odd sides floored, as PyTorch), or
// the identity for NO_POOLING; the 3 x 3 convolutions keep the spatial size. Taps:
// hidden(i) = a_{i+1} for the blocks (dim channels x H x W after pooling, channel-major),
// then hidden(B + j) = d_j. Parameters "W<l>", "b<l>" in forward order: conv weights
// [out, in, 3, 3] (nn.Conv2d), dense weights [out, in] (nn.Linear). Initialisation:
// Xavier-normal with gain from Rng(Rng::DeriveSeed(seed, l)) for layer l in forward order,
// PyTorch's fans for the convolutions (conv.h), biases 0.
//
// Example spec (MNIST-sized input):
//   architecture { convnet { input_channels: 1 height: 28 width: 28 channels: [16, 32]
//                            pooling: MAX_POOLING dense_widths: [128] } }
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
constexpr int kKernel = 3;
constexpr int kPadding = 1;

class ConvNet final : public Architecture {
 public:
  static absl::StatusOr<std::unique_ptr<Architecture>> Create(const ArchitectureSpec& spec,
                                                              const BuildContext& ctx) {
    const ConvNetSpec& net = spec.convnet();
    std::vector<int> channels(net.channels().begin(), net.channels().end());
    if (channels.empty()) channels = {16, 32};
    std::vector<int> dense_widths(net.dense_widths().begin(), net.dense_widths().end());
    if (dense_widths.empty()) dense_widths = {128};

    std::vector<std::string> problems;
    const std::pair<const char*, int> sizes[] = {
        {"input_channels", net.input_channels()}, {"height", net.height()}, {"width", net.width()}};
    bool sizes_ok = true;
    for (const auto& [field, value] : sizes) {
      if (value < 1) {
        problems.push_back(
            absl::StrCat("architecture.convnet.", field, " = ", value, "; must be >= 1"));
        sizes_ok = false;
      }
    }
    for (int i = 0; i < net.channels_size(); ++i) {
      if (net.channels(i) < 1) {
        problems.push_back(absl::StrCat("architecture.convnet.channels[", i,
                                        "] = ", net.channels(i), "; must be >= 1"));
        sizes_ok = false;
      }
    }
    for (int j = 0; j < net.dense_widths_size(); ++j) {
      if (net.dense_widths(j) < 1) {
        problems.push_back(absl::StrCat("architecture.convnet.dense_widths[", j,
                                        "] = ", net.dense_widths(j), "; must be >= 1"));
        sizes_ok = false;
      }
    }
    if (!Pooling_IsValid(net.pooling())) {
      problems.push_back(absl::StrCat("architecture.convnet.pooling = ",
                                      static_cast<int>(net.pooling()), "; not a Pooling value"));
    }
    if (!(net.gain() > 0) || !std::isfinite(net.gain())) {
      problems.push_back(
          absl::StrCat("architecture.convnet.gain = ", net.gain(), "; must be > 0 and finite"));
    }
    if (!Nonlinearity_IsValid(net.nonlinearity())) {
      problems.push_back(
          absl::StrCat("architecture.convnet.nonlinearity = ", static_cast<int>(net.nonlinearity()),
                       "; not a Nonlinearity value"));
    }
    int output_dim = net.output_dim();
    if (output_dim < 0) {
      problems.push_back(absl::StrCat("architecture.convnet.output_dim = ", output_dim,
                                      "; must be >= 1 (or 0 to take it from the dataset)"));
    } else if (output_dim == 0) {
      output_dim = ctx.output_dim;
      if (output_dim < 1) {
        problems.push_back(absl::StrCat(
            "architecture.convnet.output_dim = 0 and the dataset gives output_dim = ", output_dim,
            "; must be >= 1"));
      }
    }
    const int64_t image_size = int64_t{net.input_channels()} * net.height() * net.width();
    if (sizes_ok && image_size != ctx.input_dim) {
      problems.push_back(absl::StrCat(
          "architecture.convnet: input_channels * height * width = ", net.input_channels(), " * ",
          net.height(), " * ", net.width(), " = ", image_size,
          ", but the dataset's input_dim = ", ctx.input_dim, "; they must be equal"));
    }
    const bool pooling = net.pooling() != NO_POOLING;
    if (sizes_ok && pooling && Pooling_IsValid(net.pooling())) {
      int h = net.height(), w = net.width();
      for (size_t i = 0; i < channels.size(); ++i) {
        if (h < 2 || w < 2) {
          problems.push_back(absl::StrCat(
              "architecture.convnet.pooling = ", Pooling_Name(net.pooling()), ": block ", i,
              " would pool its ", h, " x ", w, " output to ", h / 2, " x ", w / 2, " (input ",
              net.height(), " x ", net.width(), ", ", channels.size(),
              " blocks); every side must stay >= 1 (use fewer blocks, a larger input or "
              "NO_POOLING)"));
          break;
        }
        h /= 2;
        w /= 2;
      }
    }
    if (problems.empty()) {
      // In double: products of int32 fields can overflow int64.
      double count = 0, activations = 0;
      double in_c = net.input_channels(), h = net.height(), w = net.width();
      for (int c : channels) {
        count += (in_c * kKernel * kKernel + 1) * c;
        activations += 2.0 * c * h * w;
        if (pooling) h = std::floor(h / 2), w = std::floor(w / 2);
        activations += c * h * w;
        in_c = c;
      }
      double in = in_c * h * w;
      for (int d : dense_widths) {
        count += (in + 1) * d;
        activations += 2.0 * d;
        in = d;
      }
      count += (in + 1) * output_dim;
      if (count > kMaxParameters) {
        problems.push_back(absl::StrCat("architecture.convnet: channels [",
                                        absl::StrJoin(channels, ", "), "] and dense_widths [",
                                        absl::StrJoin(dense_widths, ", "), "] give ", count,
                                        " parameters; at most ", kMaxParameters, " are supported"));
      }
      if (activations > kMaxParameters) {
        problems.push_back(
            absl::StrCat("architecture.convnet: an image of ", net.height(), " x ", net.width(),
                         " and channels [", absl::StrJoin(channels, ", "), "] give ", activations,
                         " activations per example; at most ", kMaxParameters, " are supported"));
      }
    }
    if (!problems.empty()) return absl::InvalidArgumentError(absl::StrJoin(problems, ". "));

    const PoolKind kind = net.pooling() == AVERAGE_POOLING ? PoolKind::kAverage : PoolKind::kMax;
    std::vector<Conv2d> convs;
    std::vector<Pool2d> pools;
    convs.reserve(channels.size());
    int in_c = net.input_channels(), h = net.height(), w = net.width();
    uint64_t layer = 0;
    for (int c : channels) {
      convs.emplace_back(Conv2dShape{in_c, c, h, w, kKernel, kKernel, kPadding, kPadding});
      convs.back().InitXavierNormal(net.gain(), ctx.seed, layer++);
      if (pooling) {
        pools.emplace_back(kind, c, h, w);
        h /= 2;
        w /= 2;
      }
      in_c = c;
    }
    std::vector<Dense> dense;
    dense.reserve(dense_widths.size() + 1);
    int in = in_c * h * w;
    for (size_t j = 0; j <= dense_widths.size(); ++j) {
      const int out = j < dense_widths.size() ? dense_widths[j] : output_dim;
      dense.emplace_back(in, out);
      dense.back().InitXavierNormal(net.gain(), ctx.seed, layer++);
      in = out;
    }
    return std::unique_ptr<Architecture>(new ConvNet(static_cast<int>(image_size),
                                                     net.nonlinearity(), std::move(convs),
                                                     std::move(pools), std::move(dense)));
  }

  int input_dim() const override { return input_dim_; }
  int output_dim() const override { return dense_.back().out_dim(); }
  int num_hidden() const override { return static_cast<int>(convs_.size() + dense_.size()) - 1; }

  absl::Status Forward(const float* x, int batch, bool /*train*/) override {
    if (batch < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("convnet Forward: batch = ", batch, "; must be >= 1"));
    }
    if (batch > capacity_) Grow(batch);
    batch_ = batch;
    forward_done_ = false;
    std::memcpy(input_.data(), x, sizeof(float) * batch * static_cast<size_t>(input_dim_));
    for (size_t i = 0; i < convs_.size(); ++i) {
      const float* in = i == 0 ? input_.data() : BlockOutput(i - 1);
      RETURN_IF_ERROR(convs_[i].Forward(in, batch, conv_pre_[i].data()));
      ApplyNonlinearity(nonlinearity_, conv_pre_[i].data(), conv_post_[i].data(),
                        batch * convs_[i].out_size());
      if (!pools_.empty()) {
        RETURN_IF_ERROR(pools_[i].Forward(conv_post_[i].data(), batch, pooled_[i].data()));
      }
    }
    const size_t num_dense_hidden = dense_.size() - 1;
    for (size_t j = 0; j < dense_.size(); ++j) {
      const float* in = j == 0 ? BlockOutput(convs_.size() - 1) : dense_post_[j - 1].data();
      float* out = j < num_dense_hidden ? dense_pre_[j].data() : output_.data();
      RETURN_IF_ERROR(dense_[j].Forward(in, batch, out));
      if (j < num_dense_hidden) {
        ApplyNonlinearity(nonlinearity_, out, dense_post_[j].data(),
                          int64_t{batch} * dense_[j].out_dim());
      }
    }
    forward_done_ = true;
    return absl::OkStatus();
  }

  const float* output() const override { return batch_ == 0 ? nullptr : output_.data(); }

  Tap hidden(int layer) const override {
    CHECK(layer >= 0 && layer < num_hidden()) << "hidden layer " << layer << " of " << num_hidden();
    const int num_blocks = static_cast<int>(convs_.size());
    Tap tap;
    tap.name = absl::StrCat("hidden_", layer);
    if (layer < num_blocks) {
      tap.dim = static_cast<int>(BlockSize(layer));
      tap.data = batch_ == 0 ? nullptr : BlockOutput(layer);
    } else {
      tap.dim = dense_[layer - num_blocks].out_dim();
      tap.data = batch_ == 0 ? nullptr : dense_post_[layer - num_blocks].data();
    }
    return tap;
  }

  absl::Status Backward(const float* d_output, Optimizer& optimizer) override {
    if (!forward_done_) {
      return absl::FailedPreconditionError(
          "convnet Backward: no Forward since construction or the last Backward");
    }
    // The stored activations belong to the parameters before this update.
    forward_done_ = false;
    // Every step below reads the gradient the previous step wrote and writes the other
    // buffer; the nonlinearity's derivative is applied in place.
    float* buffers[2] = {grad_[0].data(), grad_[1].data()};
    int next = 0;
    auto take = [&] {
      float* p = buffers[next];
      next ^= 1;
      return p;
    };
    const int num_blocks = static_cast<int>(convs_.size());
    const int num_dense_hidden = static_cast<int>(dense_.size()) - 1;
    const float* dy = d_output;
    float* dx = nullptr;
    for (int j = num_dense_hidden; j >= 0; --j) {
      const float* in = j == 0 ? BlockOutput(num_blocks - 1) : dense_post_[j - 1].data();
      dx = take();
      // Into a block output (j == 0) f' is applied below, after un-pooling.
      const Nonlinearity f = j > 0 ? nonlinearity_ : NONE;
      const float* pre = j > 0 ? dense_pre_[j - 1].data() : nullptr;
      RETURN_IF_ERROR(
          dense_[j].Backward(in, dy, batch_, dx, f, pre, optimizer, 2 * (num_blocks + j)));
      dy = dx;
    }
    // dx = dL/d(output of block num_blocks - 1).
    for (int i = num_blocks - 1; i >= 0; --i) {
      float* d_pre = dx;
      if (!pools_.empty()) {
        d_pre = take();
        RETURN_IF_ERROR(pools_[i].Backward(dx, batch_, d_pre));
      }
      MultiplyByNonlinearityDerivative(nonlinearity_, conv_pre_[i].data(), d_pre,
                                       batch_ * convs_[i].out_size());
      const float* in = i == 0 ? input_.data() : BlockOutput(i - 1);
      dx = i == 0 ? nullptr : take();
      RETURN_IF_ERROR(convs_[i].Backward(in, d_pre, batch_, dx, NONE, nullptr, optimizer, 2 * i));
    }
    return absl::OkStatus();
  }

  std::vector<Parameter> parameters() override {
    std::vector<Parameter> params;
    params.reserve(2 * (convs_.size() + dense_.size()));
    int l = 0;
    for (Conv2d& conv : convs_) {
      const Conv2dShape& s = conv.shape();
      params.push_back({absl::StrCat("W", l),
                        {s.out_channels, s.in_channels, s.kernel_h, s.kernel_w},
                        conv.weights()});
      params.push_back({absl::StrCat("b", l), {s.out_channels}, conv.bias()});
      ++l;
    }
    for (Dense& layer : dense_) {
      params.push_back({absl::StrCat("W", l), {layer.out_dim(), layer.in_dim()}, layer.weights()});
      params.push_back({absl::StrCat("b", l), {layer.out_dim()}, layer.bias()});
      ++l;
    }
    return params;
  }

 private:
  ConvNet(int input_dim, Nonlinearity nonlinearity, std::vector<Conv2d> convs,
          std::vector<Pool2d> pools, std::vector<Dense> dense)
      : input_dim_(input_dim),
        nonlinearity_(nonlinearity),
        convs_(std::move(convs)),
        pools_(std::move(pools)),
        dense_(std::move(dense)),
        conv_pre_(convs_.size()),
        conv_post_(convs_.size()),
        pooled_(pools_.size()),
        dense_pre_(dense_.size() - 1),
        dense_post_(dense_.size() - 1) {}

  // Floats per example of block i's output (after pooling).
  int64_t BlockSize(size_t i) const {
    return pools_.empty() ? convs_[i].out_size() : pools_[i].out_size();
  }
  const float* BlockOutput(size_t i) const {
    return pools_.empty() ? conv_post_[i].data() : pooled_[i].data();
  }

  // Buffers for `batch` rows. They only grow, so smaller batches reuse them and a fixed
  // (or alternating) batch size allocates nothing after its first step.
  void Grow(int batch) {
    capacity_ = batch;
    input_.Reset(int64_t{batch} * input_dim_);
    int64_t widest = input_dim_;
    for (size_t i = 0; i < convs_.size(); ++i) {
      conv_pre_[i].Reset(batch * convs_[i].out_size());
      conv_post_[i].Reset(batch * convs_[i].out_size());
      if (!pools_.empty()) pooled_[i].Reset(batch * pools_[i].out_size());
      widest = std::max(widest, convs_[i].out_size());
    }
    for (size_t j = 0; j + 1 < dense_.size(); ++j) {
      dense_pre_[j].Reset(int64_t{batch} * dense_[j].out_dim());
      dense_post_[j].Reset(int64_t{batch} * dense_[j].out_dim());
      widest = std::max<int64_t>(widest, dense_[j].out_dim());
    }
    output_.Reset(int64_t{batch} * output_dim());
    for (AlignedBuffer& g : grad_) g.Reset(batch * widest);
    for (const Dense& layer : dense_) layer.Reserve(batch);
  }

  const int input_dim_;
  const Nonlinearity nonlinearity_;
  std::vector<Conv2d> convs_;
  std::vector<Pool2d> pools_;  // one per block, or none for NO_POOLING
  std::vector<Dense> dense_;   // hidden dense layers, then the output layer
  int batch_ = 0;              // of the last Forward
  int capacity_ = 0;           // rows the buffers hold
  bool forward_done_ = false;
  AlignedBuffer input_;  // the last Forward's x, [batch, input_dim]
  std::vector<AlignedBuffer> conv_pre_, conv_post_, pooled_;  // per block
  std::vector<AlignedBuffer> dense_pre_, dense_post_;         // per hidden dense layer
  AlignedBuffer output_;                                      // [batch, output_dim]
  AlignedBuffer grad_[2];                                     // gradients flowing down, ping-pong
};

}  // namespace

REGISTER_ARCHITECTURE("convnet", ConvNet::Create);

}  // namespace replearn
