// The losses a step takes with partial annotations (data.ignore_label): a voxel labeled "not
// annotated" weighs nothing in its region, in both loss families, fused (bf16 training) or not,
// and without such voxels the losses are the plain ones.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>

#include "bcp/data/label_values.h"
#include "bcp/train/config.h"
#include "bcp/train/losses.h"
#include "bcp/train/step_losses.h"

namespace bcp_test_step_losses {

using bcp::data::kIgnoreLabel;
using bcp::train::TrainConfig;

struct Family {
  bcp::data::Dataset dataset;
  bcp::train::Precision precision;
};

std::string name_of(const Family& s) {
  return std::string(s.dataset == bcp::data::Dataset::kAcdc ? "acdc" : "la") +
         (s.precision == bcp::train::Precision::kBf16 ? "_bf16" : "_fp32");
}

TrainConfig config_of(const Family& s, bool ignore) {
  TrainConfig c;
  c.dataset = s.dataset;
  c.precision = s.precision;
  c.data.num_classes = 3;
  c.data.ignore_label = ignore;
  return c;
}

/// Random logits (2, 3, spatial...), two label maps with about a third of their voxels not
/// annotated, and a 0/1 box mask over the spatial axes.
struct Batch {
  torch::Tensor logits, img_label, patch_label, mask;
};

Batch make_batch(const Family& s, uint64_t seed) {
  torch::manual_seed(seed);
  const std::vector<int64_t> spatial = s.dataset == bcp::data::Dataset::kAcdc
                                           ? std::vector<int64_t>{12, 10}
                                           : std::vector<int64_t>{6, 5, 4};
  std::vector<int64_t> shape{2, 3}, label_shape{2};
  shape.insert(shape.end(), spatial.begin(), spatial.end());
  label_shape.insert(label_shape.end(), spatial.begin(), spatial.end());
  Batch b;
  b.logits = torch::randn(shape) * 2;
  for (torch::Tensor* l : {&b.img_label, &b.patch_label}) {
    *l = torch::randint(0, 3, label_shape, torch::kLong);
    *l = l->masked_fill(torch::rand(label_shape) < 0.35, kIgnoreLabel);
  }
  b.mask = torch::zeros(spatial);
  b.mask.narrow(0, 1, spatial[0] / 2).fill_(1);
  return b;
}

/// Where the label that governs a voxel (the image's where the mask is 1, the patch's where it
/// is 0) is "not annotated", broadcast over the class axis.
torch::Tensor unknown_voxels(const Batch& b) {
  const torch::Tensor m = b.mask.to(torch::kBool);
  return ((m & (b.img_label == kIgnoreLabel)) | (~m & (b.patch_label == kIgnoreLabel)))
      .unsqueeze(1)
      .expand_as(b.logits);
}

struct Loss {
  double value;
  torch::Tensor grad;
};

Loss mixed(const TrainConfig& c, const Batch& b, const torch::Tensor& logits, bool unlab) {
  torch::Tensor x = logits.clone().requires_grad_(true);
  const auto r =
      bcp::train::step_mix_loss(c, x, b.img_label, b.patch_label, b.mask, 1.0, 0.5, unlab);
  const torch::Tensor total = r.dice + 0.7 * r.ce;
  total.backward();
  return {total.item<double>(), x.grad()};
}

class StepLosses : public ::testing::TestWithParam<Family> {};

TEST_P(StepLosses, UnannotatedVoxelsGetNoLossAndNoGradient) {
  const TrainConfig c = config_of(GetParam(), true);
  const Batch b = make_batch(GetParam(), 7);
  const torch::Tensor unknown = unknown_voxels(b);
  ASSERT_GT(unknown.sum().item<int64_t>(), 0);
  ASSERT_LT(unknown.sum().item<int64_t>(), unknown.numel());
  for (bool unlab : {false, true}) {
    const Loss base = mixed(c, b, b.logits, unlab);
    EXPECT_TRUE(std::isfinite(base.value));
    EXPECT_EQ(base.grad.masked_select(unknown).abs().max().item<float>(), 0.0f);
    EXPECT_GT(base.grad.masked_select(~unknown).abs().max().item<float>(), 0.0f);
    // Whatever the network says where nobody annotated, the loss is the same.
    const torch::Tensor other = b.logits.masked_fill(unknown, 0) + unknown * 5.0;
    EXPECT_NEAR(mixed(c, b, other, unlab).value, base.value, 1e-6 * std::abs(base.value));
  }
  const torch::Tensor x = b.logits.clone().requires_grad_(true);
  bcp::train::step_supervised_loss(c, x, b.img_label).backward();
  const torch::Tensor unlabeled = (b.img_label == kIgnoreLabel).unsqueeze(1).expand_as(x);
  EXPECT_EQ(x.grad().masked_select(unlabeled).abs().max().item<float>(), 0.0f);
  EXPECT_GT(x.grad().masked_select(~unlabeled).abs().max().item<float>(), 0.0f);
}

// The value: each region's Dice and cross-entropy over its annotated voxels only (the masked
// sums normalise by those voxels), as the family's LibTorch losses compute them with explicit
// masks.
TEST_P(StepLosses, EachRegionIsScoredOnItsAnnotatedVoxelsAlone) {
  const Family s = GetParam();
  const Batch b = make_batch(s, 5);
  namespace T = bcp::train;
  const auto clean = [](const torch::Tensor& l) { return l.masked_fill(l == kIgnoreLabel, 0); };
  const torch::Tensor m = b.mask.expand(b.img_label.sizes());
  const torch::Tensor m_img = m * (b.img_label != kIgnoreLabel);
  const torch::Tensor m_patch = (1 - m) * (b.patch_label != kIgnoreLabel);
  for (bool unlab : {false, true}) {
    const double w_img = unlab ? 0.5 : 1.0, w_patch = unlab ? 1.0 : 0.5;
    const auto dice = [&](const torch::Tensor& label, const torch::Tensor& mask) {
      return s.dataset == bcp::data::Dataset::kAcdc
                 ? T::acdc_dice_loss(torch::softmax(b.logits, 1), clean(label), mask)
                 : T::la_dice_loss(b.logits, clean(label), mask);
    };
    const auto ce = [&](const torch::Tensor& label, const torch::Tensor& mask) {
      return T::masked_cross_entropy(b.logits, clean(label), mask);
    };
    const double want_dice =
        (w_img * dice(b.img_label, m_img) + w_patch * dice(b.patch_label, m_patch)).item<double>();
    const double want_ce =
        (w_img * ce(b.img_label, m_img) + w_patch * ce(b.patch_label, m_patch)).item<double>();
    const auto got = T::step_mix_loss(config_of(s, true), b.logits, b.img_label, b.patch_label,
                                      b.mask, 1.0, 0.5, unlab);
    EXPECT_NEAR(got.dice.item<double>(), want_dice, 1e-5 * std::abs(want_dice)) << unlab;
    EXPECT_NEAR(got.ce.item<double>(), want_ce, 1e-5 * std::abs(want_ce)) << unlab;
  }
}

TEST_P(StepLosses, WithEveryVoxelAnnotatedThePartialLossIsThePlainOne) {
  Batch b = make_batch(GetParam(), 11);
  b.img_label = b.img_label.masked_fill(b.img_label == kIgnoreLabel, 1);
  b.patch_label = b.patch_label.masked_fill(b.patch_label == kIgnoreLabel, 2);
  for (bool unlab : {false, true}) {
    const Loss partial = mixed(config_of(GetParam(), true), b, b.logits, unlab);
    const Loss plain = mixed(config_of(GetParam(), false), b, b.logits, unlab);
    EXPECT_NEAR(partial.value, plain.value, 1e-5 * std::abs(plain.value));
    EXPECT_LT((partial.grad - plain.grad).abs().max().item<float>(),
              1e-5f * plain.grad.abs().max().item<float>());
  }
  const auto supervised = [&](bool ignore) {
    return bcp::train::step_supervised_loss(config_of(GetParam(), ignore), b.logits, b.img_label)
        .item<double>();
  };
  EXPECT_NEAR(supervised(true), supervised(false), 1e-5 * std::abs(supervised(false)));
}

INSTANTIATE_TEST_SUITE_P(
    Families, StepLosses,
    ::testing::Values(Family{bcp::data::Dataset::kAcdc, bcp::train::Precision::kFp32},
                      Family{bcp::data::Dataset::kAcdc, bcp::train::Precision::kBf16},
                      Family{bcp::data::Dataset::kLa, bcp::train::Precision::kFp32},
                      Family{bcp::data::Dataset::kLa, bcp::train::Precision::kBf16}),
    [](const ::testing::TestParamInfo<Family>& info) { return name_of(info.param); });

}  // namespace bcp_test_step_losses
