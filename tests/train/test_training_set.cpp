// Batches of multi-channel images: every channel takes the same augmentation as the label.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <random>

#include "bcp/train/config.h"
#include "bcp/train/training_set.h"

namespace {

bcp::train::TrainingSet two_channel_set(int64_t rank) {
  torch::manual_seed(5);
  bcp::train::TrainingSet set;
  const std::vector<int64_t> shape =
      rank == 2 ? std::vector<int64_t>{40, 36} : std::vector<int64_t>{30, 28, 24};
  for (int i = 0; i < 3; ++i) {
    auto x = torch::rand(shape);
    // Channel 1 is a function of channel 0, so a shared transform keeps it one.
    set.images.push_back(torch::stack({x, 1.0 - x}));
    set.labels.push_back(x.gt(0.5).to(torch::kUInt8));
    set.names.push_back("case" + std::to_string(i));
  }
  set.labeled = 3;
  return set;
}

}  // namespace

TEST(TrainingSet, ChannelsShareTheAugmentationIn2dAnd3d) {
  for (const char* dataset : {"acdc", "la"}) {
    bcp::train::TrainConfig c = bcp::train::preset(dataset, 5, "supervised");
    c.data.patch = std::string(dataset) == "acdc" ? std::vector<int64_t>{32, 32}
                                                  : std::vector<int64_t>{16, 16, 16};
    c.data.channels = 2;
    const auto set = two_channel_set(std::string(dataset) == "acdc" ? 2 : 3);
    std::mt19937_64 rng(3);
    for (int round = 0; round < 4; ++round) {
      const auto batch = bcp::train::make_batch(set, {0, 1, 2}, c, rng);
      ASSERT_EQ(batch.images.size(1), 2) << dataset;
      EXPECT_EQ(batch.images.sizes().slice(2), batch.labels.sizes().slice(1)) << dataset;
      // Zero padding (LA crops of small volumes) maps channel 1 to 0 as well, so compare where
      // channel 0 has image content.
      auto c0 = batch.images.select(1, 0), c1 = batch.images.select(1, 1);
      auto inside = c0.gt(0) | c1.gt(0);
      EXPECT_TRUE(torch::allclose(c1.masked_select(inside), 1.0 - c0.masked_select(inside)))
          << dataset << " round " << round;
      // The label follows the same transform: it is channel 0 above 0.5.
      EXPECT_TRUE(torch::equal(batch.labels.masked_select(inside),
                               c0.gt(0.5).to(torch::kInt64).masked_select(inside)))
          << dataset;
    }
  }
}
