// A run with no `threads` setting takes OMP_NUM_THREADS when set (as PyTorch does), else the
// cores its affinity mask allows, shared among the machine's ranks.
#include <gtest/gtest.h>
#include <sched.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "../scoped_env.h"
#include "bcp/distributed/distributed.h"
#include "bcp/train/config.h"
#include "bcp/train/trainer.h"
#include "bcp/util/threads.h"

namespace bcp_test_threads {

// Sets or unsets OMP_NUM_THREADS for one scope (CTest sets it to 1 for every test).
struct OmpEnv : bcp::test::ScopedEnv {
  explicit OmpEnv(const char* value) : ScopedEnv({{"OMP_NUM_THREADS", value}}) {}
};

TEST(Threads, OmpNumThreadsIsReadAsOpenMpReadsIt) {
  const std::pair<const char*, int64_t> cases[] = {
      {"3", 3},  {"4,2", 4}, {" 4 ", 4}, {"0", 0},  {"", 0},
      {"4,", 0}, {"two", 0}, {"-1", 0},  {"2x", 0}, {"99999999999", 0}};
  for (const auto& [value, expected] : cases) {
    OmpEnv env(value);
    EXPECT_EQ(bcp::util::omp_num_threads_env(), expected) << "OMP_NUM_THREADS=" << value;
  }
  OmpEnv unset(nullptr);
  EXPECT_EQ(bcp::util::omp_num_threads_env(), 0);
}

TEST(Threads, AvailableCoresFollowTheAffinityMask) {
  cpu_set_t all;
  ASSERT_EQ(sched_getaffinity(0, sizeof(all), &all), 0);
  EXPECT_EQ(bcp::util::available_cores(), CPU_COUNT(&all));
  if (CPU_COUNT(&all) < 2) GTEST_SKIP() << "SKIPPED: needs 2 cores";
  // Pinned to one CPU (as taskset or a cgroup cpuset would), the process sees one core.
  cpu_set_t one;
  CPU_ZERO(&one);
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &all)) {
      CPU_SET(c, &one);
      break;
    }
  ASSERT_EQ(sched_setaffinity(0, sizeof(one), &one), 0);
  const int64_t pinned = bcp::util::available_cores();
  ASSERT_EQ(sched_setaffinity(0, sizeof(all), &all), 0);
  EXPECT_EQ(pinned, 1);
}

TEST(Threads, ARunWithoutAThreadsSettingTakesOmpNumThreadsElseItsShareOfTheCores) {
  const int before = torch::get_num_threads();
  bcp::train::TrainConfig c;
  bcp::distributed::DistEnv one_rank;
  {
    OmpEnv env("3");
    bcp::train::apply_process_settings(c, one_rank);
    EXPECT_EQ(torch::get_num_threads(), 3);
    c.threads = 2;  // the config's own number wins
    bcp::train::apply_process_settings(c, one_rank);
    EXPECT_EQ(torch::get_num_threads(), 2);
    c.threads = 0;
  }
  {
    OmpEnv env(nullptr);
    bcp::train::apply_process_settings(c, one_rank);
    EXPECT_EQ(torch::get_num_threads(), bcp::util::available_cores());
    // Two ranks on this machine share its cores.
    bcp::distributed::DistEnv two_ranks;
    two_ranks.world_size = 2;
    two_ranks.local_world_size = 2;
    bcp::train::apply_process_settings(c, two_ranks);
    EXPECT_EQ(torch::get_num_threads(), std::max<int64_t>(1, bcp::util::available_cores() / 2));
  }
  {
    // OMP_NUM_THREADS is each process's own (torchrun's convention), not divided among ranks.
    OmpEnv env("3");
    bcp::distributed::DistEnv two_ranks;
    two_ranks.world_size = 2;
    two_ranks.local_world_size = 2;
    bcp::train::apply_process_settings(c, two_ranks);
    EXPECT_EQ(torch::get_num_threads(), 3);
  }
  torch::set_num_threads(before);
}

}  // namespace bcp_test_threads
