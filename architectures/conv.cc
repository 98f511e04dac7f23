#include "architectures/conv.h"

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "architectures/nonlinearity.h"
#include "core/dnnl.h"
#include "core/rng.h"
#include "core/status_macros.h"
#include "glog/logging.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace replearn {
namespace {

using dnnl::memory;
using Tag = memory::format_tag;
constexpr memory::data_type kF32 = memory::data_type::f32;

absl::Status CheckBatch(int batch, const char* what) {
  if (batch >= 1) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(what, ": batch = ", batch, "; must be >= 1"));
}

// A primitive ready to run: its execute arguments are fixed once, only the data handles
// of the activation memories change between calls (so a call allocates nothing here).
struct Runnable {
  dnnl::primitive primitive;
  std::vector<dnnl_exec_arg_t> args;
  // Scratchpads are user-managed, so oneDNN does not allocate one per execution.
  AlignedBuffer scratchpad_buffer;
  memory scratchpad;

  // Sets the primitive and its arguments (memories must outlive this object, which the
  // plans guarantee by owning both) plus a scratchpad of the size `pd` asks for.
  void Init(dnnl::primitive p, const dnnl::primitive_desc_base& pd,
            std::vector<std::pair<int, const memory*>> memories) {
    primitive = std::move(p);
    const memory::desc scratch_md = pd.scratchpad_desc();
    const size_t bytes = scratch_md.get_size();
    if (bytes > 0) {
      scratchpad_buffer.Reset(static_cast<int64_t>((bytes + sizeof(float) - 1) / sizeof(float)));
      scratchpad = memory(scratch_md, CpuEngine(), scratchpad_buffer.data());
      memories.push_back({DNNL_ARG_SCRATCHPAD, &scratchpad});
    }
    args.clear();
    for (const auto& [arg, mem] : memories) args.push_back({arg, mem->get()});
  }

  absl::Status Run(const char* what) const {
    return DnnlStatus(dnnl_primitive_execute(primitive.get(), CpuStream().get(),
                                             static_cast<int>(args.size()), args.data()),
                      what);
  }
};

dnnl::primitive_attr UserScratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

// Sets a memory's data handle to a caller's array (oneDNN's API takes non-const pointers
// also for inputs, which it only reads).
void SetHandle(const memory& m, const float* data) { m.set_data_handle(const_cast<float*>(data)); }

}  // namespace

// ---- Conv2d ----

struct Conv2d::Plan {
  memory src, dst, weights, bias;
  Runnable forward;
  dnnl::convolution_forward::primitive_desc forward_pd;  // hint for the backward passes
  bool has_backward = false;
  memory diff_src, diff_dst, diff_weights, diff_bias, bwd_src, bwd_weights, bwd_diff_dst;
  Runnable backward_data;
  Runnable backward_weights;
};

Conv2d::Conv2d(const Conv2dShape& shape)
    : shape_(shape),
      weights_(int64_t{shape.out_channels} * shape.in_channels * shape.kernel_h * shape.kernel_w),
      bias_(shape.out_channels),
      d_weights_(weights_.size()),
      d_bias_(shape.out_channels) {
  CHECK_GE(shape.in_channels, 1);
  CHECK_GE(shape.out_channels, 1);
  CHECK_GE(shape.height, 1);
  CHECK_GE(shape.width, 1);
  CHECK_GE(shape.kernel_h, 1);
  CHECK_GE(shape.kernel_w, 1);
  CHECK_GE(shape.pad_h, 0);
  CHECK_GE(shape.pad_w, 0);
  CHECK_GE(shape.out_height(), 1);
  CHECK_GE(shape.out_width(), 1);
}

Conv2d::~Conv2d() = default;
Conv2d::Conv2d(Conv2d&&) = default;
Conv2d& Conv2d::operator=(Conv2d&&) = default;

void Conv2d::InitXavierNormal(double gain, uint64_t seed, uint64_t layer_index) {
  Rng rng(Rng::DeriveSeed(seed, layer_index));
  const double receptive = static_cast<double>(shape_.kernel_h) * shape_.kernel_w;
  const double fan_in = shape_.in_channels * receptive;
  const double fan_out = shape_.out_channels * receptive;
  const double stddev = gain * std::sqrt(2.0 / (fan_in + fan_out));
  float* w = weights_.data();
  for (int64_t k = 0; k < weights_.size(); ++k) w[k] = static_cast<float>(stddev * rng.Normal());
  std::fill(bias_.data(), bias_.data() + bias_.size(), 0.0f);
}

absl::StatusOr<Conv2d::Plan*> Conv2d::ForwardPlan(int batch) {
  auto it = plans_.find(batch);
  if (it != plans_.end()) return it->second.get();
  auto plan = std::make_unique<Plan>();
  const Conv2dShape& s = shape_;
  RETURN_IF_ERROR(DnnlCall("Conv2d forward primitive", [&] {
    const memory::desc src_md({batch, s.in_channels, s.height, s.width}, kF32, Tag::nchw);
    const memory::desc dst_md({batch, s.out_channels, s.out_height(), s.out_width()}, kF32,
                              Tag::nchw);
    const memory::desc weights_md({s.out_channels, s.in_channels, s.kernel_h, s.kernel_w}, kF32,
                                  Tag::oihw);
    const memory::desc bias_md({s.out_channels}, kF32, Tag::x);
    const dnnl::convolution_forward::desc desc(
        dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, src_md, weights_md,
        bias_md, dst_md, {1, 1}, {s.pad_h, s.pad_w}, {s.pad_h, s.pad_w});
    plan->forward_pd =
        dnnl::convolution_forward::primitive_desc(desc, UserScratchpad(), CpuEngine());
    plan->src = memory(src_md, CpuEngine(), DNNL_MEMORY_NONE);
    plan->dst = memory(dst_md, CpuEngine(), DNNL_MEMORY_NONE);
    plan->weights = memory(weights_md, CpuEngine(), weights_.data());
    plan->bias = memory(bias_md, CpuEngine(), bias_.data());
    plan->forward.Init(dnnl::convolution_forward(plan->forward_pd), plan->forward_pd,
                       {{DNNL_ARG_SRC, &plan->src},
                        {DNNL_ARG_WEIGHTS, &plan->weights},
                        {DNNL_ARG_BIAS, &plan->bias},
                        {DNNL_ARG_DST, &plan->dst}});
  }));
  Plan* result = plan.get();
  plans_.emplace(batch, std::move(plan));
  return result;
}

absl::Status Conv2d::BuildBackward(Plan& plan) {
  const Conv2dShape& s = shape_;
  RETURN_IF_ERROR(DnnlCall("Conv2d backward primitives", [&] {
    const memory::desc src_md = plan.src.get_desc();
    const memory::desc dst_md = plan.dst.get_desc();
    const memory::desc weights_md = plan.weights.get_desc();
    const memory::desc bias_md = plan.bias.get_desc();
    const memory::dims strides = {1, 1}, padding = {s.pad_h, s.pad_w};

    const dnnl::convolution_backward_data::desc data_desc(
        dnnl::algorithm::convolution_direct, src_md, weights_md, dst_md, strides, padding, padding);
    const dnnl::convolution_backward_data::primitive_desc data_pd(data_desc, UserScratchpad(),
                                                                  CpuEngine(), plan.forward_pd);
    const dnnl::convolution_backward_weights::desc weights_desc(dnnl::algorithm::convolution_direct,
                                                                src_md, weights_md, bias_md, dst_md,
                                                                strides, padding, padding);
    const dnnl::convolution_backward_weights::primitive_desc weights_pd(
        weights_desc, UserScratchpad(), CpuEngine(), plan.forward_pd);

    plan.diff_src = memory(src_md, CpuEngine(), DNNL_MEMORY_NONE);
    plan.diff_dst = memory(dst_md, CpuEngine(), DNNL_MEMORY_NONE);
    plan.bwd_src = memory(src_md, CpuEngine(), DNNL_MEMORY_NONE);
    plan.bwd_diff_dst = memory(dst_md, CpuEngine(), DNNL_MEMORY_NONE);
    plan.bwd_weights = memory(weights_md, CpuEngine(), weights_.data());
    plan.diff_weights = memory(weights_md, CpuEngine(), d_weights_.data());
    plan.diff_bias = memory(bias_md, CpuEngine(), d_bias_.data());
    plan.backward_data.Init(dnnl::convolution_backward_data(data_pd), data_pd,
                            {{DNNL_ARG_DIFF_DST, &plan.diff_dst},
                             {DNNL_ARG_WEIGHTS, &plan.bwd_weights},
                             {DNNL_ARG_DIFF_SRC, &plan.diff_src}});
    plan.backward_weights.Init(dnnl::convolution_backward_weights(weights_pd), weights_pd,
                               {{DNNL_ARG_SRC, &plan.bwd_src},
                                {DNNL_ARG_DIFF_DST, &plan.bwd_diff_dst},
                                {DNNL_ARG_DIFF_WEIGHTS, &plan.diff_weights},
                                {DNNL_ARG_DIFF_BIAS, &plan.diff_bias}});
  }));
  plan.has_backward = true;
  return absl::OkStatus();
}

absl::Status Conv2d::Forward(const float* x, int batch, float* y) {
  RETURN_IF_ERROR(CheckBatch(batch, "Conv2d::Forward"));
  ASSIGN_OR_RETURN(Plan * plan, ForwardPlan(batch));
  RETURN_IF_ERROR(DnnlCall("Conv2d::Forward set handles", [&] {
    SetHandle(plan->src, x);
    SetHandle(plan->dst, y);
  }));
  return plan->forward.Run("Conv2d::Forward");
}

absl::Status Conv2d::Backward(const float* x, const float* dy, int batch, float* dx,
                              Nonlinearity dx_nonlinearity, const float* dx_preactivation,
                              Optimizer& optimizer, int slot) {
  RETURN_IF_ERROR(CheckBatch(batch, "Conv2d::Backward"));
  ASSIGN_OR_RETURN(Plan * plan, ForwardPlan(batch));
  if (!plan->has_backward) RETURN_IF_ERROR(BuildBackward(*plan));
  RETURN_IF_ERROR(DnnlCall("Conv2d::Backward set handles", [&] {
    SetHandle(plan->bwd_src, x);
    SetHandle(plan->bwd_diff_dst, dy);
    if (dx != nullptr) {
      SetHandle(plan->diff_dst, dy);
      SetHandle(plan->diff_src, dx);
    }
  }));
  // dx first: it needs W before the optimiser changes it.
  if (dx != nullptr) {
    RETURN_IF_ERROR(plan->backward_data.Run("Conv2d::Backward (data)"));
    if (dx_preactivation != nullptr) {
      MultiplyByNonlinearityDerivative(dx_nonlinearity, dx_preactivation, dx,
                                       int64_t{batch} * in_size());
    }
  }
  RETURN_IF_ERROR(plan->backward_weights.Run("Conv2d::Backward (weights)"));
  optimizer.Apply(slot, weights_.data(), d_weights_.data(), weights_.size());
  optimizer.Apply(slot + 1, bias_.data(), d_bias_.data(), bias_.size());
  return absl::OkStatus();
}

// ---- Pool2d ----

struct Pool2d::Plan {
  memory src, dst, diff_src, diff_dst, workspace;
  AlignedBuffer workspace_buffer;  // max positions of the last Forward (max pooling)
  Runnable forward;
  dnnl::pooling_forward::primitive_desc forward_pd;
  bool forward_done = false;
  bool has_backward = false;
  Runnable backward;
};

Pool2d::Pool2d(PoolKind kind, int channels, int height, int width)
    : kind_(kind), channels_(channels), height_(height), width_(width) {
  CHECK_GE(channels, 1);
  CHECK_GE(height, 2);
  CHECK_GE(width, 2);
}

Pool2d::~Pool2d() = default;
Pool2d::Pool2d(Pool2d&&) = default;
Pool2d& Pool2d::operator=(Pool2d&&) = default;

namespace {

dnnl::algorithm PoolAlgorithm(PoolKind kind) {
  // No padding, so including or excluding it is the same mean over 4 values.
  return kind == PoolKind::kMax ? dnnl::algorithm::pooling_max
                                : dnnl::algorithm::pooling_avg_include_padding;
}

}  // namespace

absl::StatusOr<Pool2d::Plan*> Pool2d::ForwardPlan(int batch) {
  auto it = plans_.find(batch);
  if (it != plans_.end()) return it->second.get();
  auto plan = std::make_unique<Plan>();
  RETURN_IF_ERROR(DnnlCall("Pool2d primitives", [&] {
    const memory::desc src_md({batch, channels_, height_, width_}, kF32, Tag::nchw);
    const memory::desc dst_md({batch, channels_, out_height(), out_width()}, kF32, Tag::nchw);
    const memory::dims strides = {2, 2}, kernel = {2, 2}, padding = {0, 0};
    const dnnl::pooling_forward::desc desc(dnnl::prop_kind::forward_training, PoolAlgorithm(kind_),
                                           src_md, dst_md, strides, kernel, padding, padding);
    plan->forward_pd = dnnl::pooling_forward::primitive_desc(desc, UserScratchpad(), CpuEngine());
    plan->src = memory(src_md, CpuEngine(), DNNL_MEMORY_NONE);
    plan->dst = memory(dst_md, CpuEngine(), DNNL_MEMORY_NONE);
    std::vector<std::pair<int, const memory*>> args = {{DNNL_ARG_SRC, &plan->src},
                                                       {DNNL_ARG_DST, &plan->dst}};
    const memory::desc workspace_md = plan->forward_pd.workspace_desc();
    if (workspace_md.get_size() > 0) {
      plan->workspace_buffer.Reset(
          static_cast<int64_t>((workspace_md.get_size() + sizeof(float) - 1) / sizeof(float)));
      plan->workspace = memory(workspace_md, CpuEngine(), plan->workspace_buffer.data());
      args.push_back({DNNL_ARG_WORKSPACE, &plan->workspace});
    }
    plan->forward.Init(dnnl::pooling_forward(plan->forward_pd), plan->forward_pd, args);
  }));
  Plan* result = plan.get();
  plans_.emplace(batch, std::move(plan));
  return result;
}

absl::Status Pool2d::Forward(const float* x, int batch, float* y) {
  RETURN_IF_ERROR(CheckBatch(batch, "Pool2d::Forward"));
  ASSIGN_OR_RETURN(Plan * plan, ForwardPlan(batch));
  RETURN_IF_ERROR(DnnlCall("Pool2d::Forward set handles", [&] {
    SetHandle(plan->src, x);
    SetHandle(plan->dst, y);
  }));
  RETURN_IF_ERROR(plan->forward.Run("Pool2d::Forward"));
  plan->forward_done = true;
  return absl::OkStatus();
}

absl::Status Pool2d::Backward(const float* dy, int batch, float* dx) {
  RETURN_IF_ERROR(CheckBatch(batch, "Pool2d::Backward"));
  auto it = plans_.find(batch);
  if (it == plans_.end() || !it->second->forward_done) {
    return absl::FailedPreconditionError(
        absl::StrCat("Pool2d::Backward: no Forward at batch ", batch));
  }
  Plan& plan = *it->second;
  if (!plan.has_backward) {
    RETURN_IF_ERROR(DnnlCall("Pool2d backward primitive", [&] {
      const memory::desc src_md = plan.src.get_desc();
      const memory::desc dst_md = plan.dst.get_desc();
      const memory::dims strides = {2, 2}, kernel = {2, 2}, padding = {0, 0};
      const dnnl::pooling_backward::desc desc(PoolAlgorithm(kind_), src_md, dst_md, strides, kernel,
                                              padding, padding);
      const dnnl::pooling_backward::primitive_desc pd(desc, UserScratchpad(), CpuEngine(),
                                                      plan.forward_pd);
      plan.diff_src = memory(src_md, CpuEngine(), DNNL_MEMORY_NONE);
      plan.diff_dst = memory(dst_md, CpuEngine(), DNNL_MEMORY_NONE);
      std::vector<std::pair<int, const memory*>> args = {{DNNL_ARG_DIFF_DST, &plan.diff_dst},
                                                         {DNNL_ARG_DIFF_SRC, &plan.diff_src}};
      if (plan.workspace) args.push_back({DNNL_ARG_WORKSPACE, &plan.workspace});
      plan.backward.Init(dnnl::pooling_backward(pd), pd, args);
    }));
    plan.has_backward = true;
  }
  RETURN_IF_ERROR(DnnlCall("Pool2d::Backward set handles", [&] {
    SetHandle(plan.diff_dst, dy);
    SetHandle(plan.diff_src, dx);
  }));
  return plan.backward.Run("Pool2d::Backward");
}

}  // namespace replearn
