// Threads for independent tasks whose results must not depend on how many threads run them
// or in which order the tasks finish: each task writes only its own output slot (results[i]),
// so callers get the same results for every thread count. Used by the theory fit (one task per
// layer, theory/fit.h) and by the experiment runner (one task per run, experiments/run.h).
//
// Thread counts follow one convention everywhere (--threads, training.threads, fit threads):
// N > 0 means N threads, 0 means one per core.
#ifndef REPLEARN_CORE_THREAD_POOL_H_
#define REPLEARN_CORE_THREAD_POOL_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace replearn {

// The number of threads a thread-count setting means: `threads` when > 0, else the number of
// cores (std::thread::hardware_concurrency(), at least 1).
int ResolveThreads(int threads);

// Parses a command-line thread count: an integer >= 0 (0 = one per core). The one check of
// every --threads flag: InvalidArgument `<flag> = "<text>"; must be an integer >= 0 (0 = all
// cores)` otherwise.
absl::StatusOr<int> ParseThreads(absl::string_view text, absl::string_view flag = "--threads");

// A --threads value as an absl flag type, checked by ParseThreads:
//   ABSL_FLAG(replearn::ThreadCount, threads, {}, "...");  absl::GetFlag(FLAGS_threads).value
struct ThreadCount {
  int value = 0;
};
bool AbslParseFlag(absl::string_view text, ThreadCount* threads, std::string* error);
std::string AbslUnparseFlag(ThreadCount threads);

// ResolveThreads(threads) threads that run scheduled tasks in the order they were scheduled.
// The destructor runs every task still queued, then joins the threads.
class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(threads_.size()); }
  void Schedule(std::function<void()> task);

 private:
  void Work();

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> tasks_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::vector<std::thread> threads_;
};

// Calls fn(i) once for every i in [0, n) on min(ResolveThreads(threads), n) threads, the
// calling thread being one of them (so threads = 1 runs everything inline), and returns when
// every call has returned.
void ParallelFor(int n, int threads, absl::FunctionRef<void(int)> fn);

}  // namespace replearn

#endif  // REPLEARN_CORE_THREAD_POOL_H_
