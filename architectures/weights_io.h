// A network's parameters as a .npz archive: the layout architecture.init_npz reads
// (experiments/trial.cc), so a saved network can be the start of another run.
//
// One float32 member per Parameter, in parameters() order, named as the parameter ("W0",
// "b0", ...) with its shape; stored uncompressed, like numpy.savez.
#ifndef REPLEARN_ARCHITECTURES_WEIGHTS_IO_H_
#define REPLEARN_ARCHITECTURES_WEIGHTS_IO_H_

#include <string>

#include "absl/status/status.h"
#include "architectures/architecture.h"

namespace replearn {

// Writes `net`'s parameters to `path` atomically (core/npy.h WriteNpz).
absl::Status SaveWeights(Architecture& net, const std::string& path);

}  // namespace replearn

#endif  // REPLEARN_ARCHITECTURES_WEIGHTS_IO_H_
