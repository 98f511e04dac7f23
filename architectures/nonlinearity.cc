#include "architectures/nonlinearity.h"

namespace replearn {
namespace {

// One loop per nonlinearity with the switch hoisted out, so each loop body is a constant
// expression the compiler can inline (and, for the piecewise-linear ones, vectorise).
template <Nonlinearity kF>
void ApplyLoop(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = NonlinearityValue<float>(kF, x[i]);
}

template <Nonlinearity kF>
void DerivativeLoop(const float* __restrict x, float* __restrict g, int64_t n) {
  for (int64_t i = 0; i < n; ++i) g[i] *= NonlinearityDerivative<float>(kF, x[i]);
}

}  // namespace

void ApplyNonlinearity(Nonlinearity f, const float* x, float* y, int64_t n) {
  switch (f) {
    case RELU:
      return ApplyLoop<RELU>(x, y, n);
    case LEAKY_RELU:
      return ApplyLoop<LEAKY_RELU>(x, y, n);
    case TANH:
      return ApplyLoop<TANH>(x, y, n);
    case ELU:
      return ApplyLoop<ELU>(x, y, n);
    case SILU:
      return ApplyLoop<SILU>(x, y, n);
    case GELU:
      return ApplyLoop<GELU>(x, y, n);
    case NONE:
    default:
      if (x != y) ApplyLoop<NONE>(x, y, n);
      return;
  }
}

void MultiplyByNonlinearityDerivative(Nonlinearity f, const float* x, float* g, int64_t n) {
  switch (f) {
    case RELU:
      return DerivativeLoop<RELU>(x, g, n);
    case LEAKY_RELU:
      return DerivativeLoop<LEAKY_RELU>(x, g, n);
    case TANH:
      return DerivativeLoop<TANH>(x, g, n);
    case ELU:
      return DerivativeLoop<ELU>(x, g, n);
    case SILU:
      return DerivativeLoop<SILU>(x, g, n);
    case GELU:
      return DerivativeLoop<GELU>(x, g, n);
    case NONE:
    default:
      return;
  }
}

}  // namespace replearn
