// The per-step quantities of docs/theory.md section 1 for a pair of examples (x1, y1*), (x2, y2*)
// with network outputs yhat1, yhat2. All sums in double.
//
//   h    = ||a(x2) - a(x1)||^2                      (per hidden layer; SquaredDistance)
//   y    = ||yhat2 - yhat1||^2
//   w    = y - (y2* - y1*) . (yhat2 - yhat1)        (alignment; 0 at zero loss)
//   ybar = ||(yhat1 + yhat2)/2 - (y1* + y2*)/2||^2  (mean-output error)
//   loss = 1/2 * mean over the two points of ||yhat_i - y_i*||^2
//
// The loss sums over output units (it does not average over them), so [LOSS-SPLIT]
//   loss = 1/2 ybar + 1/4 (w + (dy2 - y)/2),  dy2 = ||y2* - y1*||^2
// holds exactly for every output dimension.
#ifndef REPLEARN_METRICS_TWO_POINT_MEASURES_H_
#define REPLEARN_METRICS_TWO_POINT_MEASURES_H_

namespace replearn {

double SquaredDistance(const float* a, const float* b, int dim);

struct OutputMeasures {
  double y = 0;
  double w = 0;
  double ybar = 0;
  double loss = 0;
};

OutputMeasures MeasureOutputs(const float* yhat1, const float* yhat2, const float* target1,
                              const float* target2, int dim);

}  // namespace replearn

#endif  // REPLEARN_METRICS_TWO_POINT_MEASURES_H_
