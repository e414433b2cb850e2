// The fused mixed losses against acdc_mix_loss and la_mix_loss_parts (LibTorch's operators, the
// authors' arithmetic): values and gradients on the same inputs, thread-count independence, the
// same refusals, and which inputs they take.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "bcp/kernels/fused_mix_loss.h"
#include "bcp/train/losses.h"

#include "../scoped_threads.h"
namespace bcp_test_fused_mix_loss {

using bcp::kernels::fused_acdc_mix_loss;
using bcp::kernels::fused_la_mix_loss_parts;
using bcp::kernels::fuses_mix_loss;
using bcp::train::acdc_mix_loss;
using bcp::train::la_mix_loss_parts;

struct Result {
  double dice, ce;
  torch::Tensor grad;
};

// dice + 0.7 ce, so that both upstream gradients are in play and differ.
template <typename Loss>
Result run(const Loss& loss, const torch::Tensor& logits, const torch::Tensor& a,
           const torch::Tensor& b, const torch::Tensor& mask, double l, double u, bool unlab) {
  torch::Tensor x = logits.clone().requires_grad_(true);
  auto r = loss(x, a, b, mask, l, u, unlab);
  (r.dice + 0.7 * r.ce).backward();
  return {r.dice.template item<double>(), r.ce.template item<double>(), x.grad()};
}

double max_rel(const torch::Tensor& got, const torch::Tensor& want) {
  const auto d = (got.to(torch::kFloat64) - want.to(torch::kFloat64)).abs().max();
  return (d / want.to(torch::kFloat64).abs().max().clamp_min(1e-30)).item<double>();
}

struct Case {
  int64_t n, c, h, w;
  double scale;  // of the logits: 30 makes softmax saturate and exp underflow
  bool box;      // a box mask (else a random one with fractional values)
  double l, u;
  bool unlab;
};

TEST(FusedMixLoss, MatchesAcdcMixLossValuesAndGradients) {
  torch::manual_seed(11);
  const std::vector<Case> cases{
      {6, 4, 64, 64, 3.0, true, 1.0, 0.5, true},  {6, 4, 64, 64, 3.0, true, 1.0, 0.5, false},
      {3, 4, 48, 80, 30.0, true, 0.5, 1.0, true}, {2, 3, 16, 24, 1.0, false, 1.0, 1.0, false},
      {1, 7, 9, 13, 5.0, false, 2.0, 0.25, true}, {4, 2, 256, 256, 2.0, true, 1.0, 0.5, true}};
  for (const Case& k : cases) {
    SCOPED_TRACE(std::to_string(k.n) + "x" + std::to_string(k.c) + "x" + std::to_string(k.h) + "x" +
                 std::to_string(k.w) + " scale " + std::to_string(k.scale));
    const auto logits = torch::randn({k.n, k.c, k.h, k.w}) * k.scale;
    const auto a = torch::randint(0, k.c, {k.n, k.h, k.w}, torch::kUInt8);
    const auto b = torch::randint(0, k.c, {k.n, k.h, k.w}, torch::kInt64);
    torch::Tensor mask;
    if (k.box) {
      mask = torch::ones({k.h, k.w});
      mask.slice(0, k.h / 4, k.h * 3 / 4).slice(1, k.w / 5, k.w * 4 / 5).zero_();
    } else {
      mask = torch::rand({k.n, k.h, k.w});
    }
    const Result want = run(acdc_mix_loss, logits, a, b, mask, k.l, k.u, k.unlab);
    const Result got = run(fused_acdc_mix_loss, logits, a, b, mask, k.l, k.u, k.unlab);
    EXPECT_NEAR(got.dice, want.dice, 2e-6 * std::max(1.0, std::abs(want.dice)));
    EXPECT_NEAR(got.ce, want.ce, 2e-6 * std::max(1.0, std::abs(want.ce)));
    EXPECT_LT(max_rel(got.grad, want.grad), 2e-5);
    EXPECT_FALSE(torch::isnan(got.grad).any().item<bool>());
  }
}

TEST(FusedMixLoss, AnEmptyRegionAndAConfidentWrongPixelStayFiniteAndAgree) {
  torch::manual_seed(3);
  auto logits = torch::randn({2, 4, 32, 32});
  logits.index_put_({0, 2, 5, 5}, 200.0);  // a pixel sure of class 2, labelled 0: CE about 200
  auto a = torch::randint(0, 4, {2, 32, 32}, torch::kInt64);
  a.index_put_({0, 5, 5}, 0);
  const auto mask = torch::ones({32, 32});  // the patch's region is empty
  const Result want = run(acdc_mix_loss, logits, a, a, mask, 1.0, 0.5, false);
  const Result got = run(fused_acdc_mix_loss, logits, a, a, mask, 1.0, 0.5, false);
  EXPECT_NEAR(got.dice, want.dice, 2e-6);
  EXPECT_NEAR(got.ce, want.ce, 2e-6 * std::abs(want.ce));
  EXPECT_LT(max_rel(got.grad, want.grad), 2e-5);
}

TEST(FusedMixLoss, SameBitsOnOneAndTwoThreads) {
  torch::manual_seed(4);
  const auto logits = torch::randn({6, 4, 128, 128}) * 4;
  const auto a = torch::randint(0, 4, {6, 128, 128}, torch::kUInt8);
  const auto b = torch::randint(0, 4, {6, 128, 128}, torch::kUInt8);
  auto mask = torch::ones({128, 128});
  mask.slice(0, 20, 90).slice(1, 30, 100).zero_();
  const bcp::test::ScopedThreads threads(1);
  const Result one = run(fused_acdc_mix_loss, logits, a, b, mask, 1.0, 0.5, true);
  torch::set_num_threads(2);
  const Result two = run(fused_acdc_mix_loss, logits, a, b, mask, 1.0, 0.5, true);
  const Result again = run(fused_acdc_mix_loss, logits, a, b, mask, 1.0, 0.5, true);
  EXPECT_EQ(one.dice, two.dice);
  EXPECT_EQ(one.ce, two.ce);
  EXPECT_TRUE(torch::equal(one.grad, two.grad));
  EXPECT_TRUE(torch::equal(two.grad, again.grad));
}

TEST(FusedMixLoss, RefusesWhatAcdcMixLossRefuses) {
  const auto logits = torch::randn({1, 4, 3, 3});
  const auto ok = torch::zeros({1, 3, 3}, torch::kInt64);
  const auto mask = torch::ones({3, 3});
  EXPECT_THROW(fused_acdc_mix_loss(logits, torch::full({1, 3, 3}, 4, torch::kInt64), ok, mask),
               c10::Error);
  EXPECT_THROW(fused_acdc_mix_loss(logits, ok, torch::full({1, 3, 3}, -1, torch::kInt64), mask),
               c10::Error);
  EXPECT_THROW(fused_acdc_mix_loss(logits, torch::zeros({1, 3, 4}, torch::kInt64), ok, mask),
               c10::Error);
  EXPECT_THROW(fused_acdc_mix_loss(logits, ok, ok, torch::ones({4, 3})), c10::Error);
  EXPECT_THROW(fused_acdc_mix_loss(logits, ok, ok, torch::Tensor()), c10::Error);
  EXPECT_THROW(fused_acdc_mix_loss(logits.to(torch::kFloat64), ok, ok, mask), c10::Error);
  try {
    fused_acdc_mix_loss(logits, torch::full({1, 3, 3}, 4, torch::kInt64), ok, mask);
    ADD_FAILURE() << "labels out of range were taken";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what_without_backtrace()).find("labels must lie in [0, 4)"),
              std::string::npos)
        << e.what_without_backtrace();
  }
}

// LA's Dice is per image and class, with p + t in the denominator; LA's volumes are 3-D.
TEST(FusedMixLoss, MatchesLaMixLossValuesAndGradients) {
  torch::manual_seed(12);
  const std::vector<std::vector<int64_t>> shapes{
      {4, 2, 16, 16, 12}, {2, 3, 8, 10, 6}, {3, 2, 20, 24}};
  for (const auto& shape : shapes) {
    SCOPED_TRACE(c10::str(c10::IntArrayRef(shape)));
    std::vector<int64_t> spatial(shape.begin() + 2, shape.end());
    std::vector<int64_t> label_shape{shape[0]};
    label_shape.insert(label_shape.end(), spatial.begin(), spatial.end());
    const auto logits = torch::randn(shape) * 3;
    const auto a = torch::randint(0, shape[1], label_shape, torch::kUInt8);
    const auto b = torch::randint(0, shape[1], label_shape, torch::kInt64);
    auto mask = torch::ones(spatial);
    mask.slice(0, 2, spatial[0] - 3).slice(1, 1, spatial[1] - 4).zero_();
    for (const bool unlab : {false, true}) {
      const Result want = run(la_mix_loss_parts, logits, a, b, mask, 1.0, 0.5, unlab);
      const Result got = run(fused_la_mix_loss_parts, logits, a, b, mask, 1.0, 0.5, unlab);
      EXPECT_NEAR(got.dice, want.dice, 2e-6 * std::max(1.0, std::abs(want.dice)));
      EXPECT_NEAR(got.ce, want.ce, 2e-6 * std::max(1.0, std::abs(want.ce)));
      EXPECT_LT(max_rel(got.grad, want.grad), 2e-5);
    }
  }
}

// Supervised training's losses (and LA's pre-training) are the mixed ones with one region over
// every pixel: bf16 training computes them so.
TEST(FusedMixLoss, OneRegionOverEveryPixelIsThePlainLoss) {
  torch::manual_seed(13);
  const auto all = torch::ones({});
  for (const bool la : {false, true}) {
    SCOPED_TRACE(la ? "la" : "acdc");
    const auto logits = la ? torch::randn({2, 2, 12, 10, 8}) * 2 : torch::randn({3, 4, 24, 20}) * 2;
    auto label_shape = logits.sizes().vec();
    label_shape.erase(label_shape.begin() + 1);
    const auto y = torch::randint(0, logits.size(1), label_shape, torch::kUInt8);
    torch::Tensor x1 = logits.clone().requires_grad_(true),
                  x2 = logits.clone().requires_grad_(true);
    const auto want = la ? bcp::train::la_pretrain_loss(x1, y)
                         : 0.5 * (bcp::train::mean_cross_entropy(x1, y) +
                                  bcp::train::acdc_dice_loss(torch::softmax(x1, 1), y));
    const auto r = la ? fused_la_mix_loss_parts(x2, y, y, all, 1.0, 0.0, false)
                      : fused_acdc_mix_loss(x2, y, y, all, 1.0, 0.0, false);
    const auto got = 0.5 * (r.ce + r.dice);
    EXPECT_NEAR(got.item<double>(), want.item<double>(), 2e-6);
    want.backward();
    got.backward();
    EXPECT_LT(max_rel(x2.grad(), x1.grad()), 2e-5);
  }
}

TEST(FusedMixLoss, TakesFp32CpuLogitsAndIntegerLabelsOnly) {
  const auto logits = torch::randn({1, 4, 3, 3});
  const auto labels = torch::zeros({1, 3, 3}, torch::kUInt8);
  EXPECT_TRUE(fuses_mix_loss(logits, labels, labels));
  EXPECT_FALSE(fuses_mix_loss(logits.to(torch::kBFloat16), labels, labels));
  EXPECT_TRUE(fuses_mix_loss(torch::randn({1, 4, 3, 3, 2}),
                             torch::zeros({1, 3, 3, 2}, torch::kUInt8),
                             torch::zeros({1, 3, 3, 2}, torch::kUInt8)));
  EXPECT_FALSE(fuses_mix_loss(logits.to(torch::kFloat64), labels, labels));
  EXPECT_FALSE(fuses_mix_loss(logits, torch::softmax(logits, 1), labels));
  EXPECT_FALSE(fuses_mix_loss(logits, labels, torch::Tensor()));
  EXPECT_FALSE(
      fuses_mix_loss(torch::randn({0, 4, 3, 3}), labels.slice(0, 0, 0), labels.slice(0, 0, 0)));
}

}  // namespace bcp_test_fused_mix_loss
