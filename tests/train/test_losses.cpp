#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <iomanip>
#include <iostream>

#include "../support.h"
#include "bcp/io/h5.h"
#include "bcp/kernels/fused_mix_loss.h"
#include "bcp/train/losses.h"

namespace {

namespace T = bcp::train;

// Parity tolerance with the authors' PyTorch outputs: 1e-5 relative (float32 sums over a few
// thousand pixels in a different order).
constexpr double kRelTol = 1e-5;

void expect_rel(double got, double want, const std::string& what) {
  EXPECT_LE(std::abs(got - want), kRelTol * std::max(std::abs(want), 1e-12))
      << what << ": got " << got << ", reference " << want;
}

struct Case {
  torch::Tensor logits, img_l, patch_l, mask;
  double l_weight, u_weight;
  bool unlab;
};

Case read_case(const bcp::io::H5File& f, const std::string& g) {
  Case c;
  c.logits = f.read(g + "/logits");
  c.img_l = f.read(g + "/img_l");
  c.patch_l = f.read(g + "/patch_l");
  c.mask = f.read(g + "/mask");
  c.l_weight = f.attr_number(g, "l_weight");
  c.u_weight = f.attr_number(g, "u_weight");
  c.unlab = f.attr_number(g, "unlab") != 0;
  return c;
}

TEST(LossesParity, AcdcMixLossAllCases) {
  const auto path = bcp::test::parity_file("losses.h5");
  BCP_REQUIRE_SHARED(path);
  bcp::io::H5File f(path.string());
  int n = 0;
  for (const auto& g : f.list("/")) {
    if (g.rfind("acdc_", 0) != 0) continue;
    SCOPED_TRACE(g);
    ++n;
    auto c = read_case(f, g);
    // LibTorch's operators (fp32 training) and the fused loss (bf16 training), both against the
    // authors' values.
    for (const bool fused : {false, true}) {
      SCOPED_TRACE(fused ? "fused_acdc_mix_loss" : "acdc_mix_loss");
      auto logits = c.logits.clone().requires_grad_(true);
      const auto loss = fused ? bcp::kernels::fused_acdc_mix_loss : T::acdc_mix_loss;
      auto r = loss(logits, c.img_l, c.patch_l, c.mask, c.l_weight, c.u_weight, c.unlab);
      expect_rel(r.dice.item<double>(), f.read(g + "/loss_dice").item<double>(), "loss_dice");
      expect_rel(r.ce.item<double>(), f.read(g + "/loss_ce").item<double>(), "loss_ce");
      std::cout << std::setprecision(9) << g << (fused ? " fused" : "") << ": dice "
                << r.dice.item<double>() << " reference " << f.read(g + "/loss_dice").item<double>()
                << ", ce " << r.ce.item<double>() << " reference "
                << f.read(g + "/loss_ce").item<double>() << "\n";
      // Differentiable: gradients reach the logits, finite and not all zero.
      (r.dice + r.ce).backward();
      ASSERT_TRUE(logits.grad().defined());
      EXPECT_TRUE(torch::isfinite(logits.grad()).all().item<bool>());
      EXPECT_GT(logits.grad().abs().sum().item<double>(), 0.0);
    }
  }
  EXPECT_EQ(n, 3) << "expected acdc_0..acdc_2 in " << path;
}

TEST(LossesParity, LaMixLossAllCases) {
  const auto path = bcp::test::parity_file("losses.h5");
  BCP_REQUIRE_SHARED(path);
  bcp::io::H5File f(path.string());
  int n = 0;
  for (const auto& g : f.list("/")) {
    if (g.rfind("la_", 0) != 0) continue;
    SCOPED_TRACE(g);
    ++n;
    auto c = read_case(f, g);
    auto logits = c.logits.clone().requires_grad_(true);
    auto loss = T::la_mix_loss(logits, c.img_l, c.patch_l, c.mask, c.l_weight, c.u_weight, c.unlab);
    const double want = f.read(g + "/loss").item<double>();
    expect_rel(loss.item<double>(), want, "loss");
    // The reference's mask_DiceLoss softmaxes the logits once; feeding it probabilities (a
    // second softmax) must not match, so the parity above is not a coincidence of tolerance.
    auto twice = T::la_mix_loss(torch::softmax(c.logits, 1), c.img_l, c.patch_l, c.mask, c.l_weight,
                                c.u_weight, c.unlab);
    EXPECT_GT(std::abs(twice.item<double>() - want), 1e-3 * want);
    std::cout << std::setprecision(9) << g << ": loss " << loss.item<double>() << " reference "
              << want << "\n";
    auto parts =
        T::la_mix_loss_parts(c.logits, c.img_l, c.patch_l, c.mask, c.l_weight, c.u_weight, c.unlab);
    expect_rel(((parts.dice + parts.ce) / 2).item<double>(), loss.item<double>(), "parts");
    // The fused loss of bf16 training against the authors' value too.
    auto fused = bcp::kernels::fused_la_mix_loss_parts(c.logits, c.img_l, c.patch_l, c.mask,
                                                       c.l_weight, c.u_weight, c.unlab);
    expect_rel(((fused.dice + fused.ce) / 2).item<double>(), want, "fused");
    loss.backward();
    ASSERT_TRUE(logits.grad().defined());
    EXPECT_TRUE(torch::isfinite(logits.grad()).all().item<bool>());
    EXPECT_GT(logits.grad().abs().sum().item<double>(), 0.0);
  }
  EXPECT_EQ(n, 2) << "expected la_0, la_1 in " << path;
}

TEST(Losses, AcdcDiceHandValues) {
  // One pixel per class, perfect one-hot probabilities: dice loss 0; uniform probabilities over
  // 2 classes on 2 pixels labelled 0 and 1: per class 1 - (2*.5 + e) / (.5 + 1 + e) = 1/3.
  auto target = torch::tensor({0, 1, 2, 3}, torch::kInt64).reshape({1, 2, 2});
  auto probs = torch::one_hot(target, 4).permute({0, 3, 1, 2}).to(torch::kFloat32);
  EXPECT_NEAR(T::acdc_dice_loss(probs, target).item<double>(), 0.0, 1e-7);
  auto t2 = torch::tensor({0, 1}, torch::kInt64).reshape({1, 1, 2});
  auto p2 = torch::full({1, 2, 1, 2}, 0.5f);
  EXPECT_NEAR(T::acdc_dice_loss(p2, t2).item<double>(), 1.0 / 3.0, 1e-6);
  // A mask that hides the second pixel: class 0 sees p=.5, t=1 -> 1 - 1/1.25 = .2; class 1 has
  // t=0, p=.5 -> 1 - e/(.25 + e) ~ 1; mean .6.
  auto m = torch::tensor({1, 0}, torch::kInt64).reshape({1, 1, 2});
  EXPECT_NEAR(T::acdc_dice_loss(p2, t2, m).item<double>(), 0.6, 1e-6);
}

TEST(Losses, LaDiceAndPretrain) {
  // Very confident correct logits: dice and CE near 0.
  auto target = torch::randint(0, 2, {2, 4, 4, 3}, torch::kInt64);
  auto logits = (torch::one_hot(target, 2).permute({0, 4, 1, 2, 3}).to(torch::kFloat32) * 40) - 20;
  EXPECT_NEAR(T::la_dice_loss(logits, target).item<double>(), 0.0, 1e-5);
  EXPECT_NEAR(T::la_pretrain_loss(logits, target).item<double>(), 0.0, 1e-5);
  // Zero logits: p = .5 everywhere; CE = log 2.
  auto zeros = torch::zeros({2, 2, 4, 4, 3});
  EXPECT_NEAR(T::mean_cross_entropy(zeros, target).item<double>(), std::log(2.0), 1e-6);
  auto all_fg = torch::ones({2, 4, 4, 3}, torch::kInt64);
  // Per sample: class 1: (2*24 + e)/(24 + 48 + e) = 2/3; class 0: e/(24 + e) ~ 0; loss ~ 1 - 1/3.
  EXPECT_NEAR(T::la_dice_loss(zeros, all_fg).item<double>(), 2.0 / 3.0, 1e-5);
  EXPECT_NEAR(T::la_pretrain_loss(zeros, all_fg).item<double>(), (std::log(2.0) + 2.0 / 3.0) / 2,
              1e-5);
}

TEST(Losses, MaskedCrossEntropyAndMixWeights) {
  auto logits = torch::randn({2, 3, 5, 4});
  auto a = torch::randint(0, 3, {2, 5, 4}, torch::kInt64);
  auto b = torch::randint(0, 3, {2, 5, 4}, torch::kInt64);
  auto m = torch::zeros({5, 4});
  m.index_put_({torch::indexing::Slice(0, 2)}, 1);  // spatial mask, broadcast over the batch
  auto ce = torch::nn::functional::cross_entropy(
      logits, a, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
  auto want = (ce * m).sum() / (m.sum() * 2);
  EXPECT_NEAR(T::masked_cross_entropy(logits, a, m).item<double>(), want.item<double>(), 1e-6);
  // unlab swaps the weights: (l, u, true) equals (u, l, false).
  auto r1 = T::acdc_mix_loss(logits, a, b, m, 1.0, 0.5, true);
  auto r2 = T::acdc_mix_loss(logits, a, b, m, 0.5, 1.0, false);
  EXPECT_NEAR(r1.dice.item<double>(), r2.dice.item<double>(), 1e-6);
  EXPECT_NEAR(r1.ce.item<double>(), r2.ce.item<double>(), 1e-6);
  // The same image and patch label with weights 1, 1 give plain dice/CE over the whole image.
  auto r3 = T::acdc_mix_loss(logits, a, a, m, 1.0, 1.0, false);
  EXPECT_NEAR(r3.ce.item<double>(),
              (T::masked_cross_entropy(logits, a, m) + T::masked_cross_entropy(logits, a, 1 - m))
                  .item<double>(),
              1e-6);
}

TEST(Losses, RejectsBadInput) {
  auto logits = torch::zeros({1, 4, 3, 3});
  EXPECT_THROW(T::mean_cross_entropy(logits, torch::zeros({1, 3, 4}, torch::kInt64)), c10::Error);
  EXPECT_THROW(T::mean_cross_entropy(logits, torch::full({1, 3, 3}, 4, torch::kInt64)), c10::Error);
  EXPECT_THROW(T::mean_cross_entropy(logits, torch::zeros({1, 3, 3})), c10::Error);
  EXPECT_THROW(T::acdc_mix_loss(logits, torch::zeros({1, 3, 3}, torch::kInt64),
                                torch::zeros({1, 3, 3}, torch::kInt64), torch::ones({2, 3})),
               c10::Error);
}

TEST(Losses, ConsistencyAndRampup) {
  auto s = torch::randn({2, 4, 3, 3}, torch::requires_grad());
  auto t = torch::randn({2, 4, 3, 3}, torch::requires_grad());
  auto d = torch::softmax(s, 1) - torch::softmax(t, 1);
  auto loss = T::softmax_mse_consistency(s, t);
  EXPECT_NEAR(loss.item<double>(), (d * d).mean().item<double>(), 1e-7);
  loss.backward();
  EXPECT_TRUE(s.grad().defined());
  EXPECT_FALSE(t.grad().defined()) << "the teacher side must be detached";
  EXPECT_NEAR(T::consistency_weight(0), 0.1 * std::exp(-5.0), 1e-15);
  EXPECT_NEAR(T::consistency_weight(149), 0.1 * std::exp(-5.0), 1e-15);  // iter // 150
  EXPECT_NEAR(T::consistency_weight(150 * 100), 0.1 * std::exp(-1.25), 1e-15);
  EXPECT_NEAR(T::consistency_weight(150 * 200), 0.1, 1e-15);
  EXPECT_NEAR(T::consistency_weight(10'000'000), 0.1, 1e-15);
  EXPECT_EQ(T::sigmoid_rampup(5, 0), 1.0);
  EXPECT_NEAR(T::sigmoid_rampup(-3, 10), std::exp(-5.0), 1e-15);
}

}  // namespace

TEST(Losses, SoftTargetsThatAreOneHotGiveTheLabelsLoss) {
  torch::manual_seed(4);
  namespace F = torch::nn::functional;
  using namespace bcp::train;
  for (const std::vector<int64_t>& spatial : {std::vector<int64_t>{12, 10}, {6, 8, 4}}) {
    std::vector<int64_t> shape{4, 3};
    shape.insert(shape.end(), spatial.begin(), spatial.end());
    const auto logits = torch::randn(shape);
    std::vector<int64_t> lshape{4};
    lshape.insert(lshape.end(), spatial.begin(), spatial.end());
    const auto a = torch::randint(0, 3, lshape, torch::kInt64);
    const auto b = torch::randint(0, 3, lshape, torch::kInt64);
    auto soft = [](const torch::Tensor& l) {
      return F::one_hot(l, 3).movedim(-1, 1).to(torch::kFloat32);
    };
    auto mask = torch::ones(spatial);
    mask.index_put_({torch::indexing::Slice(1, 4)}, 0);
    const auto hard_acdc = acdc_mix_loss(logits, a, b, mask, 1.0, 0.5, true);
    const auto soft_acdc = acdc_mix_loss(logits, soft(a), b, mask, 1.0, 0.5, true);
    EXPECT_NEAR(soft_acdc.dice.item<double>(), hard_acdc.dice.item<double>(), 1e-6);
    EXPECT_NEAR(soft_acdc.ce.item<double>(), hard_acdc.ce.item<double>(), 1e-6);
    EXPECT_NEAR(la_mix_loss(logits, a, soft(b), mask).item<double>(),
                la_mix_loss(logits, a, b, mask).item<double>(), 1e-6);
    EXPECT_NEAR(mean_cross_entropy(logits, soft(a)).item<double>(),
                mean_cross_entropy(logits, a).item<double>(), 1e-6);
    // Cross-entropy is linear in a soft target: label smoothing mixes the labels' losses.
    const auto smooth = soft(a) * 0.8 + 0.2 / 3;
    double uniform = 0;
    for (int64_t c = 0; c < 3; ++c)
      uniform += masked_cross_entropy(logits, torch::full_like(a, c), mask).item<double>() / 3;
    EXPECT_NEAR(masked_cross_entropy(logits, smooth, mask).item<double>(),
                0.8 * masked_cross_entropy(logits, a, mask).item<double>() + 0.2 * uniform, 1e-5);
    EXPECT_THROW(mean_cross_entropy(logits, soft(a).narrow(1, 0, 2)), c10::Error);
  }
}
