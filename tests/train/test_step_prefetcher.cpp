#include <gtest/gtest.h>
#include <torch/torch.h>

#include <numeric>
#include <random>

#include "bcp/train/config.h"
#include "bcp/train/step_prefetcher.h"
#include "bcp/train/steps.h"

using namespace bcp;
using namespace bcp::train;

namespace {

/// Twelve random 40x40 slices: 6 labeled, 6 unlabeled.
TrainingSet small_set() {
  torch::manual_seed(9);
  TrainingSet set;
  for (int i = 0; i < 12; ++i) {
    std::string name = "s";  // appended: "s" + to_string trips GCC 12's C++20 -Wstringop-overflow
    name += std::to_string(i);
    set.names.push_back(name);
    set.images.push_back(torch::rand({40, 40}));
    set.labels.push_back(torch::randint(0, 4, {40, 40}).to(torch::kUInt8));
  }
  set.labeled = 6;
  return set;
}

TrainConfig small_config() {
  TrainConfig c = preset("acdc", 5, "bcp");
  c.data.patch = {32, 32};
  c.batch = {4, 4};
  return c;
}

data::TwoStreamSampler sampler_for(const TrainingSet& set, const TrainConfig& c) {
  std::vector<int64_t> l(6), u(6);
  std::iota(l.begin(), l.end(), 0);
  std::iota(u.begin(), u.end(), 6);
  return data::TwoStreamSampler(l, u, c.batch.labeled, c.batch.unlabeled, 77);
}

void expect_same(const StepInputs& a, const StepInputs& b) {
  EXPECT_TRUE(torch::equal(a.labeled.images, b.labeled.images));
  EXPECT_TRUE(torch::equal(a.labeled.labels, b.labeled.labels));
  EXPECT_TRUE(torch::equal(a.unlabeled.images, b.unlabeled.images));
  EXPECT_TRUE(torch::equal(a.mask, b.mask));
}

}  // namespace

TEST(StepPrefetcher, BackgroundInputsEqualDrawingEachStepInTurn) {
  const TrainingSet set = small_set();
  const TrainConfig c = small_config();
  auto s1 = sampler_for(set, c);
  auto s2 = sampler_for(set, c);
  std::mt19937_64 r1(5), r2(5);
  StepPrefetcher background(c, set, StepKind::kBcpSelftrain, s1, r1, true);
  for (int step = 0; step < 5; ++step) {
    auto [li, ui] = s2.next();
    StepInputs direct = prepare_step_inputs(c, set, StepKind::kBcpSelftrain, li, ui, r2);
    expect_same(background.next(), direct);
  }
}

TEST(StepPrefetcher, SavedStatesRedrawTheInputsNotYetConsumed) {
  const TrainingSet set = small_set();
  const TrainConfig c = small_config();
  auto sampler = sampler_for(set, c);
  std::mt19937_64 rng(5);
  StepPrefetcher p(c, set, StepKind::kBcpPretrain, sampler, rng, true);
  p.next();
  p.next();
  // A checkpoint now holds these states; the next inputs (already prepared in the background)
  // must be what a resumed run draws first.
  const std::string sampler_state = p.sampler_state(), rng_state = p.rng_state();
  StepInputs expected = p.next();

  auto resumed_sampler = sampler_for(set, c);
  resumed_sampler.load_state(sampler_state);
  std::mt19937_64 resumed_rng;
  rng_from_string(resumed_rng, rng_state, "test");
  StepPrefetcher resumed(c, set, StepKind::kBcpPretrain, resumed_sampler, resumed_rng, false);
  StepInputs again = resumed.next();
  EXPECT_TRUE(torch::equal(again.labeled.images, expected.labeled.images));
  EXPECT_TRUE(torch::equal(again.mask, expected.mask));
  EXPECT_FALSE(again.unlabeled.images.defined());  // pre-training draws no unlabeled batch
  EXPECT_THROW(rng_from_string(resumed_rng, "not a state", "ckpt.h5"), std::runtime_error);
}
