#include "architectures/dense.h"

#include <algorithm>
#include <atomic>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "architectures/nonlinearity.h"
#include "core/dnnl.h"
#include "core/rng.h"
#include "core/status_macros.h"
#include "glog/logging.h"
#include "oneapi/dnnl/dnnl.h"

#define REPLEARN_ALWAYS_INLINE inline __attribute__((always_inline))

namespace replearn {
namespace {

// Below this many multiply-adds per backward a parallel region costs more than it saves.
constexpr int64_t kMinParallelWork = int64_t{1} << 15;
// Rows of W that share one pass over x and the partial dx.
constexpr int kRowGroup = 4;
// Columns of dx per work item of the final reduction over blocks.
constexpr int64_t kReduceChunk = 128;

struct FusedArgs {
  int64_t in;
  int64_t out;
  int64_t batch;
  int64_t num_blocks;
  const float* x;   // [batch, in]
  const float* dy;  // [batch, out]
  float learning_rate;
  float* weights;   // [out, in]
  float* bias;      // [out]
  float* partials;  // [num_blocks, batch, in], or nullptr when dx is skipped
};

// kR rows of W starting at row o for a batch of kB > 0 rows: adds sum_r dy[:, o + r] W[o + r]
// into part (or, if kInit, overwrites part with it) and applies
// W[o + r] -= lr * sum_b dy[b, o + r] x[b]. The kR rows share one pass over x and the partial dx
// (both in L1), so per element of W the loop costs kB multiply-adds for dx plus kB for the update.
template <int kB, int kR, bool kDx, bool kInit>
REPLEARN_ALWAYS_INLINE void FusedRowGroup(const FusedArgs& a, int64_t o, float* __restrict part) {
  const int64_t in = a.in;
  const float* __restrict x = a.x;
  float g[kR][kB];
  const float neg_lr = -a.learning_rate;
  float* __restrict w[kR];
  for (int r = 0; r < kR; ++r) {
    w[r] = a.weights + (o + r) * in;
    for (int b = 0; b < kB; ++b) g[r][b] = a.dy[b * a.out + o + r];
  }
#pragma omp simd
  for (int64_t i = 0; i < in; ++i) {
    float v[kR];
    for (int r = 0; r < kR; ++r) v[r] = w[r][i];
    if constexpr (kDx) {
      for (int b = 0; b < kB; ++b) {
        float p = kInit ? 0.0f : part[b * in + i];
        for (int r = 0; r < kR; ++r) p += g[r][b] * v[r];
        part[b * in + i] = p;
      }
    }
    // dL/dW summed over the batch first, then one update (the order of W -= lr * dW):
    // updating once per example would round W once per example and drift from it.
    for (int r = 0; r < kR; ++r) {
      float grad = g[r][0] * x[i];
      for (int b = 1; b < kB; ++b) grad += g[r][b] * x[b * in + i];
      w[r][i] = v[r] + neg_lr * grad;
    }
  }
}

// Rows [o_begin, o_end) of W for a batch of kB > 0 rows, in groups of kRowGroup rows. The
// first group initialises the block's partial dx.
template <int kB, bool kDx>
REPLEARN_ALWAYS_INLINE void FusedRowsFixedBatch(const FusedArgs& a, int64_t o_begin, int64_t o_end,
                                                float* __restrict part) {
  int64_t o = o_begin;
  if (o + kRowGroup <= o_end) {
    FusedRowGroup<kB, kRowGroup, kDx, true>(a, o, part);
    o += kRowGroup;
  } else {
    FusedRowGroup<kB, 1, kDx, true>(a, o, part);
    ++o;
  }
  for (; o + kRowGroup <= o_end; o += kRowGroup) {
    FusedRowGroup<kB, kRowGroup, kDx, false>(a, o, part);
  }
  for (; o < o_end; ++o) FusedRowGroup<kB, 1, kDx, false>(a, o, part);
}

// Any batch size: per row of W, first every batch row's dx contribution (W[o] still holds
// its old values), then the update one batch row at a time.
template <bool kDx>
REPLEARN_ALWAYS_INLINE void FusedRowsAnyBatch(const FusedArgs& a, int64_t o_begin, int64_t o_end,
                                              float* __restrict part) {
  const int64_t in = a.in;
  if constexpr (kDx) {
    for (int64_t k = 0; k < a.batch * in; ++k) part[k] = 0.0f;
  }
  for (int64_t o = o_begin; o < o_end; ++o) {
    float* __restrict w = a.weights + o * in;
    if constexpr (kDx) {
      for (int64_t b = 0; b < a.batch; ++b) {
        const float g = a.dy[b * a.out + o];
        float* __restrict p = part + b * in;
#pragma omp simd
        for (int64_t i = 0; i < in; ++i) p[i] += g * w[i];
      }
    }
    // As in FusedRowGroup: sum the batch's gradient, then update once.
    const float neg_lr = -a.learning_rate;
#pragma omp simd
    for (int64_t i = 0; i < in; ++i) {
      float grad = a.dy[o] * a.x[i];
      for (int64_t b = 1; b < a.batch; ++b) grad += a.dy[b * a.out + o] * a.x[b * in + i];
      w[i] += neg_lr * grad;
    }
  }
}

// One block of kBlockRows rows: its rows (writing its partial dx), then its biases.
// kB = 0 means "any batch"; kDx: whether dx is wanted (a.partials is set).
template <int kB, bool kDx>
REPLEARN_ALWAYS_INLINE void FusedBlock(const FusedArgs& a, int64_t block) {
  const int64_t o_begin = block * Dense::kBlockRows;
  const int64_t o_end = std::min<int64_t>(a.out, o_begin + Dense::kBlockRows);
  float* part = kDx ? a.partials + block * a.batch * a.in : nullptr;
  if constexpr (kB == 0) {
    FusedRowsAnyBatch<kDx>(a, o_begin, o_end, part);
  } else {
    FusedRowsFixedBatch<kB, kDx>(a, o_begin, o_end, part);
  }
  for (int64_t o = o_begin; o < o_end; ++o) {
    float s = 0.0f;
    for (int64_t b = 0; b < a.batch; ++b) s += a.dy[b * a.out + o];
    a.bias[o] -= a.learning_rate * s;
  }
}

// dx[:, i_begin:i_end] = sum over blocks, in block order, of the partials.
REPLEARN_ALWAYS_INLINE void ReduceColumns(const FusedArgs& a, int64_t i_begin, int64_t i_end,
                                          float* __restrict dx) {
  for (int64_t b = 0; b < a.batch; ++b) {
    float* __restrict d = dx + b * a.in;
    const float* __restrict p0 = a.partials + b * a.in;
    for (int64_t i = i_begin; i < i_end; ++i) d[i] = p0[i];
    for (int64_t k = 1; k < a.num_blocks; ++k) {
      const float* __restrict p = a.partials + (k * a.batch + b) * a.in;
      for (int64_t i = i_begin; i < i_end; ++i) d[i] += p[i];
    }
  }
}

using BlockFn = void (*)(const FusedArgs&, int64_t);
using ReduceFn = void (*)(const FusedArgs&, int64_t, int64_t, float*);

// The kernels compiled three times: AVX-512 (with VL: 32 vector registers, 256-bit vectors,
// which were faster than 512-bit ones for these short rows), AVX2 + FMA, and the portable
// baseline. The best one the CPU supports is chosen once at run time.
#define REPLEARN_DEFINE_KERNELS(suffix, attributes)                                               \
  template <int kB, bool kDx>                                                                     \
  attributes void Block##suffix(const FusedArgs& a, int64_t block) {                              \
    FusedBlock<kB, kDx>(a, block);                                                                \
  }                                                                                               \
  attributes void Reduce##suffix(const FusedArgs& a, int64_t i_begin, int64_t i_end, float* dx) { \
    ReduceColumns(a, i_begin, i_end, dx);                                                         \
  }                                                                                               \
  template <bool kDx>                                                                             \
  BlockFn SelectBlock##suffix(int64_t batch) {                                                    \
    static_assert(Dense::kMaxFusedBatch == 4, "update the specialisations below");                \
    switch (batch) {                                                                              \
      case 1:                                                                                     \
        return Block##suffix<1, kDx>;                                                             \
      case 2:                                                                                     \
        return Block##suffix<2, kDx>;                                                             \
      case 3:                                                                                     \
        return Block##suffix<3, kDx>;                                                             \
      case 4:                                                                                     \
        return Block##suffix<4, kDx>;                                                             \
      default:                                                                                    \
        return Block##suffix<0, kDx>;                                                             \
    }                                                                                             \
  }

REPLEARN_DEFINE_KERNELS(
    Avx512, __attribute__((target("avx512f,avx512vl,avx2,fma,prefer-vector-width=256"))))
REPLEARN_DEFINE_KERNELS(Avx2, __attribute__((target("avx2,fma"))))
REPLEARN_DEFINE_KERNELS(Portable, )
#undef REPLEARN_DEFINE_KERNELS

// -1: use BestDenseKernelIsa(); otherwise a DenseKernelIsa chosen by a test.
std::atomic<int> isa_override{-1};

DenseKernelIsa ActiveIsa() {
  const int forced = isa_override.load(std::memory_order_relaxed);
  return forced < 0 ? BestDenseKernelIsa() : static_cast<DenseKernelIsa>(forced);
}

BlockFn SelectBlockFn(int64_t batch, bool dx) {
  switch (ActiveIsa()) {
    case DenseKernelIsa::kAvx512:
      return dx ? SelectBlockAvx512<true>(batch) : SelectBlockAvx512<false>(batch);
    case DenseKernelIsa::kAvx2:
      return dx ? SelectBlockAvx2<true>(batch) : SelectBlockAvx2<false>(batch);
    case DenseKernelIsa::kPortable:
    default:
      return dx ? SelectBlockPortable<true>(batch) : SelectBlockPortable<false>(batch);
  }
}

ReduceFn SelectReduceFn() {
  switch (ActiveIsa()) {
    case DenseKernelIsa::kAvx512:
      return ReduceAvx512;
    case DenseKernelIsa::kAvx2:
      return ReduceAvx2;
    case DenseKernelIsa::kPortable:
    default:
      return ReducePortable;
  }
}

// Scratch for the per-block partial dx, shared by every layer that runs on the calling
// thread: a layer's partials are dead once its dx is reduced, and one shared buffer stays in
// L2 where one buffer per layer would not.
float* PartialsScratch(int64_t size) {
  thread_local AlignedBuffer buffer;
  if (buffer.size() < size) buffer.Reset(size);
  return buffer.data();
}

absl::Status CheckBatch(int batch, const char* what) {
  if (batch >= 1) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(what, ": batch = ", batch, "; must be >= 1"));
}

void UpdateBias(const float* dy, int64_t batch, int64_t out, float learning_rate, float* bias) {
  for (int64_t o = 0; o < out; ++o) {
    float s = 0.0f;
    for (int64_t b = 0; b < batch; ++b) s += dy[b * out + o];
    bias[o] -= learning_rate * s;
  }
}

}  // namespace

DenseKernelIsa BestDenseKernelIsa() {
  static const DenseKernelIsa isa = [] {
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")) {
      return DenseKernelIsa::kAvx512;
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
      return DenseKernelIsa::kAvx2;
    }
    return DenseKernelIsa::kPortable;
  }();
  return isa;
}

void SetDenseKernelIsaForTesting(DenseKernelIsa isa) {
  CHECK_LE(static_cast<int>(isa), static_cast<int>(BestDenseKernelIsa()))
      << "this CPU cannot run that build of the kernel";
  isa_override.store(static_cast<int>(isa), std::memory_order_relaxed);
}

Dense::Dense(int in_dim, int out_dim)
    : in_dim_(in_dim), out_dim_(out_dim), weights_(int64_t{in_dim} * out_dim), bias_(out_dim) {
  CHECK_GE(in_dim, 1);
  CHECK_GE(out_dim, 1);
}

void Dense::InitXavierNormal(double gain, uint64_t seed, uint64_t layer_index) {
  Rng rng(Rng::DeriveSeed(seed, layer_index));
  const double stddev = gain * std::sqrt(2.0 / (in_dim_ + out_dim_));
  float* w = weights_.data();
  for (int64_t k = 0; k < weights_.size(); ++k) w[k] = static_cast<float>(stddev * rng.Normal());
  std::fill(bias_.data(), bias_.data() + out_dim_, 0.0f);
}

absl::Status Dense::Forward(const float* x, int batch, float* y) const {
  RETURN_IF_ERROR(CheckBatch(batch, "Dense::Forward"));
  for (int b = 0; b < batch; ++b) std::copy_n(bias_.data(), out_dim_, y + int64_t{b} * out_dim_);
  return DnnlStatus(dnnl_sgemm('N', 'T', batch, out_dim_, in_dim_, 1.0f, x, in_dim_,
                               weights_.data(), in_dim_, 1.0f, y, out_dim_),
                    "Dense::Forward dnnl_sgemm");
}

void Dense::Reserve(int batch) const {
  const int64_t num_blocks = (out_dim_ + kBlockRows - 1) / kBlockRows;
  PartialsScratch(num_blocks * batch * in_dim_);
}

absl::Status Dense::BackwardSgd(const float* x, const float* dy, int batch, float learning_rate,
                                float* dx, Nonlinearity dx_nonlinearity,
                                const float* dx_preactivation) {
  if (batch <= kMaxFusedBatch) {
    return BackwardSgdFused(x, dy, batch, learning_rate, dx, dx_nonlinearity, dx_preactivation);
  }
  return BackwardSgdReference(x, dy, batch, learning_rate, dx, dx_nonlinearity, dx_preactivation);
}

absl::Status Dense::BackwardSgdFused(const float* x, const float* dy, int batch,
                                     float learning_rate, float* dx, Nonlinearity dx_nonlinearity,
                                     const float* dx_preactivation) {
  RETURN_IF_ERROR(CheckBatch(batch, "Dense::BackwardSgdFused"));
  FusedArgs a;
  a.in = in_dim_;
  a.out = out_dim_;
  a.batch = batch;
  a.num_blocks = (out_dim_ + kBlockRows - 1) / kBlockRows;
  a.x = x;
  a.dy = dy;
  a.learning_rate = learning_rate;
  a.weights = weights_.data();
  a.bias = bias_.data();
  a.partials = dx != nullptr ? PartialsScratch(a.num_blocks * a.batch * a.in) : nullptr;

  const BlockFn block_fn = SelectBlockFn(batch, dx != nullptr);
  const ReduceFn reduce_fn = SelectReduceFn();
  const int64_t num_chunks = (a.in + kReduceChunk - 1) / kReduceChunk;
  const bool parallel = a.batch * a.in * a.out >= kMinParallelWork;
  // Static schedules: measured faster than dynamic ones at 2 threads (34 vs 60 us per
  // 500 x 500 layer). Results do not depend on which thread runs a block either way.
#pragma omp parallel if (parallel)
  {
#pragma omp for schedule(static)
    for (int64_t block = 0; block < a.num_blocks; ++block) block_fn(a, block);
    if (dx != nullptr) {
#pragma omp for schedule(static)
      for (int64_t c = 0; c < num_chunks; ++c) {
        const int64_t i_begin = c * kReduceChunk;
        const int64_t i_end = std::min(a.in, i_begin + kReduceChunk);
        reduce_fn(a, i_begin, i_end, dx);
        if (dx_preactivation != nullptr) {
          for (int64_t b = 0; b < a.batch; ++b) {
            MultiplyByNonlinearityDerivative(dx_nonlinearity, dx_preactivation + b * a.in + i_begin,
                                             dx + b * a.in + i_begin, i_end - i_begin);
          }
        }
      }
    }
  }
  return absl::OkStatus();
}

absl::Status Dense::BackwardSgdReference(const float* x, const float* dy, int batch,
                                         float learning_rate, float* dx,
                                         Nonlinearity dx_nonlinearity,
                                         const float* dx_preactivation) {
  RETURN_IF_ERROR(CheckBatch(batch, "Dense::BackwardSgdReference"));
  if (dx != nullptr) {
    RETURN_IF_ERROR(DnnlStatus(dnnl_sgemm('N', 'N', batch, in_dim_, out_dim_, 1.0f, dy, out_dim_,
                                          weights_.data(), in_dim_, 0.0f, dx, in_dim_),
                               "Dense::BackwardSgdReference dnnl_sgemm (dx)"));
    if (dx_preactivation != nullptr) {
      MultiplyByNonlinearityDerivative(dx_nonlinearity, dx_preactivation, dx,
                                       int64_t{batch} * in_dim_);
    }
  }
  RETURN_IF_ERROR(DnnlStatus(dnnl_sgemm('T', 'N', out_dim_, in_dim_, batch, -learning_rate, dy,
                                        out_dim_, x, in_dim_, 1.0f, weights_.data(), in_dim_),
                             "Dense::BackwardSgdReference dnnl_sgemm (W update)"));
  UpdateBias(dy, batch, out_dim_, learning_rate, bias_.data());
  return absl::OkStatus();
}

absl::Status Dense::Gradients(const float* x, const float* dy, int batch, float* dx,
                              Nonlinearity dx_nonlinearity, const float* dx_preactivation,
                              float* d_weights, float* d_bias) const {
  RETURN_IF_ERROR(CheckBatch(batch, "Dense::Gradients"));
  if (dx != nullptr) {
    RETURN_IF_ERROR(DnnlStatus(dnnl_sgemm('N', 'N', batch, in_dim_, out_dim_, 1.0f, dy, out_dim_,
                                          weights_.data(), in_dim_, 0.0f, dx, in_dim_),
                               "Dense::Gradients dnnl_sgemm (dx)"));
    if (dx_preactivation != nullptr) {
      MultiplyByNonlinearityDerivative(dx_nonlinearity, dx_preactivation, dx,
                                       int64_t{batch} * in_dim_);
    }
  }
  RETURN_IF_ERROR(DnnlStatus(dnnl_sgemm('T', 'N', out_dim_, in_dim_, batch, 1.0f, dy, out_dim_, x,
                                        in_dim_, 0.0f, d_weights, in_dim_),
                             "Dense::Gradients dnnl_sgemm (dW)"));
  for (int64_t o = 0; o < out_dim_; ++o) {
    float s = 0.0f;
    for (int64_t b = 0; b < batch; ++b) s += dy[b * out_dim_ + o];
    d_bias[o] = s;
  }
  return absl::OkStatus();
}

absl::Status Dense::Backward(const float* x, const float* dy, int batch, float* dx,
                             Nonlinearity dx_nonlinearity, const float* dx_preactivation,
                             Optimizer& optimizer, int slot) {
  if (const float rate = optimizer.fused_sgd_rate(); rate > 0) {
    return BackwardSgd(x, dy, batch, rate, dx, dx_nonlinearity, dx_preactivation);
  }
  if (d_weights_.size() != weights_.size()) {
    d_weights_.Reset(weights_.size());
    d_bias_.Reset(bias_.size());
  }
  RETURN_IF_ERROR(Gradients(x, dy, batch, dx, dx_nonlinearity, dx_preactivation, d_weights_.data(),
                            d_bias_.data()));
  optimizer.Apply(slot, weights_.data(), d_weights_.data(), weights_.size());
  optimizer.Apply(slot + 1, bias_.data(), d_bias_.data(), bias_.size());
  return absl::OkStatus();
}

}  // namespace replearn
