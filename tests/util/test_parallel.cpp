// bcp::util::parallel_for covers its range once and, unlike at::parallel_for called from a file
// compiled without OpenMP, uses more than one thread.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "bcp/util/parallel.h"

#include "../scoped_threads.h"
namespace bcp_test_parallel {

TEST(ParallelFor, CoversTheRangeOnceOnSeveralThreads) {
  if (std::thread::hardware_concurrency() < 2) GTEST_SKIP() << "SKIPPED: needs 2 cores";
  std::vector<std::atomic<int>> hits(1000);
  std::mutex mutex;
  std::set<std::thread::id> threads;
  {
    const bcp::test::ScopedThreads two(2);
    bcp::util::parallel_for(0, 1000, 1, [&](int64_t begin, int64_t end) {
      {
        std::lock_guard<std::mutex> lock(mutex);
        threads.insert(std::this_thread::get_id());
      }
      for (int64_t i = begin; i < end; ++i) hits[static_cast<size_t>(i)]++;
    });
  }
  for (size_t i = 0; i < hits.size(); ++i) ASSERT_EQ(hits[i].load(), 1) << "index " << i;
  EXPECT_EQ(threads.size(), 2u);
}

TEST(ParallelFor, RunsSmallRangesInline) {
  std::vector<std::thread::id> seen;
  bcp::util::parallel_for(0, 10, 100, [&](int64_t begin, int64_t end) {
    EXPECT_EQ(begin, 0);
    EXPECT_EQ(end, 10);
    seen.push_back(std::this_thread::get_id());
  });
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], std::this_thread::get_id());
}

}  // namespace bcp_test_parallel
