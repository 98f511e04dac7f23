// oneDNN engine/stream helpers. oneDNN's C++ API reports failures by throwing
// dnnl::error; DnnlCall is the one place in replearn that catches it and turns it into an
// absl::Status carrying oneDNN's status text. Everything else stays exception-free.
#ifndef REPLEARN_CORE_DNNL_H_
#define REPLEARN_CORE_DNNL_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "oneapi/dnnl/dnnl.hpp"
#include "oneapi/dnnl/dnnl_debug.h"

namespace replearn {

// The process-wide CPU engine and an in-order stream on it (created on first use).
dnnl::engine& CpuEngine();
dnnl::stream& CpuStream();

// Converts a oneDNN C API status (e.g. from dnnl_sgemm) into an absl::Status.
absl::Status DnnlStatus(dnnl_status_t status, const char* what);

// Runs fn(); a dnnl::error it throws becomes an InternalError naming `what`.
template <typename Fn>
absl::Status DnnlCall(const char* what, Fn&& fn) {
  try {
    std::forward<Fn>(fn)();
  } catch (const dnnl::error& e) {
    return absl::InternalError(absl::StrCat(what, ": oneDNN error: ", e.what(), " (status ",
                                            static_cast<int>(e.status), ")"));
  }
  return absl::OkStatus();
}

// Number of threads oneDNN's OpenMP runtime uses in this process.
int DnnlMaxThreads();
// Sets the OpenMP thread count used by oneDNN and replearn's own kernels (>= 1).
void SetDnnlThreads(int threads);

}  // namespace replearn

#endif  // REPLEARN_CORE_DNNL_H_
