// Elementwise nonlinearities f applied after every hidden dense layer, and their
// derivatives f' for backprop. x is the pre-activation; all derivatives are taken from x.
//
//   NONE        f(x) = x                               f'(x) = 1
//   RELU        f(x) = x for x > 0, 0 otherwise        f'(x) = 1 for x > 0, 0 for x <= 0
//   LEAKY_RELU  f(x) = x for x > 0, a x otherwise      f'(x) = 1 for x > 0, a for x <= 0
//               with a = kLeakyReluSlope = 0.01, e.g. f(-2) = -0.02
//   TANH        f(x) = tanh(x)                         f'(x) = 1 - tanh(x)^2
//   ELU         f(x) = x for x > 0, e^x - 1 otherwise  f'(x) = 1 for x > 0, e^x for x <= 0
//               (alpha = kEluAlpha = 1, so f is C^1: f'(0) = 1 from both sides)
//   SILU        f(x) = x s(x), s(x) = 1 / (1 + e^-x)   f'(x) = s(x) (1 + x (1 - s(x)))
//   GELU        f(x) = x Phi(x),                       f'(x) = Phi(x) + x phi(x),
//               Phi(x) = (1 + erf(x / sqrt 2)) / 2,    phi(x) = e^(-x^2/2) / sqrt(2 pi)
//               (the exact erf form, not the tanh approximation)
//
// At the kinks of RELU and LEAKY_RELU, f'(0) takes the x <= 0 branch: f'(0) = 0 for RELU
// and a = 0.01 for LEAKY_RELU. This is oneDNN's eltwise_relu convention (its backward uses
// "x > 0 ? 1 : alpha"), so gradients match oneDNN's own primitives bit for bit there.
// f(0) = 0 for every nonlinearity.
//
// The same formulas match oneDNN's eltwise algorithms: NONE = eltwise_linear (alpha 1,
// beta 0), RELU = eltwise_relu (alpha 0), LEAKY_RELU = eltwise_relu (alpha 0.01), TANH =
// eltwise_tanh, ELU = eltwise_elu (alpha 1), SILU = eltwise_swish (alpha 1), GELU =
// eltwise_gelu_erf. nonlinearity_test checks both directions against those primitives.
//
// Evaluation avoids cancellation in the tails: 1 - tanh(x)^2 = 4 e / (1 + e)^2 with
// e = e^(-2|x|); s(x) and 1 - s(x) both come from e^-|x| / (1 + e^-|x|); and
// Phi(x) = erfc(-x / sqrt 2) / 2 rather than (1 + erf(x / sqrt 2)) / 2. So the float
// values keep their relative accuracy where they are tiny: within 1e-6 relative (plus 1e-7
// absolute near the zeros of f') for |x| < 3, and 2e-5 relative out to |x| = 12 where the
// values are ~1e-32. oneDNN's kernels do not (its gelu_erf is a few percent off near
// x = -5; its 1 - tanh^2 has an absolute error of ~1e-7). See nonlinearity_test.
//
// The array functions are one loop per nonlinearity (the switch is outside the loop), so
// NONE, RELU and LEAKY_RELU vectorise (~0.1 ns per element). The transcendental ones call
// the C library's tanhf / expm1f / expf / erfcf per element: ~2-20 ns per element, GELU the
// slowest (forward plus derivative ~0.5-0.8 ms per step of the 20 x 500 network at batch 2).
#ifndef REPLEARN_ARCHITECTURES_NONLINEARITY_H_
#define REPLEARN_ARCHITECTURES_NONLINEARITY_H_

#include <cmath>
#include <cstdint>

#include "proto/experiment.pb.h"

namespace replearn {

inline constexpr double kLeakyReluSlope = 0.01;
inline constexpr double kEluAlpha = 1.0;

// f(x) for one value, in float or double (the array functions use the float version; tests
// use the double one).
template <typename T>
inline T NonlinearityValue(Nonlinearity f, T x) {
  switch (f) {
    case RELU:
      return x > T(0) ? x : T(0);
    case LEAKY_RELU:
      return x > T(0) ? x : T(kLeakyReluSlope) * x;
    case TANH:
      return std::tanh(x);
    case ELU:
      return x > T(0) ? x : T(kEluAlpha) * std::expm1(x);
    case SILU: {
      const T e = std::exp(-std::abs(x));
      const T q = T(1) / (T(1) + e);
      return x * (x >= T(0) ? q : e * q);
    }
    case GELU:
      return T(0.5) * x * std::erfc(-x * T(M_SQRT1_2));
    case NONE:
    default:
      return x;
  }
}

// f'(x) for one value (x is the pre-activation).
template <typename T>
inline T NonlinearityDerivative(Nonlinearity f, T x) {
  switch (f) {
    case RELU:
      return x > T(0) ? T(1) : T(0);
    case LEAKY_RELU:
      return x > T(0) ? T(1) : T(kLeakyReluSlope);
    case TANH: {
      const T e = std::exp(T(-2) * std::abs(x));  // 1 - tanh^2 = 4 e / (1 + e)^2
      return T(4) * e / ((T(1) + e) * (T(1) + e));
    }
    case ELU:
      return x > T(0) ? T(1) : T(kEluAlpha) * std::exp(x);
    case SILU: {
      const T e = std::exp(-std::abs(x));
      const T q = T(1) / (T(1) + e);
      const T s = x >= T(0) ? q : e * q;            // s(x)
      const T one_minus_s = x >= T(0) ? e * q : q;  // 1 - s(x), without cancellation
      return s * (T(1) + x * one_minus_s);
    }
    case GELU: {
      const T cdf = T(0.5) * std::erfc(-x * T(M_SQRT1_2));
      const T pdf = std::exp(T(-0.5) * x * x) * T(0.5 * M_2_SQRTPI * M_SQRT1_2);
      return cdf + x * pdf;
    }
    case NONE:
    default:
      return T(1);
  }
}

// y[i] = f(x[i]) for 0 <= i < n. y may equal x (in place).
void ApplyNonlinearity(Nonlinearity f, const float* x, float* y, int64_t n);

// g[i] *= f'(x[i]) for 0 <= i < n: one chain-rule step of backprop, turning dL/d(f(x))
// into dL/dx. x is the pre-activation. No-op for NONE.
void MultiplyByNonlinearityDerivative(Nonlinearity f, const float* x, float* g, int64_t n);

}  // namespace replearn

#endif  // REPLEARN_ARCHITECTURES_NONLINEARITY_H_
