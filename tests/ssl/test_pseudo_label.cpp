#include <gtest/gtest.h>
#include <torch/torch.h>

#include "../support.h"
#include "bcp/io/h5.h"
#include "bcp/ssl/copy_paste.h"
#include "bcp/ssl/pseudo_label.h"

namespace {
using bcp::data::PseudoLabelRule;
torch::Tensor acdc_pseudo_label(const torch::Tensor& logits) {
  return bcp::ssl::hard_pseudo_label(logits,
                                     bcp::data::recipe_of(bcp::data::Dataset::kAcdc).pseudo_label);
}
torch::Tensor la_pseudo_label(const torch::Tensor& logits) {
  return bcp::ssl::hard_pseudo_label(logits,
                                     bcp::data::recipe_of(bcp::data::Dataset::kLa).pseudo_label);
}
}  // namespace

TEST(PseudoLabel, AcdcMatchesAuthorsExactly) {
  const auto path = bcp::test::parity_file("pseudo_labels.h5");
  BCP_REQUIRE_SHARED(path);
  bcp::io::H5File f(path.string());
  const auto logits = f.read("acdc_logits").to(torch::kFloat32);
  const auto want = f.read("acdc_pseudo").to(torch::kInt64);
  const auto got = acdc_pseudo_label(logits);
  EXPECT_EQ(got.scalar_type(), torch::kInt64);
  ASSERT_EQ(got.sizes(), want.sizes());
  EXPECT_EQ(got.ne(want).sum().item<int64_t>(), 0);
  // The fixture must exercise the component step: plain argmax differs from it.
  EXPECT_GT(torch::softmax(logits, 1).argmax(1).ne(want).sum().item<int64_t>(), 0);
}

TEST(PseudoLabel, LaMatchesAuthorsExactly) {
  const auto path = bcp::test::parity_file("pseudo_labels.h5");
  BCP_REQUIRE_SHARED(path);
  bcp::io::H5File f(path.string());
  const auto logits = f.read("la_logits").to(torch::kFloat32);
  const auto want = f.read("la_pseudo").to(torch::kInt64);
  const auto got = la_pseudo_label(logits);
  EXPECT_EQ(got.scalar_type(), torch::kInt64);
  ASSERT_EQ(got.sizes(), want.sizes());
  EXPECT_EQ(got.ne(want).sum().item<int64_t>(), 0);
  EXPECT_GT(torch::softmax(logits, 1).select(1, 1).ge(0.5).ne(want).sum().item<int64_t>(), 0);
}

TEST(PseudoLabel, EmptyClassesAndShapes) {
  // All background: nothing to keep.
  auto logits = torch::zeros({2, 4, 8, 8});
  logits.select(1, 0).fill_(5.0);
  EXPECT_EQ(acdc_pseudo_label(logits).sum().item<int64_t>(), 0);
  auto la = torch::zeros({1, 2, 4, 4, 4});
  la.select(1, 0).fill_(1.0);
  EXPECT_EQ(la_pseudo_label(la).sum().item<int64_t>(), 0);
  EXPECT_EQ(la_pseudo_label(la).sizes(), (std::vector<int64_t>{1, 4, 4, 4}));
  EXPECT_THROW(acdc_pseudo_label(torch::zeros({4, 8, 8})), c10::Error);
  EXPECT_THROW(la_pseudo_label(torch::zeros({1, 1, 4, 4, 4})), c10::Error);
  EXPECT_THROW(la_pseudo_label(torch::zeros({1, 2, 4, 4, 4, 4})), c10::Error);
}

TEST(PseudoLabel, ThreeDimensionsManyClassesKeepEachClassLargestComponent) {
  // The 3-D recipe with 3 classes (a user's dataset): the argmax, then per class its largest
  // 26-connected component. Class 1 has a big block and a stray voxel; class 2 two blocks.
  auto logits = torch::zeros({1, 3, 6, 8, 8});
  logits.select(1, 0).fill_(1.0);
  using torch::indexing::Slice;
  logits.index_put_({0, 1, Slice(0, 3), Slice(0, 3), Slice(0, 3)}, 5.0);
  logits.index_put_({0, 1, 5, 7, 7}, 5.0);
  logits.index_put_({0, 2, Slice(4, 6), Slice(0, 2), Slice(5, 8)}, 5.0);
  logits.index_put_({0, 2, 0, 6, 0}, 5.0);
  for (auto rule : {PseudoLabelRule::kArgmax, PseudoLabelRule::kForegroundHalf}) {
    const auto got = bcp::ssl::hard_pseudo_label(logits, rule);
    ASSERT_EQ(got.sizes(), (std::vector<int64_t>{1, 6, 8, 8}));
    EXPECT_EQ(got.eq(1).sum().item<int64_t>(), 27);
    EXPECT_EQ(got.eq(2).sum().item<int64_t>(), 12);
    EXPECT_EQ(got.index({0, 5, 7, 7}).item<int64_t>(), 0);
    EXPECT_EQ(got.index({0, 0, 6, 0}).item<int64_t>(), 0);
  }
}

// Its speed on a training batch is bench/'s (`bcp_bench --benchmark_filter=PseudoLabel`), not a
// timed test's: here, the batch shape of an ACDC self-training step.
TEST(PseudoLabel, AcdcTrainingBatchKeepsItsShape) {
  torch::manual_seed(0);
  const auto out = acdc_pseudo_label(torch::randn({12, 4, 256, 256}));
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{12, 256, 256}));
}

TEST(PseudoLabel, SoftIsTheTemperedSoftmaxAndMixesAsProbabilities) {
  torch::manual_seed(2);
  const auto logits = torch::randn({2, 4, 8, 8});
  const auto p = bcp::ssl::soft_pseudo_label(logits, 1.0);
  EXPECT_TRUE(torch::allclose(p, torch::softmax(logits, 1)));
  EXPECT_TRUE(torch::allclose(p.sum(1), torch::ones({2, 8, 8})));
  // A low temperature approaches the argmax.
  const auto sharp = bcp::ssl::soft_pseudo_label(logits, 0.01);
  EXPECT_TRUE(torch::equal(sharp.argmax(1), logits.argmax(1)));
  EXPECT_GT(std::get<0>(sharp.max(1)).mean().item<float>(), 0.95f);
  EXPECT_THROW(bcp::ssl::soft_pseudo_label(logits, 0.0), c10::Error);

  // In a BCP mix the soft pseudo-label is the target of its region, as the hard one would be.
  bcp::ssl::BcpInputs in;
  in.img_a = torch::rand({2, 1, 8, 8});
  in.img_b = torch::rand({2, 1, 8, 8});
  in.uimg_a = torch::rand({2, 1, 8, 8});
  in.uimg_b = torch::rand({2, 1, 8, 8});
  in.lab_a = torch::randint(0, 4, {2, 8, 8}, torch::kInt64);
  in.lab_b = torch::randint(0, 4, {2, 8, 8}, torch::kInt64);
  in.plab_a = p;
  in.plab_b = bcp::ssl::soft_pseudo_label(-logits, 1.0);
  auto mask = torch::ones({8, 8});
  mask.index_put_({torch::indexing::Slice(2, 6), torch::indexing::Slice(2, 6)}, 0);
  const auto mix = bcp::ssl::acdc_bcp_mix(in, mask);
  EXPECT_TRUE(torch::equal(mix.mixed_u.img_label, p));           // unlabeled background
  EXPECT_TRUE(torch::equal(mix.mixed_u.patch_label, in.lab_a));  // labeled box
  ASSERT_EQ(mix.mixed_u.label.sizes(), p.sizes());
  EXPECT_TRUE(torch::allclose(mix.mixed_u.label.index({0, torch::indexing::Slice(), 0, 0}),
                              p.index({0, torch::indexing::Slice(), 0, 0})));
  EXPECT_EQ(mix.mixed_u.label.index({0, torch::indexing::Slice(), 3, 3}).argmax().item<int64_t>(),
            in.lab_a.index({0, 3, 3}).item<int64_t>());
}
