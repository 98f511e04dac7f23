// XOR (docs/theory.md section 7): inputs (0, 0), (0, 1), (1, 0), (1, 1); targets 0, 1, 1, 0.
// Example spec:
//   dataset { xor {} }
#include "datasets/dataset.h"

namespace replearn {
namespace {

absl::StatusOr<Dataset> CreateXor(const DatasetSpec&, const DatasetContext&) {
  Dataset data;
  data.x.resize(4, 2);
  data.x << 0, 0,  //
      0, 1,        //
      1, 0,        //
      1, 1;
  data.y.resize(4, 1);
  data.y << 0, 1, 1, 0;
  data.labels = {0, 1, 1, 0};
  return data;
}

}  // namespace

REGISTER_DATASET("xor", CreateXor);

}  // namespace replearn
