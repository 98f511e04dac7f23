// A dense (fully connected) layer with plain SGD fused into its backward pass.
//
//   forward:   y = x W^T + b          x [batch, in], W [out, in], b [out], y [batch, out]
//   backward:  dx = (dy W) * f'(p)    dy = dL/dy [batch, out]; dx = dL/d(input of f)
//              W -= lr dy^T x         i.e. W[o][i] -= lr sum_b dy[b][o] x[b][i]
//              b -= lr sum_b dy[b]
// All arrays are row-major floats; W uses PyTorch's nn.Linear layout. dx is computed from
// W *before* its update. The optional factor f'(p) is the derivative of the nonlinearity
// that produced this layer's input from pre-activation p (see nonlinearity.h), so the
// backward returns the previous layer's dL/d(pre-activation) directly.
//
// Why this shape (measurements in /work/shared/BENCHMARKING.md): at the tiny batches of
// these experiments the layer is bound by streaming W through the caches, not by flops.
// Forward is one dnnl_sgemm. The fused backward makes ONE pass over W: for each row o it
// adds dy[:, o] W[o] into dx and then updates W[o] and b[o] in place, so W is read and
// written once per step instead of three times (backward-data, weight gradient, update),
// and no gradient buffer exists. The reference backward (two dnnl_sgemm calls, the update
// a rank-`batch` product with beta = 1 straight into W) computes the same numbers up to
// float rounding and is used for large batches, where a GEMM's cache blocking wins.
//
// Threads: the fused kernel splits W into blocks of kBlockRows rows, processed in parallel
// with OpenMP (the libgomp runtime oneDNN itself uses; SetDnnlThreads sets the count). Each
// block accumulates its own partial dx; the partials are summed in block order. Results
// therefore depend on neither the thread count nor the scheduling: they are bit-identical
// from run to run and between 1 and N threads (on one CPU model: the AVX2+FMA build of the
// kernel, chosen at run time when the CPU has both, rounds differently from the portable
// one).
#ifndef REPLEARN_ARCHITECTURES_DENSE_H_
#define REPLEARN_ARCHITECTURES_DENSE_H_

#include <cstdint>

#include "absl/status/status.h"
#include "architectures/aligned_buffer.h"
#include "experiments/experiment.pb.h"

namespace replearn {

class Dense {
 public:
  // Rows of W per parallel work item of the fused backward (tuned on a 2-core Zen 4 for
  // 500 x 500 layers; see benchmarks/RESULTS.md).
  static constexpr int kBlockRows = 32;
  // BackwardSgd uses the fused kernel up to this batch size and the two-GEMM path above it.
  static constexpr int kMaxFusedBatch = 4;

  // W and b are zero until InitXavierNormal (or a write through weights()).
  Dense(int in_dim, int out_dim);

  int in_dim() const { return in_dim_; }
  int out_dim() const { return out_dim_; }
  float* weights() { return weights_.data(); }  // [out, in]
  const float* weights() const { return weights_.data(); }
  float* bias() { return bias_.data(); }  // [out]
  const float* bias() const { return bias_.data(); }

  // Xavier-normal (Glorot) initialisation: W[o][i] ~ N(0, std^2) with
  // std = gain * sqrt(2 / (in + out)), drawn in row-major order from
  // Rng(Rng::DeriveSeed(seed, layer_index)); b = 0.
  void InitXavierNormal(double gain, uint64_t seed, uint64_t layer_index);

  // y = x W^T + b for `batch` >= 1 rows (dnnl_sgemm). x and y must not overlap.
  absl::Status Forward(const float* x, int batch, float* y) const;

  // Sizes the fused kernel's scratch space for `batch` rows. Allocates only when `batch`
  // exceeds every earlier size; the backward calls it itself, so calling it up front only
  // moves that allocation out of the first step.
  void Reserve(int batch);

  // The backward + SGD step above. x: this layer's input of the forward pass; dy: dL/dy;
  // dx: [batch, in] output, or nullptr to skip it (first layer). If dx_preactivation is not
  // null, dx is multiplied elementwise by f'(dx_preactivation) with f = dx_nonlinearity.
  // Uses the fused kernel for batch <= kMaxFusedBatch, else the reference path.
  absl::Status BackwardSgd(const float* x, const float* dy, int batch, float learning_rate,
                           float* dx, Nonlinearity dx_nonlinearity = NONE,
                           const float* dx_preactivation = nullptr);
  // The one-pass kernel; any batch >= 1 (above kMaxFusedBatch it handles kMaxFusedBatch
  // rows of the batch per pass over W).
  absl::Status BackwardSgdFused(const float* x, const float* dy, int batch, float learning_rate,
                                float* dx, Nonlinearity dx_nonlinearity = NONE,
                                const float* dx_preactivation = nullptr);
  // dx = dy W with dnnl_sgemm, then W += (-lr) dy^T x with dnnl_sgemm (beta = 1), then b.
  absl::Status BackwardSgdReference(const float* x, const float* dy, int batch,
                                    float learning_rate, float* dx,
                                    Nonlinearity dx_nonlinearity = NONE,
                                    const float* dx_preactivation = nullptr);

 private:
  int in_dim_;
  int out_dim_;
  AlignedBuffer weights_;
  AlignedBuffer bias_;
  // Per-block partial dx: [num_blocks, min(batch, kMaxFusedBatch), in].
  AlignedBuffer partials_;
  int reserved_batch_ = 0;
};

}  // namespace replearn

#endif  // REPLEARN_ARCHITECTURES_DENSE_H_
