#include "architectures/weights_io.h"

#include "core/npy.h"

namespace replearn {

absl::Status SaveWeights(Architecture& net, const std::string& path) {
  NpzMembers members;
  for (const Parameter& p : net.parameters()) {
    members.emplace_back(p.name,
                         NpyArray::Float32(p.shape, {p.data, static_cast<size_t>(p.size())}));
  }
  return WriteNpz(path, members);
}

}  // namespace replearn
