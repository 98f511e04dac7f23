#include "core/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace replearn {
namespace {

using ::testing::HasSubstr;

TEST(ResolveThreads, ZeroMeansOnePerCore) {
  EXPECT_EQ(ResolveThreads(3), 3);
  EXPECT_EQ(ResolveThreads(0), std::max(1, static_cast<int>(std::thread::hardware_concurrency())));
  EXPECT_GE(ResolveThreads(-2), 1);
}

TEST(ParseThreads, AcceptsCountsAndNamesTheFlagOtherwise) {
  EXPECT_EQ(*ParseThreads("0"), 0);
  EXPECT_EQ(*ParseThreads("12"), 12);
  for (const char* bad : {"-1", "two", "", "1.5"}) {
    const absl::StatusOr<int> parsed = ParseThreads(bad);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(parsed.status().message(),
                HasSubstr(absl::StrCat("--threads = \"", bad, "\"; must be an integer >= 0")));
  }
  EXPECT_THAT(ParseThreads("x", "--rows_threads").status().message(),
              HasSubstr("--rows_threads = \"x\""));
}

TEST(ThreadCount, ParsesAsAnAbslFlagType) {
  ThreadCount threads;
  std::string error;
  EXPECT_TRUE(AbslParseFlag("4", &threads, &error));
  EXPECT_EQ(threads.value, 4);
  EXPECT_EQ(AbslUnparseFlag(threads), "4");
  EXPECT_FALSE(AbslParseFlag("-1", &threads, &error));
  EXPECT_THAT(error, HasSubstr("--threads = \"-1\""));
  EXPECT_EQ(threads.value, 4);
}

TEST(ParallelFor, CallsEveryIndexOnceOnTheRequestedThreads) {
  for (int threads : {1, 2, 5}) {
    std::vector<std::atomic<int>> calls(37);
    std::mutex mu;
    std::set<std::thread::id> ids;
    ParallelFor(37, threads, [&](int i) {
      ++calls[i];
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      std::lock_guard<std::mutex> lock(mu);
      ids.insert(std::this_thread::get_id());
    });
    for (int i = 0; i < 37; ++i) EXPECT_EQ(calls[i], 1) << i;
    EXPECT_LE(static_cast<int>(ids.size()), threads);
    if (threads == 1) EXPECT_EQ(*ids.begin(), std::this_thread::get_id());
  }
  ParallelFor(0, 4, [](int) { ADD_FAILURE() << "no index to run"; });
}

TEST(ThreadPool, RunsEveryTaskBeforeTheDestructorReturns) {
  std::atomic<int> done{0};
  std::vector<int> order;
  std::mutex mu;
  {
    ThreadPool pool(3);
    EXPECT_EQ(pool.size(), 3);
    for (int i = 0; i < 50; ++i) {
      pool.Schedule([&, i] {
        ++done;
        std::lock_guard<std::mutex> lock(mu);
        order.push_back(i);
      });
    }
  }
  EXPECT_EQ(done, 50);
  // One thread starts tasks in scheduling order.
  order.clear();
  {
    ThreadPool pool(1);
    for (int i = 0; i < 10; ++i) {
      pool.Schedule([&, i] {
        std::lock_guard<std::mutex> lock(mu);
        order.push_back(i);
      });
    }
  }
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

}  // namespace
}  // namespace replearn
