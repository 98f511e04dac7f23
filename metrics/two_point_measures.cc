#include "metrics/two_point_measures.h"

namespace replearn {

double SquaredDistance(const float* a, const float* b, int dim) {
  double sum = 0;
  for (int i = 0; i < dim; ++i) {
    const double d = static_cast<double>(b[i]) - static_cast<double>(a[i]);
    sum += d * d;
  }
  return sum;
}

OutputMeasures MeasureOutputs(const float* yhat1, const float* yhat2, const float* target1,
                              const float* target2, int dim) {
  OutputMeasures m;
  double align = 0, e1 = 0, e2 = 0;
  for (int i = 0; i < dim; ++i) {
    const double d = static_cast<double>(yhat2[i]) - yhat1[i];
    const double dt = static_cast<double>(target2[i]) - target1[i];
    const double mean_err = 0.5 * (static_cast<double>(yhat1[i]) + yhat2[i]) -
                            0.5 * (static_cast<double>(target1[i]) + target2[i]);
    const double r1 = static_cast<double>(yhat1[i]) - target1[i];
    const double r2 = static_cast<double>(yhat2[i]) - target2[i];
    m.y += d * d;
    align += dt * d;
    m.ybar += mean_err * mean_err;
    e1 += r1 * r1;
    e2 += r2 * r2;
  }
  m.w = m.y - align;
  m.loss = 0.25 * (e1 + e2);
  return m;
}

}  // namespace replearn
