#include <gtest/gtest.h>
#include <torch/torch.h>

#include <set>
#include <sstream>

#include "bcp/ssl/mask_shapes.h"
#include "bcp/ssl/zero_box_mask.h"

namespace {

using bcp::ssl::Rng;

// Bounding box of the zeros: (first, last + 1) per axis.
std::vector<std::pair<int64_t, int64_t>> zero_bbox(const torch::Tensor& m) {
  auto nz = torch::nonzero(m == 0);  // (K, dims)
  std::vector<std::pair<int64_t, int64_t>> box;
  for (int64_t d = 0; d < m.dim(); ++d) {
    auto col = nz.select(1, d);
    box.emplace_back(col.min().item<int64_t>(), col.max().item<int64_t>() + 1);
  }
  return box;
}

TEST(ZeroBoxMask, SideIsIntOfProduct) {
  EXPECT_EQ(bcp::ssl::zero_box_side(256, 2.0 / 3.0), 170);
  EXPECT_EQ(bcp::ssl::zero_box_side(112, 2.0 / 3.0), 74);
  EXPECT_EQ(bcp::ssl::zero_box_side(80, 2.0 / 3.0), 53);
  EXPECT_EQ(bcp::ssl::zero_box_side(96, 2.0 / 3.0), 64);  // exact product, not 63
  EXPECT_EQ(bcp::ssl::zero_box_side(10, 0.5), 5);
  EXPECT_EQ(bcp::ssl::zero_box_side(10, 1.0), 10);
  EXPECT_THROW(bcp::ssl::zero_box_side(10, 1.5), c10::Error);
  EXPECT_THROW(bcp::ssl::zero_box_side(10, -0.1), c10::Error);
}

TEST(ZeroBoxMask, Acdc2dGeometry) {
  Rng rng(1337);
  std::set<std::pair<int64_t, int64_t>> corners;
  for (int i = 0; i < 50; ++i) {
    auto m = bcp::ssl::zero_box_mask_2d(256, 256, 2.0 / 3.0, rng);
    ASSERT_EQ(m.sizes(), c10::IntArrayRef({256, 256}));
    ASSERT_EQ(m.scalar_type(), torch::kFloat32);
    // Only 0 and 1, and exactly one box: the zeros fill their bounding box of 170 x 170.
    ASSERT_EQ(((m == 0) | (m == 1)).all().item<bool>(), true);
    ASSERT_EQ((m == 0).sum().item<int64_t>(), 170 * 170);
    auto box = zero_bbox(m);
    ASSERT_EQ(box[0].second - box[0].first, 170);
    ASSERT_EQ(box[1].second - box[1].first, 170);
    // Offsets in [0, 256 - 170): randint excludes the high end.
    ASSERT_GE(box[0].first, 0);
    ASSERT_LT(box[0].first, 256 - 170);
    ASSERT_LT(box[1].first, 256 - 170);
    corners.insert({box[0].first, box[1].first});
  }
  EXPECT_GT(corners.size(), 40u) << "offsets should vary with the generator";
}

TEST(ZeroBoxMask, La3dGeometry) {
  Rng rng(7);
  std::set<int64_t> zs;
  for (int i = 0; i < 20; ++i) {
    auto m = bcp::ssl::zero_box_mask_3d(112, 112, 80, 2.0 / 3.0, rng);
    ASSERT_EQ(m.sizes(), c10::IntArrayRef({112, 112, 80}));
    ASSERT_EQ((m == 0).sum().item<int64_t>(), 74 * 74 * 53);
    auto box = zero_bbox(m);
    EXPECT_EQ(box[0].second - box[0].first, 74);
    EXPECT_EQ(box[1].second - box[1].first, 74);
    EXPECT_EQ(box[2].second - box[2].first, 53);
    EXPECT_LT(box[0].first, 112 - 74);
    EXPECT_LT(box[1].first, 112 - 74);
    EXPECT_LT(box[2].first, 80 - 53);
    zs.insert(box[2].first);
  }
  EXPECT_GT(zs.size(), 5u);
}

TEST(ZeroBoxMask, OffsetsCoverTheirRange) {
  // 6 x 6 with beta 0.5: box 3, offsets uniform over {0, 1, 2}; all must appear.
  Rng rng(3);
  std::set<int64_t> rows;
  for (int i = 0; i < 200; ++i)
    rows.insert(zero_bbox(bcp::ssl::zero_box_mask_2d(6, 6, 0.5, rng))[0].first);
  EXPECT_EQ(rows, (std::set<int64_t>{0, 1, 2}));
}

TEST(ZeroBoxMask, DeterministicWithSeedAndResumable) {
  Rng a(42), b(42);
  EXPECT_TRUE(torch::equal(bcp::ssl::zero_box_mask_2d(64, 48, 0.5, a),
                           bcp::ssl::zero_box_mask_2d(64, 48, 0.5, b)));
  // Saving and restoring the generator's state replays the same masks.
  std::stringstream state;
  state << a;
  auto m1 = bcp::ssl::zero_box_mask_3d(20, 20, 12, 0.5, a);
  Rng c;
  state >> c;
  EXPECT_TRUE(torch::equal(m1, bcp::ssl::zero_box_mask_3d(20, 20, 12, 0.5, c)));
  Rng d(43);
  bool differs = false;
  Rng e(42);
  for (int i = 0; i < 5 && !differs; ++i)
    differs = !torch::equal(bcp::ssl::zero_box_mask_2d(64, 48, 0.5, d),
                            bcp::ssl::zero_box_mask_2d(64, 48, 0.5, e));
  EXPECT_TRUE(differs);
}

TEST(ZeroBoxMask, EdgeRatios) {
  Rng rng(1);
  EXPECT_EQ(bcp::ssl::zero_box_mask_2d(8, 8, 0.0, rng).sum().item<float>(), 64.0f);
  EXPECT_EQ(bcp::ssl::zero_box_mask_2d(8, 8, 1.0, rng).sum().item<float>(), 0.0f);
}

TEST(ZeroBoxMask, BatchMaskRepeats) {
  Rng rng(5);
  auto m = bcp::ssl::zero_box_mask_2d(10, 12, 0.5, rng);
  auto b = bcp::ssl::batch_mask(m, 3);
  ASSERT_EQ(b.sizes(), c10::IntArrayRef({3, 10, 12}));
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(torch::equal(b[i], m));
}

}  // namespace

// ---- the other mask shapes of the authors' code (bcp.mask) ----

TEST(MaskShapes, BoxIsTheDefaultZeroBoxMaskDrawForDraw) {
  bcp::ssl::Rng a(11), b(11);
  const auto box = bcp::ssl::copy_paste_mask(bcp::ssl::MaskShape::kBox, {256, 256}, 2.0 / 3.0, a);
  EXPECT_TRUE(torch::equal(box, bcp::ssl::zero_box_mask({256, 256}, 2.0 / 3.0, b)));
  EXPECT_EQ(a(), b());  // and the generator moved the same way
  EXPECT_EQ(bcp::util::parse_enum<bcp::ssl::MaskShape>("boxes"), bcp::ssl::MaskShape::kSmallBoxes);
  EXPECT_THROW(bcp::util::parse_enum<bcp::ssl::MaskShape>("circle"), std::invalid_argument);
}

TEST(MaskShapes, SmallBoxesAreOnePerGridCellWithTheAuthorsSizes) {
  bcp::ssl::Rng rng(3);
  // ACDC random_mask: 3 x 3 boxes of int(256 * 2 / 9) = 56, each inside its 85-pixel cell.
  const auto m2 = bcp::ssl::small_boxes_mask({256, 256}, 2.0 / 3.0, rng);
  EXPECT_EQ((m2 == 0).sum().item<int64_t>(), 9 * 56 * 56);
  for (int64_t cx = 0; cx < 3; ++cx)
    for (int64_t cy = 0; cy < 3; ++cy) {
      using torch::indexing::Slice;
      const auto cell = m2.index({Slice(cx * 85, cx * 85 + 85), Slice(cy * 85, cy * 85 + 85)});
      EXPECT_EQ((cell == 0).sum().item<int64_t>(), 56 * 56) << cx << "," << cy;
    }
  // LA random_mask: 27 boxes of (int(74 / 3) + 1, int(74 / 3) + 1, int(53 / 3)) = (25, 25, 17).
  const auto m3 = bcp::ssl::small_boxes_mask({112, 112, 80}, 2.0 / 3.0, rng);
  EXPECT_EQ((m3 == 0).sum().item<int64_t>(), 27 * 25 * 25 * 17);
}

TEST(MaskShapes, ContactIsOneBandWithTheSingleBoxsArea) {
  using torch::indexing::Slice;
  bcp::ssl::Rng rng(5);
  // ACDC contact_mask: int(256 * 4 / 9) = 113 whole rows.
  const auto m2 = bcp::ssl::contact_mask({256, 256}, 2.0 / 3.0, rng);
  const auto zero_rows = (m2 == 0).all(1);
  EXPECT_EQ(zero_rows.sum().item<int64_t>(), 113);
  EXPECT_EQ((m2 == 0).sum().item<int64_t>(), 113 * 256);
  const auto rows = zero_rows.nonzero().flatten();
  EXPECT_EQ(rows[-1].item<int64_t>() - rows[0].item<int64_t>(), 112);  // contiguous
  // LA concate_mask: int(80 * 8 / 27) = 23 whole z slices.
  const auto m3 = bcp::ssl::contact_mask({112, 112, 80}, 2.0 / 3.0, rng);
  EXPECT_EQ((m3 == 0).sum().item<int64_t>(), 112 * 112 * 23);
  EXPECT_EQ((m3 == 0).all(0).all(0).sum().item<int64_t>(), 23);
}
