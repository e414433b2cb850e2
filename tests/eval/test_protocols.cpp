#include <gtest/gtest.h>
#include <torch/torch.h>

#include "../support.h"
#include "bcp/data/zoom.h"
#include "bcp/eval/acdc_protocol.h"
#include "bcp/eval/la_protocol.h"
#include "bcp/io/h5.h"

namespace {

using bcp::data::zoom_nearest;
using bcp::eval::acdc_predict_volume;
using bcp::eval::AcdcProtocolOptions;
using bcp::eval::la_predict_volume;
using bcp::eval::LaProtocolOptions;

/// Logits whose argmax is the (integer) input value: a perfect segmenter for images that hold
/// their own labels. (N, 1, H, W) -> (N, 4, H, W).
torch::Tensor one_hot_logits(const torch::Tensor& x) {
  auto labels = x.squeeze(1).round().to(torch::kLong).clamp(0, 3);
  return torch::one_hot(labels, 4).permute({0, 3, 1, 2}).to(torch::kFloat) * 5.0;
}

TEST(AcdcProtocol, GivesBackTheLabelThroughTheZoomRoundTrip) {
  const auto path = bcp::test::data_dir("ACDC") / "data" / "patient002_frame01.h5";
  torch::Tensor label;
  if (std::filesystem::exists(path)) {
    label = bcp::io::read_h5(path.string(), "label");
  } else {
    // No ../shared: a synthetic volume of an odd slice size still exercises the round trip.
    label = torch::zeros({3, 37, 53}, torch::kUInt8);
    label.index_put_(
        {torch::indexing::Slice(), torch::indexing::Slice(5, 30), torch::indexing::Slice(10, 20)},
        1);
    label.index_put_(
        {torch::indexing::Slice(), torch::indexing::Slice(12, 20), torch::indexing::Slice(30, 50)},
        3);
    label[1][0][0] = 2;
  }
  ASSERT_EQ(label.dim(), 3);
  const int64_t d = label.size(0), h = label.size(1), w = label.size(2);
  auto image = label.to(torch::kFloat);

  std::vector<int64_t> batch_sizes;
  auto predictor = [&](const torch::Tensor& x) {
    EXPECT_EQ(x.size(1), 1);
    EXPECT_EQ(x.size(2), 256);
    EXPECT_EQ(x.size(3), 256);
    batch_sizes.push_back(x.size(0));
    return one_hot_logits(x);
  };
  auto pred = acdc_predict_volume(image, predictor);
  ASSERT_EQ(pred.sizes(), label.sizes());
  EXPECT_EQ(pred.dtype(), torch::kUInt8);
  EXPECT_EQ(batch_sizes, (std::vector<int64_t>{d}));  // one call for the whole volume by default

  // Exactly the label seen through nearest 256 and back.
  auto expected = zoom_nearest(zoom_nearest(label, {d, 256, 256}), {d, h, w});
  EXPECT_TRUE(torch::equal(pred, expected));
  // Where the index round trip maps a pixel onto itself, the label comes back unchanged.
  int64_t fixed = 0;
  for (int64_t i = 0; i < h; ++i)
    for (int64_t j = 0; j < w; ++j) {
      const int64_t ri =
          bcp::data::zoom_source_index(bcp::data::zoom_source_index(i, 256, h), h, 256);
      const int64_t rj =
          bcp::data::zoom_source_index(bcp::data::zoom_source_index(j, 256, w), w, 256);
      if (ri == i && rj == j) {
        ++fixed;
        ASSERT_TRUE(torch::equal(pred.select(1, i).select(1, j), label.select(1, i).select(1, j)))
            << "pixel (" << i << ", " << j << ")";
      }
    }
  EXPECT_GT(fixed, h * w / 2);

  // Chunked calls give the same labels.
  batch_sizes.clear();
  AcdcProtocolOptions opt;
  opt.slice_batch = 2;
  EXPECT_TRUE(torch::equal(acdc_predict_volume(image, predictor, opt), pred));
  EXPECT_EQ(batch_sizes.front(), std::min<int64_t>(2, d));
  EXPECT_EQ(static_cast<int64_t>(batch_sizes.size()), (d + 1) / 2);
}

TEST(AcdcProtocol, OtherSizeAndBadInput) {
  auto label = torch::randint(0, 4, {2, 20, 30}, torch::kUInt8);
  auto pred = acdc_predict_volume(label.to(torch::kFloat), one_hot_logits, 64);
  EXPECT_TRUE(torch::equal(pred, zoom_nearest(zoom_nearest(label, {2, 64, 64}), {2, 20, 30})));

  EXPECT_THROW(acdc_predict_volume(torch::zeros({20, 30}), one_hot_logits), c10::Error);
  EXPECT_THROW(acdc_predict_volume(torch::zeros({2, 20, 30}, torch::kLong), one_hot_logits),
               c10::Error);
  auto nan = torch::zeros({2, 20, 30});
  nan[1][3][4] = NAN;
  EXPECT_THROW(acdc_predict_volume(nan, one_hot_logits), c10::Error);
  auto wrong = [](const torch::Tensor& x) { return one_hot_logits(x).narrow(2, 0, 100); };
  EXPECT_THROW(acdc_predict_volume(torch::zeros({2, 20, 30}), wrong), c10::Error);
}

TEST(LaProtocol, ThresholdsAndKeepsTheLargestComponent) {
  // Two bright blocks; the predictor says foreground where the input is bright.
  auto image = torch::zeros({30, 28, 20});
  using torch::indexing::Slice;
  image.index_put_({Slice(2, 12), Slice(3, 13), Slice(2, 10)}, 1.0);     // 800 voxels
  image.index_put_({Slice(20, 24), Slice(20, 24), Slice(12, 16)}, 1.0);  // 64 voxels
  auto predictor = [](const torch::Tensor& x) {
    auto fg = (x - 0.5) * 8.0;
    return torch::cat({torch::zeros_like(fg), fg}, 1);
  };
  LaProtocolOptions opt;
  opt.window.patch = {16, 16, 12};
  opt.window.stride = {6, 6, 3};
  auto pred = la_predict_volume(image, predictor, opt);
  ASSERT_EQ(pred.sizes(), image.sizes());
  EXPECT_EQ(pred.dtype(), torch::kUInt8);
  auto big = torch::zeros_like(pred);
  big.index_put_({Slice(2, 12), Slice(3, 13), Slice(2, 10)}, 1);
  EXPECT_TRUE(torch::equal(pred, big));

  opt.largest_component = false;
  EXPECT_TRUE(torch::equal(la_predict_volume(image, predictor, opt), image.to(torch::kUInt8)));
  // Volumes smaller than the patch are padded and cropped back.
  auto small = image.narrow(0, 0, 10);
  EXPECT_EQ(la_predict_volume(small, predictor).sizes(), small.sizes());
}

TEST(LaProtocol, MoreClassesTakeTheArgmaxAndEachClassKeepsItsLargestComponent) {
  // Class 1 where the input is near 1, class 2 near 2; class 1 has a stray small block.
  auto image = torch::zeros({30, 28, 20});
  using torch::indexing::Slice;
  image.index_put_({Slice(2, 12), Slice(3, 13), Slice(2, 10)}, 1.0);
  image.index_put_({Slice(22, 25), Slice(22, 25), Slice(15, 18)}, 1.0);  // stray class 1
  image.index_put_({Slice(14, 26), Slice(2, 12), Slice(4, 12)}, 2.0);
  auto predictor = [](const torch::Tensor& x) {
    auto near = [&](double v) { return -(x - v).abs() * 8.0; };
    return torch::cat({near(0.0), near(1.0), near(2.0)}, 1);
  };
  LaProtocolOptions opt;
  opt.num_classes = 3;
  opt.window.patch = {16, 16, 12};
  opt.window.stride = {6, 6, 3};
  auto pred = la_predict_volume(image, predictor, opt);
  ASSERT_EQ(pred.sizes(), image.sizes());
  EXPECT_EQ(pred.dtype(), torch::kUInt8);
  auto expect = image.round().to(torch::kUInt8);
  expect.index_put_({Slice(22, 25), Slice(22, 25), Slice(15, 18)}, 0);
  EXPECT_TRUE(torch::equal(pred, expect));
  opt.largest_component = false;
  EXPECT_TRUE(torch::equal(la_predict_volume(image, predictor, opt), image.to(torch::kUInt8)));
}

TEST(AcdcProtocol, ChannelsReachThePredictorTogether) {
  // Channel 1 holds the labels, channel 0 noise: the predictor reads channel 1 only.
  torch::manual_seed(2);
  auto labels = torch::randint(0, 4, {3, 20, 30}).to(torch::kFloat);
  auto image = torch::stack({torch::rand({3, 20, 30}), labels});
  auto from_channel_1 = [](const torch::Tensor& x) {
    EXPECT_EQ(x.size(1), 2);
    return one_hot_logits(x.narrow(1, 1, 1));
  };
  AcdcProtocolOptions opt;
  opt.size = 64;
  torch::Tensor prob;
  auto pred = acdc_predict_volume(image, from_channel_1, opt, &prob);
  EXPECT_TRUE(torch::equal(pred, acdc_predict_volume(labels, one_hot_logits, opt)));
  ASSERT_EQ(prob.sizes(), (std::vector<int64_t>{4, 3, 20, 30}));
  EXPECT_TRUE(torch::equal(prob.argmax(0).to(torch::kUInt8), pred));
}

TEST(LaProtocol, ChannelsReachThePredictorTogether) {
  auto fg = torch::zeros({30, 28, 20});
  using torch::indexing::Slice;
  fg.index_put_({Slice(2, 12), Slice(3, 13), Slice(2, 10)}, 1.0);
  auto image = torch::stack({torch::rand({30, 28, 20}), fg});
  auto from_channel_1 = [](const torch::Tensor& x) {
    EXPECT_EQ(x.size(1), 2);
    auto f = (x.narrow(1, 1, 1) - 0.5) * 8.0;
    return torch::cat({torch::zeros_like(f), f}, 1);
  };
  LaProtocolOptions opt;
  opt.window.patch = {16, 16, 12};
  opt.window.stride = {6, 6, 3};
  EXPECT_TRUE(torch::equal(la_predict_volume(image, from_channel_1, opt), fg.to(torch::kUInt8)));
}

}  // namespace
