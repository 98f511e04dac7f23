#include "core/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace replearn {

int ResolveThreads(int threads) {
  if (threads > 0) return threads;
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

absl::StatusOr<int> ParseThreads(absl::string_view text, absl::string_view flag) {
  int threads = 0;
  if (!absl::SimpleAtoi(text, &threads) || threads < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " = \"", text, "\"; must be an integer >= 0 (0 = all cores)"));
  }
  return threads;
}

bool AbslParseFlag(absl::string_view text, ThreadCount* threads, std::string* error) {
  const absl::StatusOr<int> parsed = ParseThreads(text);
  if (!parsed.ok()) {
    *error = std::string(parsed.status().message());
    return false;
  }
  threads->value = *parsed;
  return true;
}

std::string AbslUnparseFlag(ThreadCount threads) { return absl::StrCat(threads.value); }

ThreadPool::ThreadPool(int threads) {
  const int n = ResolveThreads(threads);
  threads_.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) threads_.emplace_back([this] { Work(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void ThreadPool::Schedule(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    tasks_.push_back(std::move(task));
  }
  wake_.notify_one();
}

void ThreadPool::Work() {
  while (true) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
      if (tasks_.empty()) return;  // stopping, and nothing left to run
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task();
  }
}

void ParallelFor(int n, int threads, absl::FunctionRef<void(int)> fn) {
  if (n <= 0) return;
  const int workers = std::min(ResolveThreads(threads), n);
  std::atomic<int> next{0};
  auto work = [&] {
    for (int i = next++; i < n; i = next++) fn(i);
  };
  std::vector<std::thread> helpers;
  helpers.reserve(static_cast<size_t>(workers - 1));
  for (int t = 1; t < workers; ++t) helpers.emplace_back(work);
  work();
  for (std::thread& t : helpers) t.join();
}

}  // namespace replearn
