// The "resnet" architecture: the paper's residual MLP (docs/theory.md section 7),
//   h_0 = f(W_0 x + b_0),  h_1 = f(W_1 h_0 + b_1),
//   h_k = f(W_k h_{k-1} + b_k) + h_{k-2}   for k = 2 .. depth - 1,
//   y = W_depth h_{depth-1} + b_depth,
// i.e. the mlp network (mlp.cc) with the skip added after the activation from two layers
// back. Backward adds dL/dh_{k+2} to dL/dh_k before multiplying by f'.
//
// Example spec: architecture { resnet { depth: 20 width: 500 gain: 0.1 } }
#include <memory>

#include "architectures/architecture.h"
#include "architectures/mlp.h"

namespace replearn {
namespace {

absl::StatusOr<std::unique_ptr<Architecture>> CreateResnet(const ArchitectureSpec& spec,
                                                           const BuildContext& ctx) {
  MlpOptions o = CommonMlpOptions(spec.resnet(), "architecture.resnet");
  o.skip = true;
  return BuildMlp(o, ctx);
}

}  // namespace

REGISTER_ARCHITECTURE("resnet", CreateResnet);

}  // namespace replearn
