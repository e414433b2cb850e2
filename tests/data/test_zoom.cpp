#include <gtest/gtest.h>
#include <torch/torch.h>

#include "../support.h"
#include "bcp/data/zoom.h"
#include "bcp/io/h5.h"

namespace {

using bcp::data::zoom_nearest;
using bcp::data::zoom_source_index;

TEST(Zoom, ParityWithScipyOrder0) {
  const auto path = bcp::test::parity_file("resize.h5");
  BCP_REQUIRE_SHARED(path);
  bcp::io::H5File f(path.string());
  const auto cases = f.list("/");
  ASSERT_FALSE(cases.empty());
  for (const auto& c : cases) {
    SCOPED_TRACE(c);
    auto image = f.read(c + "/image");
    auto label = f.read(c + "/label");
    auto pred = f.read(c + "/pred_256");
    auto image_ref = f.read(c + "/image_to_256");
    auto label_ref = f.read(c + "/label_to_256");
    auto pred_ref = f.read(c + "/pred_back");

    auto image_out = zoom_nearest(image, {256, 256});
    EXPECT_EQ(image_out.dtype(), image.dtype());
    EXPECT_TRUE(torch::equal(image_out, image_ref)) << "image_to_256 differs";
    auto label_out = zoom_nearest(label, {256, 256});
    EXPECT_TRUE(torch::equal(label_out, label_ref.to(label_out.dtype()))) << "label_to_256 differs";
    auto pred_out = zoom_nearest(pred, {image.size(0), image.size(1)});
    EXPECT_TRUE(torch::equal(pred_out, pred_ref.to(pred_out.dtype()))) << "pred_back differs";
  }
}

TEST(Zoom, SourceIndexIsCornerAligned) {
  // 3 -> 5: zoom 0.5, coordinates 0, .5, 1, 1.5, 2 round half up to 0, 1, 1, 2, 2.
  std::vector<int64_t> got;
  for (int64_t o = 0; o < 5; ++o) got.push_back(zoom_source_index(o, 3, 5));
  EXPECT_EQ(got, (std::vector<int64_t>{0, 1, 1, 2, 2}));
  // Both corners always map onto each other.
  EXPECT_EQ(zoom_source_index(0, 216, 256), 0);
  EXPECT_EQ(zoom_source_index(255, 216, 256), 215);
  // out == 1 reads the first element (scipy uses zoom 1 there).
  EXPECT_EQ(zoom_source_index(0, 7, 1), 0);
  // 256 -> 216: 215 * (255 / 215.) is one ulp past 255, which scipy's constant mode reads as 0.
  EXPECT_EQ(zoom_source_index(215, 256, 216), -1);
  auto row = bcp::data::zoom_nearest(torch::ones({256, 3}, torch::kUInt8), {216, 3});
  EXPECT_EQ(row.slice(0, 0, 215).min().item<int>(), 1);
  EXPECT_EQ(row[215].max().item<int>(), 0);
}

TEST(Zoom, ThreeDimensionalAndIntegerDtypes) {
  auto x = torch::arange(2 * 3 * 4, torch::kInt32).reshape({2, 3, 4});
  auto y = zoom_nearest(x, {3, 5, 4});
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{3, 5, 4}));
  EXPECT_EQ(y.dtype(), torch::kInt32);
  for (int64_t d = 0; d < 3; ++d)
    for (int64_t h = 0; h < 5; ++h)
      for (int64_t w = 0; w < 4; ++w)
        EXPECT_EQ(y[d][h][w].item<int>(),
                  x[zoom_source_index(d, 2, 3)][zoom_source_index(h, 3, 5)][w].item<int>());
  // Same size returns an equal copy, not an alias.
  auto same = zoom_nearest(x, {2, 3, 4});
  EXPECT_TRUE(torch::equal(same, x));
  same.fill_(0);
  EXPECT_NE(x.sum().item<int>(), 0);
  // Down to a single element per axis.
  auto one = zoom_nearest(x, {1, 1, 1});
  EXPECT_EQ(one.item<int>(), 0);
  auto b = zoom_nearest(torch::ones({4, 4}, torch::kBool), {7, 2});
  EXPECT_EQ(b.dtype(), torch::kBool);
  EXPECT_TRUE(b.all().item<bool>());
}

TEST(Zoom, RejectsBadArguments) {
  EXPECT_THROW(zoom_nearest(torch::zeros({4}), {8}), c10::Error);
  EXPECT_THROW(zoom_nearest(torch::zeros({4, 4}), {8}), c10::Error);
  EXPECT_THROW(zoom_nearest(torch::zeros({4, 4}), {8, 0}), c10::Error);
  EXPECT_THROW(zoom_nearest(torch::zeros({0, 4}), {8, 8}), c10::Error);
}

}  // namespace
