// The fully connected network behind the "mlp" (mlp.cc) and "resnet" (resnet.cc) plugins:
// one implementation with an optional skip from two layers back and optional dropout.
#ifndef REPLEARN_ARCHITECTURES_MLP_H_
#define REPLEARN_ARCHITECTURES_MLP_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "architectures/architecture.h"
#include "proto/experiment.pb.h"

namespace replearn {

struct MlpOptions {
  std::string field;  // "architecture.mlp" or "architecture.resnet", for messages
  int depth = 0;
  int width = 0;
  Nonlinearity nonlinearity = NONE;
  double gain = 0;
  int input_dim = 0;   // 0 = from the dataset
  int output_dim = 0;  // 0 = from the dataset
  double dropout = 0;  // in [0, 1)
  bool skip = false;   // h_k += h_{k-2} for k >= 2, after the activation
};

// The options MlpSpec and ResnetSpec share (same field names).
template <typename Spec>
MlpOptions CommonMlpOptions(const Spec& spec, const char* field) {
  MlpOptions o;
  o.field = field;
  o.depth = spec.depth();
  o.width = spec.width();
  o.nonlinearity = spec.nonlinearity();
  o.gain = spec.gain();
  o.input_dim = spec.input_dim();
  o.output_dim = spec.output_dim();
  return o;
}

// Validates the options (every problem at once, each naming options.field and the value)
// and builds the network (mlp.cc documents it).
absl::StatusOr<std::unique_ptr<Architecture>> BuildMlp(const MlpOptions& options,
                                                       const BuildContext& ctx);

}  // namespace replearn

#endif  // REPLEARN_ARCHITECTURES_MLP_H_
