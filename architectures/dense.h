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
// Why this shape (measurements in docs/benchmarking.md and benchmarks/RESULTS.md):
// at the tiny batches of these experiments the layer is bound by streaming W through the
// caches, not by flops. Forward is one dnnl_sgemm. The fused backward makes ONE pass over
// W: for each row o it adds dy[:, o] W[o] into dx and then updates W[o] and b[o] in place,
// so the backward reads and writes W once instead of reading it for backward-data and then
// again for the update, and no gradient buffer exists. The reference backward (two
// dnnl_sgemm calls, the update a rank-`batch` product with beta = 1 straight into W)
// computes the same numbers up to float rounding; it serves the tests and batches above
// kMaxFusedBatch, where a GEMM's cache blocking pays off.
//
// Threads: the fused kernel splits W into blocks of kBlockRows rows, processed in parallel
// with OpenMP (the libgomp runtime oneDNN itself uses; SetDnnlThreads sets the count). Each
// block accumulates its own partial dx; the partials are summed in block order. Results
// therefore depend on neither the thread count nor the scheduling: they are bit-identical
// from run to run and between 1 and N threads. The kernel is compiled for AVX-512, AVX2 +
// FMA and the portable baseline, and the best one the CPU supports is picked at run time;
// the three round differently (FMA contraction), so bits match only on one CPU type.
#ifndef REPLEARN_ARCHITECTURES_DENSE_H_
#define REPLEARN_ARCHITECTURES_DENSE_H_

#include <cstdint>

#include "absl/status/status.h"
#include "architectures/aligned_buffer.h"
#include "architectures/optimizer.h"
#include "proto/experiment.pb.h"

namespace replearn {

// Builds of the fused backward kernel, in increasing order of what the CPU must support.
enum class DenseKernelIsa { kPortable = 0, kAvx2 = 1, kAvx512 = 2 };

// The build that runs by default: the best one this CPU supports.
DenseKernelIsa BestDenseKernelIsa();
// Makes every later fused backward (all threads, all layers) use `isa`, which must be at
// most BestDenseKernelIsa(), so tests can cover each build. Not for production code.
void SetDenseKernelIsaForTesting(DenseKernelIsa isa);

class Dense {
 public:
  // Rows of W per parallel work item of the fused backward. 32, 64 and 128 were within
  // noise of each other for 500 x 500 layers on the 2-core benchmark machine
  // (benchmarks/RESULTS.md); 64 leaves 8 work items for a 500-row layer.
  static constexpr int kBlockRows = 64;
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

  // Sizes the fused kernel's scratch space (per-block partial dx, shared by all layers
  // that run on the calling thread) for `batch` rows. Allocates only when it must grow; the
  // backward does this itself, so calling it up front only moves that allocation out of the
  // first step.
  void Reserve(int batch) const;

  // The backward + SGD step above. x: this layer's input of the forward pass; dy: dL/dy;
  // dx: [batch, in] output, or nullptr to skip it (first layer). If dx_preactivation is not
  // null, dx is multiplied elementwise by f'(dx_preactivation) with f = dx_nonlinearity.
  // Uses the fused kernel for batch <= kMaxFusedBatch, else the reference path.
  absl::Status BackwardSgd(const float* x, const float* dy, int batch, float learning_rate,
                           float* dx, Nonlinearity dx_nonlinearity = NONE,
                           const float* dx_preactivation = nullptr);
  // The same backward with any optimiser: when optimizer.fused_sgd_rate() > 0 this is
  // BackwardSgd at that rate; otherwise dx (as above, from W before the update), dW and db
  // are computed with dnnl_sgemm into layer-owned buffers and applied through
  // optimizer.Apply(slot, W, dW) and Apply(slot + 1, b, db).
  absl::Status Backward(const float* x, const float* dy, int batch, float* dx,
                        Nonlinearity dx_nonlinearity, const float* dx_preactivation,
                        Optimizer& optimizer, int slot);
  // dx (optional, as above), dW = dy^T x ([out, in]) and db = sum over the batch of dy,
  // without touching the parameters.
  absl::Status Gradients(const float* x, const float* dy, int batch, float* dx,
                         Nonlinearity dx_nonlinearity, const float* dx_preactivation,
                         float* d_weights, float* d_bias) const;
  // The one-pass kernel, for any batch >= 1 (specialised for batch <= kMaxFusedBatch).
  absl::Status BackwardSgdFused(const float* x, const float* dy, int batch, float learning_rate,
                                float* dx, Nonlinearity dx_nonlinearity = NONE,
                                const float* dx_preactivation = nullptr);
  // dx = dy W with dnnl_sgemm, then W += (-lr) dy^T x with dnnl_sgemm (beta = 1), then b.
  absl::Status BackwardSgdReference(const float* x, const float* dy, int batch, float learning_rate,
                                    float* dx, Nonlinearity dx_nonlinearity = NONE,
                                    const float* dx_preactivation = nullptr);

 private:
  int in_dim_;
  int out_dim_;
  AlignedBuffer weights_;
  AlignedBuffer bias_;
  AlignedBuffer d_weights_;  // gradients for optimisers other than fused SGD, on first use
  AlignedBuffer d_bias_;
};

}  // namespace replearn

#endif  // REPLEARN_ARCHITECTURES_DENSE_H_
