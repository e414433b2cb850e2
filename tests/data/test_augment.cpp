#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "bcp/data/augment.h"
#include "bcp/data/zoom.h"

namespace {

namespace D = bcp::data;

TEST(Augment, Rot90FlipMatchesNumpy) {
  auto x = torch::tensor({1, 2, 3, 4, 5, 6}).reshape({2, 3});
  // np.flip(np.rot90(x, 1), 0) = [[1, 4], [2, 5], [3, 6]]
  EXPECT_TRUE(
      torch::equal(D::rot90_flip(x, 1, 0), torch::tensor({1, 4, 2, 5, 3, 6}).reshape({3, 2})));
  // np.flip(np.rot90(x, 2), 1) = np.flip([[6,5,4],[3,2,1]], 1) = [[4,5,6],[1,2,3]]
  EXPECT_TRUE(
      torch::equal(D::rot90_flip(x, 2, 1), torch::tensor({4, 5, 6, 1, 2, 3}).reshape({2, 3})));
  // 3D: rotation in the first two axes only.
  auto v = torch::arange(24).reshape({2, 3, 4});
  auto r = D::rot90_flip(v, 1, 1);
  EXPECT_EQ(r.sizes(), c10::IntArrayRef({3, 2, 4}));
  for (int64_t z = 0; z < 4; ++z)
    EXPECT_TRUE(torch::equal(r.select(2, z), D::rot90_flip(v.select(2, z), 1, 1)));
}

TEST(Augment, RotateByZeroIsIdentity) {
  auto img = torch::rand({37, 29});
  EXPECT_TRUE(torch::equal(D::rotate_nearest(img, 0.0), img));
  auto lab = torch::randint(0, 4, {37, 29}, torch::kUInt8);
  auto r = D::rotate_nearest(lab, 0.0);
  EXPECT_EQ(r.scalar_type(), torch::kUInt8);
  EXPECT_TRUE(torch::equal(r, lab));
  EXPECT_TRUE(torch::equal(D::rotate_nearest(img, 360.0), img));
}

TEST(Augment, RotateSemanticsOfScipy) {
  // On a square, scipy.ndimage.rotate(x, 90, reshape=False) equals np.rot90(x, 1).
  auto x = torch::rand({9, 9});
  EXPECT_TRUE(torch::equal(D::rotate_nearest(x, 90.0), torch::rot90(x, 1, {0, 1})));
  EXPECT_TRUE(torch::equal(D::rotate_nearest(x, -90.0), torch::rot90(x, -1, {0, 1})));
  // 45 degrees about the centre: the centre pixel stays, the corners leave the image (-> 0).
  auto ones = torch::ones({11, 11});
  auto r = D::rotate_nearest(ones, 45.0);
  EXPECT_EQ(r[5][5].item<float>(), 1.0f);
  EXPECT_EQ(r[0][0].item<float>(), 0.0f);
  EXPECT_EQ(r[10][10].item<float>(), 0.0f);
  auto c = torch::zeros({11, 11});
  c[5][5] = 7;
  EXPECT_TRUE(torch::equal(D::rotate_nearest(c, 13.0), c));
  // A non-right angle: every output pixel holding a marker must map back onto it through
  // scipy's inverse map in = R (o - c) + c, R = [[cos, sin], [-sin, cos]].
  auto m = torch::zeros({21, 21});
  m[2][10] = 1;  // 8 rows above the centre (10, 10)
  auto rm = D::rotate_nearest(m, 20.0);
  auto nz = torch::nonzero(rm);
  ASSERT_GE(nz.size(0), 1);
  const double cr = std::cos(20 * M_PI / 180), sr = std::sin(20 * M_PI / 180);
  for (int64_t i = 0; i < nz.size(0); ++i) {
    const double o0 = nz[i][0].item<int64_t>() - 10.0, o1 = nz[i][1].item<int64_t>() - 10.0;
    EXPECT_EQ(std::floor(cr * o0 + sr * o1 + 10 + 0.5), 2);
    EXPECT_EQ(std::floor(-sr * o0 + cr * o1 + 10 + 0.5), 10);
  }
}

TEST(Augment, AcdcKeepsImageAndLabelAligned) {
  D::Rng rng(1337);
  auto img = torch::rand({180, 210}) + 0.01;  // strictly positive, so padding (0) reads as bg
  auto lab = (img > 0.5).to(torch::kUInt8);
  int identity = 0;
  for (int i = 0; i < 40; ++i) {
    auto out = D::acdc_augment(img, lab, rng);
    ASSERT_EQ(out.image.sizes(), c10::IntArrayRef({256, 256}));
    ASSERT_EQ(out.label.sizes(), c10::IntArrayRef({256, 256}));
    ASSERT_EQ(out.image.scalar_type(), torch::kFloat32);
    ASSERT_EQ(out.label.scalar_type(), torch::kUInt8);
    ASSERT_TRUE(torch::equal(out.label, (out.image > 0.5).to(torch::kUInt8)));
    identity += torch::equal(out.image, bcp::data::zoom_nearest(img, {256, 256})) ? 1 : 0;
  }
  // No transform with probability 1/4 (+1/160 for angle 0): some, not all.
  EXPECT_GT(identity, 2);
  EXPECT_LT(identity, 25);
}

TEST(Augment, AcdcDeterministicWithSeed) {
  auto img = torch::rand({64, 50});
  auto lab = torch::randint(0, 4, {64, 50}, torch::kUInt8);
  D::AcdcAugmentOptions opt;
  opt.patch_size = {48, 48};
  for (uint64_t seed : {1u, 2u, 3u, 4u, 5u}) {
    D::Rng a(seed), b(seed);
    auto x = D::acdc_augment(img, lab, a, opt);
    auto y = D::acdc_augment(img, lab, b, opt);
    EXPECT_TRUE(torch::equal(x.image, y.image));
    EXPECT_TRUE(torch::equal(x.label, y.label));
  }
  // Never-transform options reduce to the zoom.
  opt.rot_flip_prob = 0;
  opt.rotate_prob = 0;
  D::Rng r(9);
  auto z = D::acdc_augment(img, lab, r, opt);
  EXPECT_TRUE(torch::equal(z.label, bcp::data::zoom_nearest(lab, {48, 48})));
}

TEST(Augment, LaCropIsAlignedSubvolume) {
  D::Rng rng(3);
  auto img = torch::rand({130, 124, 92}) + 0.01;
  auto lab = (img > 0.7).to(torch::kUInt8);
  for (int i = 0; i < 3; ++i) {
    auto out = D::la_augment(img, lab, rng);
    ASSERT_EQ(out.image.sizes(), c10::IntArrayRef({112, 112, 80}));
    ASSERT_EQ(out.label.scalar_type(), torch::kUInt8);
    EXPECT_TRUE(torch::equal(out.label, (out.image > 0.7).to(torch::kUInt8)));
    EXPECT_GT(out.image.min().item<float>(), 0.0f) << "no padding for a larger volume";
  }
  D::Rng a(5), b(5);
  EXPECT_TRUE(torch::equal(D::la_augment(img, lab, a).image, D::la_augment(img, lab, b).image));
}

TEST(Augment, RandomCropPadsLikeUaMt) {
  // Coordinates encoded in the values: value = x + 1 (0 means padding).
  const int64_t X = 110, Y = 120, Z = 70;
  auto xs =
      (torch::arange(X, torch::kFloat32) + 1).reshape({X, 1, 1}).expand({X, Y, Z}).contiguous();
  auto zs =
      (torch::arange(Z, torch::kFloat32) + 1).reshape({1, 1, Z}).expand({X, Y, Z}).contiguous();
  auto lab = torch::zeros({X, Y, Z}, torch::kUInt8);
  // Pads: x (112-110)//2+3 = 4, y max((112-120)//2+3, 0) = 0, z (80-70)//2+3 = 8.
  // Padded shape 118 x 120 x 86; crop starts in [0, 6), [0, 8), [0, 6).
  for (uint64_t seed = 0; seed < 20; ++seed) {
    D::Rng r1(seed), r2(seed);
    auto cx = D::random_crop(xs, lab, {112, 112, 80}, r1).image;
    auto cz = D::random_crop(zs, lab, {112, 112, 80}, r2).image;
    ASSERT_EQ(cx.sizes(), c10::IntArrayRef({112, 112, 80}));
    // Find the x start s: padded index p holds x = p - 4 (value p - 3) when 0 <= p - 4 < 110.
    bool found = false;
    for (int64_t s = 0; s < 6 && !found; ++s) {
      auto want = torch::arange(s, s + 112, torch::kFloat32) - 3;
      want = torch::where((want >= 1) & (want <= X), want, torch::zeros_like(want));
      found = torch::equal(cx.select(2, 40).select(1, 50), want);
    }
    EXPECT_TRUE(found) << "seed " << seed << ": x profile is not a crop of a 4-voxel padded axis";
    found = false;
    for (int64_t s = 0; s < 6 && !found; ++s) {
      auto want = torch::arange(s, s + 80, torch::kFloat32) - 7;
      want = torch::where((want >= 1) & (want <= Z), want, torch::zeros_like(want));
      found = torch::equal(cz.select(0, 50).select(0, 50), want);
    }
    EXPECT_TRUE(found) << "seed " << seed << ": z profile is not a crop of an 8-voxel padded axis";
  }
  // Exactly patch-sized on one axis still pads (the authors test <=): 112 -> +3 each side.
  auto ones = torch::ones({112, 130, 90});
  D::Rng r(0);
  int zeros_seen = 0;
  for (int i = 0; i < 10; ++i)
    zeros_seen += D::random_crop(ones, ones.to(torch::kUInt8), {112, 112, 80}, r)
                      .image.eq(0)
                      .any()
                      .item<bool>();
  EXPECT_GT(zeros_seen, 0);
}

TEST(Augment, ForegroundCropCentresOnAVoxelOfTheValue) {
  // One voxel of value 2 among 1s: the crop holds it at its centre, or as near as the volume
  // allows (moved inwards at the edges); padding as random_crop's.
  const std::vector<int64_t> patch{8, 6, 4};
  for (const auto& at : std::vector<std::vector<int64_t>>{{10, 10, 10}, {0, 0, 0}, {19, 15, 11}}) {
    auto label = torch::ones({20, 16, 12}, torch::kUInt8);
    label.index_put_({at[0], at[1], at[2]}, 2);
    const auto image = label.to(torch::kFloat32);
    D::Rng rng(7);
    const auto out = D::foreground_crop(image, label, patch, 2, rng);
    ASSERT_EQ(out.label.sizes(), c10::IntArrayRef(patch));
    const auto where = torch::nonzero(out.label == 2);
    ASSERT_EQ(where.size(0), 1) << "voxel " << c10::str(c10::IntArrayRef(at));
    for (int d = 0; d < 3; ++d) {
      const int64_t room = label.size(d) - patch[d];
      const int64_t start = std::clamp<int64_t>(at[d] - patch[d] / 2, 0, room);
      EXPECT_EQ(where[0][d].item<int64_t>(), at[d] - start) << "axis " << d;
    }
    EXPECT_TRUE(torch::equal(out.image, out.label.to(torch::kFloat32)));
  }
  // A volume no larger than the patch is padded first, and the voxel stays inside the crop.
  auto small = torch::zeros({6, 5, 3}, torch::kUInt8);
  small.index_put_({5, 0, 2}, 1);
  D::Rng rng(3);
  const auto out = D::foreground_crop(small.to(torch::kFloat32), small, patch, 1, rng);
  EXPECT_EQ(out.label.sum().item<int64_t>(), 1);
  // Without the value it is random_crop, draw for draw.
  const auto none = torch::ones({20, 16, 12}, torch::kUInt8);
  const auto ramp = torch::arange(20 * 16 * 12, torch::kFloat32).reshape({20, 16, 12});
  D::Rng a(11), b(11);
  EXPECT_TRUE(torch::equal(D::foreground_crop(ramp, none, patch, 3, a).image,
                           D::random_crop(ramp, none, patch, b).image));
  EXPECT_EQ(a(), b());
}

TEST(Augment, RejectsBadInput) {
  D::Rng rng(0);
  EXPECT_THROW(D::acdc_augment(torch::rand({10, 10}), torch::zeros({10, 11}, torch::kUInt8), rng),
               c10::Error);
  EXPECT_THROW(
      D::acdc_augment(torch::rand({10, 10, 2}), torch::zeros({10, 10, 2}, torch::kUInt8), rng),
      c10::Error);
  EXPECT_THROW(D::la_augment(torch::rand({10, 10, 4}), torch::rand({10, 10, 4}), rng), c10::Error);
}

}  // namespace
