// Convolution and pooling layers on oneDNN primitives, shared by the convolutional
// architectures (cnn1d.cc, convnet.cc).
//
// Conv2d: NCHW float32, stride 1, symmetric zero padding, bias:
//
//   y[n][o][i][j] = b[o] + sum_{c, u, v} W[o][c][u][v] x[n][c][i + u - pad_h][j + v - pad_w]
//
// with x = 0 outside the input; out_height = height + 2 pad_h - kernel_h + 1 (likewise the
// width). This is PyTorch's nn.Conv2d (a cross-correlation), and W uses its layout
// [out_channels, in_channels, kernel_h, kernel_w], so parameters can be exposed and
// exchanged with PyTorch as is. A 1-D convolution (nn.Conv1d, weights [out, in, k]) is the
// case height = 1, kernel_h = 1, pad_h = 0 with the same memory layout.
//
//   backward:  dx[n][c][p][q] = sum_{o, u, v} W[o][c][u][v] dy[n][o][p - u + pad_h][q - v + pad_w]
//              dW[o][c][u][v] = sum_{n, i, j} dy[n][o][i][j] x[n][c][i + u - pad_h][j + v - pad_w]
//              db[o]          = sum_{n, i, j} dy[n][o][i][j]
//
// Pool2d: 2 x 2 windows with stride 2 and no padding, max or average, on NCHW input; odd
// sizes are floored (out = in / 2, the last row/column is dropped) as PyTorch's
// nn.MaxPool2d(2) / nn.AvgPool2d(2). Max-pooling backward routes dy to the window's
// maximum; on ties oneDNN picks the first maximum in row-major window order.
//
// Implementation: oneDNN convolution_forward / convolution_backward_data /
// convolution_backward_weights and pooling_forward (forward_training, with the workspace
// max pooling needs) / pooling_backward, all on plain layouts (nchw, oihw), so activations
// and parameters are used in place without reorders. Primitives, their scratchpads
// (user-managed) and the oneDNN memory objects are built once per batch size, on first
// use, and kept: alternating batch sizes (a training batch and a probe batch) rebuild
// nothing. A step then allocates nothing in our code (oneDNN's execute still builds its own
// small argument map). On the CPU with a fixed OpenMP thread count, oneDNN's convolution and
// pooling are deterministic: same inputs, same bits (conv_test checks it).
#ifndef REPLEARN_ARCHITECTURES_CONV_H_
#define REPLEARN_ARCHITECTURES_CONV_H_

#include <cstdint>
#include <map>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "architectures/aligned_buffer.h"
#include "architectures/optimizer.h"
#include "proto/experiment.pb.h"

namespace replearn {

// Geometry of a Conv2d layer; every value >= 1 except the paddings (>= 0), and the output
// must be at least 1 x 1.
struct Conv2dShape {
  int in_channels = 1;
  int out_channels = 1;
  int height = 1;  // input height
  int width = 1;   // input width
  int kernel_h = 1;
  int kernel_w = 1;
  int pad_h = 0;  // zero rows added above and below
  int pad_w = 0;  // zero columns added left and right

  int out_height() const { return height + 2 * pad_h - kernel_h + 1; }
  int out_width() const { return width + 2 * pad_w - kernel_w + 1; }
  // Floats per example: in_channels * height * width and out_channels * out_h * out_w.
  int64_t in_size() const { return int64_t{in_channels} * height * width; }
  int64_t out_size() const { return int64_t{out_channels} * out_height() * out_width(); }
};

class Conv2d {
 public:
  // W and b are zero until InitXavierNormal (or a write through weights()). CHECK-fails on
  // an invalid shape (callers validate user input first).
  explicit Conv2d(const Conv2dShape& shape);
  ~Conv2d();
  Conv2d(Conv2d&&);
  Conv2d& operator=(Conv2d&&);

  const Conv2dShape& shape() const { return shape_; }
  int64_t in_size() const { return shape_.in_size(); }
  int64_t out_size() const { return shape_.out_size(); }
  float* weights() { return weights_.data(); }  // [out_channels, in_channels, kh, kw]
  const float* weights() const { return weights_.data(); }
  int64_t num_weights() const { return weights_.size(); }
  float* bias() { return bias_.data(); }  // [out_channels]
  const float* bias() const { return bias_.data(); }

  // Xavier-normal (Glorot) initialisation with PyTorch's fans for convolutions,
  // fan_in = in_channels * kh * kw and fan_out = out_channels * kh * kw:
  // W ~ N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out)), drawn in row-major order
  // from Rng(Rng::DeriveSeed(seed, layer_index)); b = 0.
  void InitXavierNormal(double gain, uint64_t seed, uint64_t layer_index);

  // y = conv(x) + b for `batch` >= 1 examples: x [batch, in_size()], y [batch, out_size()],
  // both NCHW. x and y must not overlap. Builds the forward primitive for a new batch size.
  absl::Status Forward(const float* x, int batch, float* y);

  // The backward pass above for the x of a forward pass and dy = dL/dy: dx [batch,
  // in_size()] (nullptr to skip it), computed from W before the update and, if
  // dx_preactivation is not null, multiplied elementwise by f'(dx_preactivation) with
  // f = dx_nonlinearity (as Dense::Backward). Then dW and db go into layer-owned buffers
  // and to optimizer.Apply(slot, W, dW) and Apply(slot + 1, b, db). The optimiser's
  // fused_sgd_rate() is not used: Apply is always called.
  absl::Status Backward(const float* x, const float* dy, int batch, float* dx,
                        Nonlinearity dx_nonlinearity, const float* dx_preactivation,
                        Optimizer& optimizer, int slot);

 private:
  struct Plan;  // primitives and memory objects for one batch size
  absl::StatusOr<Plan*> ForwardPlan(int batch);
  absl::Status BuildBackward(Plan& plan);

  Conv2dShape shape_;
  AlignedBuffer weights_;
  AlignedBuffer bias_;
  AlignedBuffer d_weights_;
  AlignedBuffer d_bias_;
  std::map<int, std::unique_ptr<Plan>> plans_;  // by batch size
};

enum class PoolKind { kMax, kAverage };

class Pool2d {
 public:
  // CHECK-fails unless channels >= 1 and height, width >= 2 (so the output is >= 1 x 1).
  Pool2d(PoolKind kind, int channels, int height, int width);
  ~Pool2d();
  Pool2d(Pool2d&&);
  Pool2d& operator=(Pool2d&&);

  PoolKind kind() const { return kind_; }
  int out_height() const { return height_ / 2; }
  int out_width() const { return width_ / 2; }
  int64_t in_size() const { return int64_t{channels_} * height_ * width_; }
  int64_t out_size() const { return int64_t{channels_} * out_height() * out_width(); }

  // y[n][c][i][j] = max (or mean) of x[n][c][2i + u][2j + v] over u, v in {0, 1}; x [batch,
  // in_size()], y [batch, out_size()]. Keeps the max positions for Backward at this batch.
  absl::Status Forward(const float* x, int batch, float* y);
  // dx [batch, in_size()] from dy [batch, out_size()] for the last Forward at this batch
  // size: max pooling puts dy at the window's maximum, average pooling spreads dy / 4 over
  // the window; the dropped last row/column of an odd size gets 0. FailedPrecondition if
  // no Forward ran at this batch size.
  absl::Status Backward(const float* dy, int batch, float* dx);

 private:
  struct Plan;
  absl::StatusOr<Plan*> ForwardPlan(int batch);

  PoolKind kind_;
  int channels_, height_, width_;
  std::map<int, std::unique_ptr<Plan>> plans_;  // by batch size
};

}  // namespace replearn

#endif  // REPLEARN_ARCHITECTURES_CONV_H_
