// Helpers shared by the architecture tests (testonly).
#ifndef REPLEARN_ARCHITECTURES_TEST_UTIL_H_
#define REPLEARN_ARCHITECTURES_TEST_UTIL_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "architectures/architecture.h"
#include "architectures/optimizer.h"
#include "core/rng.h"
#include "glog/logging.h"
#include "google/protobuf/text_format.h"
#include "proto/experiment.pb.h"

namespace replearn {
namespace test {

// A text-format ArchitectureSpec, e.g. "mlp { depth: 2 width: 4 }"; dies on a parse error.
inline ArchitectureSpec ParseSpec(const std::string& text) {
  ArchitectureSpec spec;
  CHECK(google::protobuf::TextFormat::ParseFromString(text, &spec)) << text;
  return spec;
}

inline BuildContext Context(int input_dim, int output_dim, uint64_t seed) {
  BuildContext ctx;
  ctx.input_dim = input_dim;
  ctx.output_dim = output_dim;
  ctx.seed = seed;
  return ctx;
}

inline std::unique_ptr<Architecture> CreateOrDie(const std::string& text, const BuildContext& ctx) {
  absl::StatusOr<std::unique_ptr<Architecture>> net = CreateArchitecture(ParseSpec(text), ctx);
  CHECK(net.ok()) << net.status();
  return *std::move(net);
}

inline absl::Status CreateStatus(const std::string& text, const BuildContext& ctx) {
  return CreateArchitecture(ParseSpec(text), ctx).status();
}

// n standard-normal floats from Rng(seed).
inline std::vector<float> RandomVector(int64_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (float& e : v) e = static_cast<float>(rng.Normal());
  return v;
}

// A copy of every parameter tensor, in parameters() order.
inline std::vector<std::vector<float>> Snapshot(Architecture& net) {
  std::vector<std::vector<float>> values;
  for (const Parameter& p : net.parameters()) values.emplace_back(p.data, p.data + p.size());
  return values;
}

// Records the gradient of each slot and leaves the parameters alone: how tests read dL/dp
// from Architecture::Backward.
class RecordingOptimizer final : public Optimizer {
 public:
  float fused_sgd_rate() const override { return 0.0f; }
  void Apply(int slot, float* /*param*/, const float* grad, int64_t n) override {
    grads[slot].assign(grad, grad + n);
  }
  std::map<int, std::vector<float>> grads;
};

}  // namespace test
}  // namespace replearn

#endif  // REPLEARN_ARCHITECTURES_TEST_UTIL_H_
