#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <set>
#include <stdexcept>

#include "bcp/data/two_stream_sampler.h"

namespace {

using bcp::data::TwoStreamSampler;

std::vector<int64_t> range(int64_t lo, int64_t hi) {
  std::vector<int64_t> v(static_cast<size_t>(hi - lo));
  std::iota(v.begin(), v.end(), lo);
  return v;
}

TEST(TwoStreamSampler, EachLabeledIndexOncePerEpoch) {
  TwoStreamSampler s(range(0, 12), range(100, 150), 3, 4, 1337);
  EXPECT_EQ(s.batches_per_epoch(), 4);
  std::vector<int64_t> first_epoch_order;
  for (int epoch = 0; epoch < 3; ++epoch) {
    std::vector<int64_t> seen;
    for (int b = 0; b < 4; ++b) {
      auto [l, u] = s.next();
      ASSERT_EQ(l.size(), 3u);
      ASSERT_EQ(u.size(), 4u);
      for (auto i : u) ASSERT_TRUE(i >= 100 && i < 150);
      seen.insert(seen.end(), l.begin(), l.end());
    }
    EXPECT_EQ(s.epoch(), epoch + 1);
    if (epoch == 0)
      first_epoch_order = seen;
    else
      EXPECT_NE(seen, first_epoch_order) << "labeled order must be reshuffled every epoch";
    std::sort(seen.begin(), seen.end());
    EXPECT_EQ(seen, range(0, 12));
  }
}

TEST(TwoStreamSampler, RaggedLabeledTailIsDropped) {
  TwoStreamSampler s(range(0, 10), range(10, 20), 3, 2, 1);
  EXPECT_EQ(s.batches_per_epoch(), 3);
  std::set<int64_t> seen;
  for (int b = 0; b < 3; ++b)
    for (auto i : s.next().first) seen.insert(i);
  EXPECT_EQ(seen.size(), 9u);  // distinct, one left out
  s.next();
  EXPECT_EQ(s.epoch(), 2);
}

TEST(TwoStreamSampler, UnlabeledCyclesThroughPermutations) {
  // 5 unlabeled, 3 per batch, restarted each epoch (the authors' iterate_eternally per __iter__).
  TwoStreamSampler s(range(0, 20), range(100, 105), 2, 3, 7);  // 10 batches per epoch
  std::vector<int64_t> stream;
  for (int b = 0; b < 10; ++b) {
    auto u = s.next().second;
    stream.insert(stream.end(), u.begin(), u.end());
  }
  // 30 draws = 6 consecutive permutations of {100..104}.
  for (int p = 0; p < 6; ++p) {
    std::vector<int64_t> chunk(stream.begin() + 5 * p, stream.begin() + 5 * p + 5);
    std::sort(chunk.begin(), chunk.end());
    EXPECT_EQ(chunk, range(100, 105)) << "permutation " << p;
  }
}

TEST(TwoStreamSampler, UnlabeledRestartsOrContinuesAcrossEpochs) {
  // 2 batches per epoch, 3 of 5 unlabeled per batch: 6 per epoch.
  for (bool restart : {true, false}) {
    TwoStreamSampler s(range(0, 4), range(100, 105), 2, 3, 11, restart);
    std::vector<int64_t> stream;
    for (int b = 0; b < 6; ++b) {
      auto u = s.next().second;
      stream.insert(stream.end(), u.begin(), u.end());
    }
    // Restart: each epoch's 6 draws open with a full permutation; continuing: the whole stream
    // of 18 is a chain of permutations (the 15 first draws are three).
    for (int e = 0; e < 3; ++e) {
      const int64_t start = restart ? 6 * e : 5 * e;
      std::vector<int64_t> chunk(stream.begin() + start, stream.begin() + start + 5);
      std::sort(chunk.begin(), chunk.end());
      EXPECT_EQ(chunk, range(100, 105)) << "restart=" << restart << " chunk " << e;
    }
  }
}

TEST(TwoStreamSampler, DeterministicWithSeed) {
  TwoStreamSampler a(range(0, 30), range(30, 90), 6, 6, 1337),
      b(range(0, 30), range(30, 90), 6, 6, 1337), c(range(0, 30), range(30, 90), 6, 6, 1338);
  bool differs = false;
  for (int i = 0; i < 20; ++i) {
    auto x = a.next(), y = b.next(), z = c.next();
    EXPECT_EQ(x, y);
    differs = differs || x != z;
  }
  EXPECT_TRUE(differs);
}

TEST(TwoStreamSampler, ResumeEqualsUninterrupted) {
  for (int cut : {0, 1, 4, 5, 7, 13}) {
    TwoStreamSampler full(range(0, 11), range(50, 57), 2, 3, 99);
    TwoStreamSampler part(range(0, 11), range(50, 57), 2, 3, 99);
    for (int i = 0; i < cut; ++i) {
      full.next();
      part.next();
    }
    const std::string state = part.save_state();
    TwoStreamSampler resumed(range(0, 11), range(50, 57), 2, 3, 12345);  // seed is overwritten
    resumed.load_state(state);
    EXPECT_EQ(resumed.epoch(), full.epoch());
    EXPECT_EQ(resumed.batches_served(), cut);
    for (int i = 0; i < 25; ++i)
      EXPECT_EQ(resumed.next(), full.next()) << "cut " << cut << " step " << i;
  }
}

TEST(TwoStreamSampler, RejectsBadArgumentsAndForeignState) {
  EXPECT_THROW(TwoStreamSampler(range(0, 2), range(2, 9), 3, 1, 0), std::invalid_argument);
  EXPECT_THROW(TwoStreamSampler(range(0, 4), {}, 2, 1, 0), std::invalid_argument);
  EXPECT_THROW(TwoStreamSampler(range(0, 4), range(4, 8), 0, 1, 0), std::invalid_argument);
  TwoStreamSampler a(range(0, 6), range(6, 20), 2, 2, 0);
  a.next();
  TwoStreamSampler other(range(0, 8), range(8, 20), 2, 2, 0);
  EXPECT_THROW(other.load_state(a.save_state()), std::invalid_argument);
  EXPECT_THROW(a.load_state("garbage"), std::invalid_argument);
  std::string cut = a.save_state();
  cut.resize(cut.size() / 2);
  EXPECT_THROW(a.load_state(cut), std::invalid_argument);
}

}  // namespace
