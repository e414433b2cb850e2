#include <gtest/gtest.h>
#include <torch/torch.h>

#include "bcp/ssl/copy_paste.h"
#include "bcp/ssl/zero_box_mask.h"

namespace {

using bcp::ssl::copy_paste;

TEST(CopyPaste, PixelsLandWhereTheMaskSays) {
  bcp::ssl::Rng rng(11);
  auto m = bcp::ssl::zero_box_mask_2d(16, 12, 0.5, rng);  // (H, W)
  auto a = torch::rand({2, 3, 16, 12});
  auto b = torch::rand({2, 3, 16, 12});
  auto x = copy_paste(a, b, m);
  auto in_box = (m == 0).expand_as(a);
  EXPECT_TRUE(torch::equal(x.masked_select(in_box), b.masked_select(in_box)));
  EXPECT_TRUE(torch::equal(x.masked_select(~in_box), a.masked_select(~in_box)));
}

TEST(CopyPaste, LabelsKeepTheirDtype) {
  auto m = torch::ones({4, 4});
  m.index_put_({torch::indexing::Slice(1, 3), torch::indexing::Slice(0, 2)}, 0);
  for (auto dt : {torch::kUInt8, torch::kInt64}) {
    auto a = torch::full({2, 4, 4}, 1, dt);
    auto b = torch::full({2, 4, 4}, 3, dt);
    auto y = copy_paste(a, b, m);
    EXPECT_EQ(y.scalar_type(), dt);
    EXPECT_EQ(y[1][1][0].item<int64_t>(), 3);
    EXPECT_EQ(y[1][0][0].item<int64_t>(), 1);
    EXPECT_EQ(y[0][2][1].item<int64_t>(), 3);
    EXPECT_EQ(y[0][3][3].item<int64_t>(), 1);
    EXPECT_EQ((y == 3).sum().item<int64_t>(), 2 * 4);
  }
}

TEST(CopyPaste, PerSampleMaskAnd3d) {
  auto a = torch::zeros({2, 1, 4, 4, 3});
  auto b = torch::ones({2, 1, 4, 4, 3});
  auto m = torch::ones({2, 1, 4, 4, 3});
  m[1].zero_();
  auto x = copy_paste(a, b, m);
  EXPECT_EQ(x[0].sum().item<float>(), 0.0f);
  EXPECT_EQ(x[1].sum().item<float>(), 48.0f);
}

TEST(CopyPaste, RejectsMismatches) {
  auto a = torch::zeros({2, 1, 4, 4});
  EXPECT_THROW(copy_paste(a, torch::zeros({2, 1, 4, 5}), torch::ones({4, 4})), c10::Error);
  EXPECT_THROW(copy_paste(a, a, torch::ones({5, 4})), c10::Error);
  EXPECT_THROW(copy_paste(a, a.to(torch::kDouble), torch::ones({4, 4})), c10::Error);
}

// Images whose value says where they came from (1 La, 2 Lb, 3 Ua, 4 Ub) and labels that
// likewise say their source (10 labA, 20 labB, 30 Pa, 40 Pb).
bcp::ssl::BcpInputs tagged_inputs(std::vector<int64_t> spatial) {
  std::vector<int64_t> img{2, 1}, lab{2};
  img.insert(img.end(), spatial.begin(), spatial.end());
  lab.insert(lab.end(), spatial.begin(), spatial.end());
  bcp::ssl::BcpInputs in;
  in.img_a = torch::full(img, 1.0f);
  in.img_b = torch::full(img, 2.0f);
  in.uimg_a = torch::full(img, 3.0f);
  in.uimg_b = torch::full(img, 4.0f);
  in.lab_a = torch::full(lab, 10, torch::kUInt8);
  in.lab_b = torch::full(lab, 20, torch::kUInt8);
  in.plab_a = torch::full(lab, 30, torch::kInt64);
  in.plab_b = torch::full(lab, 40, torch::kInt64);
  return in;
}

// Value of `t` outside the box (M == 1) and inside it (M == 0); both must be uniform.
std::pair<double, double> outside_inside(const torch::Tensor& t, const torch::Tensor& m) {
  auto out = t.masked_select((m != 0).expand_as(t)).to(torch::kDouble);
  auto in = t.masked_select((m == 0).expand_as(t)).to(torch::kDouble);
  EXPECT_EQ(out.min().item<double>(), out.max().item<double>());
  EXPECT_EQ(in.min().item<double>(), in.max().item<double>());
  return {out[0].item<double>(), in[0].item<double>()};
}

TEST(BcpMix, AcdcRecipe) {
  bcp::ssl::Rng rng(1);
  auto m = bcp::ssl::zero_box_mask_2d(12, 9, 2.0 / 3.0, rng);
  auto mix = bcp::ssl::acdc_bcp_mix(tagged_inputs({12, 9}), m);
  // Xu = Ua*M + La*(1-M): unlabeled background, labeled box; Pa on M (0.5), labA on 1-M (1).
  EXPECT_EQ(outside_inside(mix.mixed_u.image, m), std::make_pair(3.0, 1.0));
  EXPECT_EQ(outside_inside(mix.mixed_u.label, m), std::make_pair(30.0, 10.0));
  EXPECT_EQ(mix.mixed_u.img_label[0][0][0].item<int64_t>(), 30);
  EXPECT_EQ(mix.mixed_u.patch_label[0][0][0].item<int64_t>(), 10);
  EXPECT_TRUE(mix.mixed_u.unlab);
  EXPECT_EQ(mix.mixed_u.img_weight, 0.5);
  EXPECT_EQ(mix.mixed_u.patch_weight, 1.0);
  // Xl = Lb*M + Ub*(1-M): labB on M (1), Pb on 1-M (0.5).
  EXPECT_EQ(outside_inside(mix.mixed_l.image, m), std::make_pair(2.0, 4.0));
  EXPECT_EQ(outside_inside(mix.mixed_l.label, m), std::make_pair(20.0, 40.0));
  EXPECT_FALSE(mix.mixed_l.unlab);
  EXPECT_EQ(mix.mixed_l.img_weight, 1.0);
  EXPECT_EQ(mix.mixed_l.patch_weight, 0.5);
  EXPECT_EQ(mix.mixed_l.label.scalar_type(), torch::kInt64);
}

TEST(BcpMix, LaRecipe) {
  bcp::ssl::Rng rng(2);
  auto m = bcp::ssl::zero_box_mask_3d(9, 9, 6, 2.0 / 3.0, rng);
  auto mix = bcp::ssl::la_bcp_mix(tagged_inputs({9, 9, 6}), m, {1.0, 0.25});
  // Xl = La*M + Ua*(1-M): labA on M (1), Pa on 1-M (u).
  EXPECT_EQ(outside_inside(mix.mixed_l.image, m), std::make_pair(1.0, 3.0));
  EXPECT_EQ(outside_inside(mix.mixed_l.label, m), std::make_pair(10.0, 30.0));
  EXPECT_FALSE(mix.mixed_l.unlab);
  EXPECT_EQ(mix.mixed_l.patch_weight, 0.25);
  // Xu = Ub*M + Lb*(1-M): Pb on M (u), labB on 1-M (1).
  EXPECT_EQ(outside_inside(mix.mixed_u.image, m), std::make_pair(4.0, 2.0));
  EXPECT_EQ(outside_inside(mix.mixed_u.label, m), std::make_pair(40.0, 20.0));
  EXPECT_TRUE(mix.mixed_u.unlab);
  EXPECT_EQ(mix.mixed_u.img_weight, 0.25);
}

TEST(BcpMix, PretrainAndChecks) {
  bcp::ssl::Rng rng(3);
  auto m = bcp::ssl::zero_box_mask_2d(8, 8, 0.5, rng);
  auto in = tagged_inputs({8, 8});
  auto s = bcp::ssl::pretrain_mix(in.img_a, in.img_b, in.lab_a, in.lab_b, m);
  EXPECT_EQ(outside_inside(s.image, m), std::make_pair(1.0, 2.0));
  EXPECT_EQ(outside_inside(s.label, m), std::make_pair(10.0, 20.0));
  EXPECT_EQ(s.img_weight, 1.0);
  EXPECT_EQ(s.patch_weight, 1.0);
  in.plab_b = torch::zeros({2, 8, 7}, torch::kInt64);
  EXPECT_THROW(bcp::ssl::acdc_bcp_mix(in, m), c10::Error);
  in = tagged_inputs({8, 8});
  in.lab_a = in.lab_a.to(torch::kFloat32);
  EXPECT_THROW(bcp::ssl::la_bcp_mix(in, m), c10::Error);
}

}  // namespace
