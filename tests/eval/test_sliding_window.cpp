#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "../support.h"
#include "bcp/eval/sliding_window.h"
#include "bcp/io/h5.h"

namespace {

using bcp::eval::Shape3;
using bcp::eval::sliding_window_grid;
using bcp::eval::sliding_window_probability;
using bcp::eval::SlidingWindowOptions;

double sigmoid(double v) {
  return 1.0 / (1.0 + std::exp(-v));
}

/// Two-class logits: class 0 is 0, class 1 is the input value plus `slope` times the position
/// along x inside the window, so overlapping windows disagree and averaging is visible.
torch::Tensor positional_logits(const torch::Tensor& x, double slope) {
  auto pos = torch::arange(x.size(2), x.options()).view({1, 1, -1, 1, 1});
  auto fg = x + slope * pos;
  return torch::cat({torch::zeros_like(fg), fg}, 1);
}

TEST(SlidingWindow, GridParityWithAuthorsCode) {
  const auto path = bcp::test::parity_file("sliding_window.h5");
  BCP_REQUIRE_SHARED(path);
  bcp::io::H5File f(path.string());
  const auto cases = f.list("/");
  ASSERT_FALSE(cases.empty());
  for (const auto& c : cases) {
    SCOPED_TRACE(c);
    auto shape = f.read(c + "/shape").to(torch::kLong);
    auto padded = f.read(c + "/padded_shape").to(torch::kLong);
    auto starts = f.read(c + "/starts").to(torch::kLong);
    auto grid = sliding_window_grid(
        {shape[0].item<int64_t>(), shape[1].item<int64_t>(), shape[2].item<int64_t>()});
    for (int a = 0; a < 3; ++a)
      EXPECT_EQ(grid.padded_shape[a], padded[a].item<int64_t>()) << "axis " << a;
    ASSERT_EQ(static_cast<int64_t>(grid.starts.size()), starts.size(0));
    for (int64_t i = 0; i < starts.size(0); ++i)
      for (int a = 0; a < 3; ++a)
        EXPECT_EQ(grid.starts[i][a], starts[i][a].item<int64_t>()) << "window " << i;
  }
}

TEST(SlidingWindow, GridPadsHalfLeft) {
  auto g = sliding_window_grid({100, 150, 71}, {112, 112, 80}, {18, 18, 4});
  EXPECT_EQ(g.padded_shape, (Shape3{112, 150, 80}));
  EXPECT_EQ(g.pad_left, (Shape3{6, 0, 4}));
  EXPECT_EQ(g.pad_right, (Shape3{6, 0, 5}));
  // y: ceil((150 - 112) / 18) + 1 = 4 starts: 0, 18, 36, 38.
  ASSERT_EQ(g.starts.size(), 4u);
  EXPECT_EQ(g.starts[3], (Shape3{0, 38, 0}));
  EXPECT_THROW(sliding_window_grid({10, 10, 10}, {4, 4, 4}, {5, 1, 1}), std::invalid_argument);
  EXPECT_THROW(sliding_window_grid({0, 10, 10}, {4, 4, 4}, {1, 1, 1}), std::invalid_argument);
}

TEST(SlidingWindow, AveragesOverlappingWindowsByHand) {
  // Volume (3, 1, 1) of zeros, patch 2 along x, stride 1: windows start at x = 0 and 1.
  // Voxel 0 sees window 0 at local x 0; voxel 1 sees window 0 at 1 and window 1 at 0; voxel 2
  // sees window 1 at 1. Foreground probability = sigmoid(local x).
  SlidingWindowOptions opt;
  opt.patch = {2, 1, 1};
  opt.stride = {1, 1, 1};
  auto prob = sliding_window_probability(
      torch::zeros({3, 1, 1}), [](const torch::Tensor& x) { return positional_logits(x, 1.0); }, 2,
      opt);
  ASSERT_EQ(prob.sizes(), (std::vector<int64_t>{2, 3, 1, 1}));
  EXPECT_NEAR(prob[1][0][0][0].item<double>(), 0.5, 1e-6);
  EXPECT_NEAR(prob[1][1][0][0].item<double>(), (sigmoid(1.0) + 0.5) / 2, 1e-6);
  EXPECT_NEAR(prob[1][2][0][0].item<double>(), sigmoid(1.0), 1e-6);
  EXPECT_TRUE(torch::allclose(prob.sum(0), torch::ones({3, 1, 1})));
}

TEST(SlidingWindow, ZeroPaddingIsCroppedOff) {
  // One voxel of value 2 in a patch of 3 along x: padded [0, 2, 0], the voxel at local x 1.
  SlidingWindowOptions opt;
  opt.patch = {3, 1, 1};
  opt.stride = {1, 1, 1};
  std::vector<torch::Tensor> seen;
  auto prob = sliding_window_probability(
      torch::full({1, 1, 1}, 2.0),
      [&](const torch::Tensor& x) {
        seen.push_back(x.clone());
        return positional_logits(x, 1.0);
      },
      2, opt);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_TRUE(torch::equal(seen[0].flatten(), torch::tensor({0.0f, 2.0f, 0.0f})));
  ASSERT_EQ(prob.sizes(), (std::vector<int64_t>{2, 1, 1, 1}));
  EXPECT_NEAR(prob[1].item<double>(), sigmoid(3.0), 1e-6);
}

TEST(SlidingWindow, MatchesBruteForceAverage) {
  // A 3D case with padding on one axis, checked against a direct per-voxel average written from
  // the authors' loop (independent of the implementation's slicing).
  torch::manual_seed(0);
  const Shape3 shape{7, 6, 2}, patch{4, 3, 3}, stride{2, 3, 1};
  auto vol = torch::randn({shape[0], shape[1], shape[2]});
  SlidingWindowOptions opt;
  opt.patch = patch;
  opt.stride = stride;
  auto predictor = [](const torch::Tensor& x) { return positional_logits(x, 0.7); };
  auto prob = sliding_window_probability(vol, predictor, 2, opt);

  auto g = sliding_window_grid(shape, patch, stride);
  EXPECT_EQ(g.pad_left, (Shape3{0, 0, 0}));
  EXPECT_EQ(g.pad_right, (Shape3{0, 0, 1}));
  auto acc = vol.accessor<float, 3>();
  double max_err = 0;
  for (int64_t x = 0; x < shape[0]; ++x)
    for (int64_t y = 0; y < shape[1]; ++y)
      for (int64_t z = 0; z < shape[2]; ++z) {
        double sum = 0;
        int n = 0;
        for (const auto& s : g.starts) {
          const int64_t px = x + g.pad_left[0], py = y + g.pad_left[1], pz = z + g.pad_left[2];
          if (px < s[0] || px >= s[0] + patch[0] || py < s[1] || py >= s[1] + patch[1] ||
              pz < s[2] || pz >= s[2] + patch[2])
            continue;
          sum += sigmoid(acc[x][y][z] + 0.7 * static_cast<double>(px - s[0]));
          ++n;
        }
        ASSERT_GT(n, 0);
        max_err = std::max(max_err, std::abs(sum / n - prob[1][x][y][z].item<double>()));
      }
  EXPECT_LT(max_err, 1e-6);
}

TEST(SlidingWindow, WindowBatchDoesNotChangeResult) {
  torch::manual_seed(1);
  auto vol = torch::randn({20, 17, 9});
  SlidingWindowOptions opt;
  opt.patch = {8, 8, 6};
  opt.stride = {3, 3, 2};
  auto fake = [](const torch::Tensor& x) { return positional_logits(x, 0.3); };
  // A small conv net in eval mode stands in for a real one.
  torch::nn::Sequential net(torch::nn::Conv3d(torch::nn::Conv3dOptions(1, 4, 3).padding(1)),
                            torch::nn::BatchNorm3d(4), torch::nn::ReLU(),
                            torch::nn::Conv3d(torch::nn::Conv3dOptions(4, 3, 1)));
  net->eval();
  torch::NoGradGuard no_grad;
  auto conv = [&](const torch::Tensor& x) { return net->forward(x); };
  int calls = 0;
  auto counting = [&](const torch::Tensor& x) {
    ++calls;
    return conv(x);
  };
  for (int64_t wb : {1, 4, 7, 1000}) {
    SCOPED_TRACE(wb);
    SlidingWindowOptions o = opt;
    o.window_batch = wb;
    opt.window_batch = 1;
    EXPECT_TRUE(torch::equal(sliding_window_probability(vol, fake, 2, o),
                             sliding_window_probability(vol, fake, 2, opt)));
    calls = 0;
    auto batched = sliding_window_probability(vol, counting, 3, o);
    const auto windows =
        static_cast<int64_t>(sliding_window_grid({20, 17, 9}, opt.patch, opt.stride).starts.size());
    EXPECT_EQ(calls, (windows + wb - 1) / wb);
    // A convolution may pick another kernel for another batch size, so a real network agrees to
    // float rounding rather than bit for bit.
    auto single = sliding_window_probability(vol, conv, 3, opt);
    EXPECT_LT((batched - single).abs().max().item<float>(), 1e-5F);
  }
}

TEST(SlidingWindow, RejectsBadInput) {
  auto fake = [](const torch::Tensor& x) { return positional_logits(x, 0.0); };
  SlidingWindowOptions opt;
  opt.patch = {2, 2, 2};
  opt.stride = {1, 1, 1};
  EXPECT_THROW(sliding_window_probability(torch::zeros({4, 4}), fake, 2, opt), c10::Error);
  EXPECT_THROW(sliding_window_probability(torch::zeros({4, 4, 4}, torch::kLong), fake, 2, opt),
               c10::Error);
  auto nan = torch::zeros({4, 4, 4});
  nan[1][2][3] = NAN;
  EXPECT_THROW(sliding_window_probability(nan, fake, 2, opt), c10::Error);
  EXPECT_THROW(sliding_window_probability(torch::zeros({4, 4, 4}), fake, 3, opt),
               c10::Error);  // wrong C
  opt.window_batch = 0;
  EXPECT_THROW(sliding_window_probability(torch::zeros({4, 4, 4}), fake, 2, opt), c10::Error);
  opt.window_batch = 1;
  opt.stride = {3, 1, 1};
  EXPECT_THROW(sliding_window_probability(torch::zeros({4, 4, 4}), fake, 2, opt), c10::Error);
}

}  // namespace
