// CurveLog: the tidy time series every probe writes to, saved as curves.csv:
//   step,layer,quantity,value
// `step` counts the updates applied before the measurement (0 = the initial network);
// `layer` is the 0-based hidden-layer index for per-layer quantities (h) and empty (-1
// in memory) otherwise. Rows keep the order they were added in, so a run is reproducible
// byte for byte.
#ifndef REPLEARN_METRICS_CURVE_LOG_H_
#define REPLEARN_METRICS_CURVE_LOG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace replearn {

class CurveLog {
 public:
  struct Row {
    int64_t step;
    int layer;             // -1 = not per layer
    const char* quantity;  // a string literal ("h", "y", ...)
    double value;
  };

  void Add(int64_t step, int layer, const char* quantity, double value) {
    rows_.push_back({step, layer, quantity, value});
  }
  const std::vector<Row>& rows() const { return rows_; }
  // Last value of (quantity, layer), or NaN when there is none.
  double Last(const char* quantity, int layer = -1) const;
  // First value of (quantity, layer), or NaN.
  double First(const char* quantity, int layer = -1) const;

  std::string ToCsv() const;
  absl::Status WriteCsv(const std::string& path) const;  // atomically

 private:
  std::vector<Row> rows_;
};

}  // namespace replearn

#endif  // REPLEARN_METRICS_CURVE_LOG_H_
