#include "core/dnnl.h"

#include <omp.h>

namespace replearn {

dnnl::engine& CpuEngine() {
  static dnnl::engine* engine = new dnnl::engine(dnnl::engine::kind::cpu, 0);
  return *engine;
}

dnnl::stream& CpuStream() {
  static dnnl::stream* stream = new dnnl::stream(CpuEngine());
  return *stream;
}

absl::Status DnnlStatus(dnnl_status_t status, const char* what) {
  if (status == dnnl_success) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(what, ": oneDNN status ", static_cast<int>(status), " (",
                                          dnnl_status2str(status), ")"));
}

int DnnlMaxThreads() { return omp_get_max_threads(); }

void SetDnnlThreads(int threads) { omp_set_num_threads(threads < 1 ? 1 : threads); }

}  // namespace replearn
