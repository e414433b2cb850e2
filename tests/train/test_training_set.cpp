// Batches of multi-channel images: every channel takes the same augmentation as the label.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <random>
#include <string>
#include <vector>

#include "bcp/data/augment.h"
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

/// A batch of two_channel_set: channel 1 is still 1 - channel 0, and the label channel 0 above
/// 0.5, where there is image content (zero padding of LA crops maps channel 1 to 0 as well).
void expect_one_transform(const bcp::train::Batch& batch, const std::string& where) {
  auto c0 = batch.images.select(1, 0), c1 = batch.images.select(1, 1);
  auto inside = c0.gt(0) | c1.gt(0);
  EXPECT_TRUE(torch::allclose(c1.masked_select(inside), 1.0 - c0.masked_select(inside))) << where;
  EXPECT_TRUE(torch::equal(batch.labels.masked_select(inside),
                           c0.gt(0.5).to(torch::kInt64).masked_select(inside)))
      << where;
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
      expect_one_transform(batch, std::string(dataset) + " round " + std::to_string(round));
    }
  }
}

namespace {

/// `count` labeled items, each with one small cube of class 1 (and, in every other item, one of
/// class 2) in a large background: uniform crops rarely hold it.
bcp::train::TrainingSet sparse_set(int64_t rank, int64_t count, int64_t unlabeled) {
  bcp::train::TrainingSet set;
  for (int64_t i = 0; i < count + unlabeled; ++i) {
    const std::vector<int64_t> shape =
        rank == 2 ? std::vector<int64_t>{24, 24} : std::vector<int64_t>{48, 48, 40};
    auto label = torch::zeros(shape, torch::kUInt8);
    using torch::indexing::Slice;
    if (rank == 3) {
      label.index_put_({Slice(3 + i, 6 + i), Slice(40, 43), Slice(2, 5)}, 1);
      if (i % 2) label.index_put_({Slice(30, 32), Slice(5, 7), Slice(30, 32)}, 2);
    } else if (i % 3 == 0) {  // two slices in three hold nothing
      label.index_put_({Slice(10, 14), Slice(10, 14)}, 1 + (i / 3) % 2);
    }
    set.images.push_back(label.to(torch::kFloat32));
    set.labels.push_back(label);
    set.names.push_back("case" + std::to_string(i));
  }
  set.labeled = count;
  return set;
}

}  // namespace

TEST(TrainingSet, ForegroundOversamplingHoldsForegroundInTheLastShareOfTheLabeledBatch) {
  for (const char* dataset : {"la", "acdc"}) {
    SCOPED_TRACE(dataset);
    const bool planar = std::string(dataset) == "acdc";
    bcp::train::TrainConfig c = bcp::train::preset(dataset, 5, "bcp");
    c.data.patch = planar ? std::vector<int64_t>{16, 16} : std::vector<int64_t>{16, 16, 16};
    c.data.num_classes = 3;
    c.data.foreground_oversample = 0.5;
    auto set = sparse_set(planar ? 2 : 3, 6, 6);
    std::mt19937_64 rng(2);
    EXPECT_THROW(bcp::train::make_batch(set, {0, 1}, c, rng), std::logic_error);  // not indexed
    bcp::train::index_foreground(set, c.data.num_classes);
    ASSERT_EQ(set.labeled_with_class.size(), 2u);
    if (!planar) EXPECT_EQ(set.labeled_with_class[1], (std::vector<int64_t>{1, 3, 5}));
    EXPECT_EQ(bcp::train::oversampled_entries(4, 0.5), 2);
    EXPECT_EQ(bcp::train::oversampled_entries(12, 0.33), 4);
    EXPECT_EQ(bcp::train::oversampled_entries(2, 0.33), 1);
    EXPECT_EQ(bcp::train::oversampled_entries(4, 0.0), 0);
    const int rounds = 40;
    // Entries of the list below that held foreground, and the classes the forced ones showed.
    std::vector<int> with_foreground(6, 0), classes_seen(3, 0);
    for (int round = 0; round < rounds; ++round) {
      // Labeled 0..5 and unlabeled 6..11 in one list: only labeled entries count, and of the 4
      // labeled entries the last 2 hold foreground.
      const auto b = bcp::train::make_batch(set, {0, 7, 3, 8, 4, 1}, c, rng);
      for (int64_t n = 0; n < 6; ++n) with_foreground[n] += b.labels[n].gt(0).any().item<bool>();
      for (int64_t n : {4, 5})
        for (int64_t k = 1; k < 3; ++k) classes_seen[k] += b.labels[n].eq(k).any().item<bool>();
    }
    EXPECT_EQ(with_foreground[4], rounds);
    EXPECT_EQ(with_foreground[5], rounds);
    // Both classes are drawn; the unforced entries, labeled (item 3) and unlabeled (items 7 and
    // 8: their labels never choose), are drawn as without oversampling. In 3-D their random
    // crops seldom hold the small cube; in 2-D items 7 and 8 hold nothing and are kept, not
    // replaced, and item 3 (class 2) always holds it.
    EXPECT_GT(classes_seen[1], 0);
    EXPECT_GT(classes_seen[2], 0);
    if (planar) {
      EXPECT_EQ(with_foreground[1] + with_foreground[3], 0);
      EXPECT_EQ(with_foreground[2], rounds);
    } else {
      for (int64_t n : {1, 2, 3}) EXPECT_LT(with_foreground[n], rounds / 2) << "entry " << n;
    }
  }
}

TEST(TrainingSet, OversampledCropsShareTheirTransformAcrossChannels) {
  bcp::train::TrainConfig c = bcp::train::preset("la", 5, "supervised");
  c.data.patch = {16, 16, 16};
  c.data.channels = 2;
  c.data.foreground_oversample = 1.0;
  auto set = two_channel_set(3);
  bcp::train::index_foreground(set, c.data.num_classes);
  std::mt19937_64 rng(4);
  for (int round = 0; round < 4; ++round) {
    expect_one_transform(bcp::train::make_batch(set, {0, 1, 2}, c, rng),
                         "round " + std::to_string(round));
  }
}

TEST(TrainingSet, NoOversamplingDrawsAsTheAuthorsTransform) {
  // Share 0 takes no extra draws: the batch is the recipe's transform applied in order.
  bcp::train::TrainConfig c = bcp::train::preset("la", 5, "bcp");
  c.data.patch = {16, 16, 16};
  const auto set = sparse_set(3, 4, 0);
  std::mt19937_64 a(9), b(9);
  const auto batch = bcp::train::make_batch(set, {2, 0}, c, a);
  bcp::data::LaAugmentOptions opt;
  opt.patch_size = c.data.patch;
  const auto first = bcp::data::la_augment(set.images[2], set.labels[2], b, opt);
  const auto second = bcp::data::la_augment(set.images[0], set.labels[0], b, opt);
  EXPECT_TRUE(torch::equal(batch.images[0][0], first.image));
  EXPECT_TRUE(torch::equal(batch.images[1][0], second.image));
  EXPECT_EQ(a(), b());
}
