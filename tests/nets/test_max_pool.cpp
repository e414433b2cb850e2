// The bf16 channels-last 2x2 max pooling against LibTorch's max_pool2d on the same input: the same
// bits forward and backward, with ties, NaN, -inf and odd sizes.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "bcp/nets/max_pool.h"

namespace bcp_test_max_pool {

using bcp::nets::fuses_max_pool_2x2;
using bcp::nets::max_pool_2x2;
constexpr auto kCL = torch::MemoryFormat::ChannelsLast;

TEST(MaxPool2x2, SameBitsAsLibTorchForwardAndBackward) {
  torch::manual_seed(21);
  for (const std::vector<int64_t>& shape :
       {std::vector<int64_t>{2, 16, 8, 10}, {1, 3, 7, 5}, {3, 33, 6, 6}}) {
    SCOPED_TRACE(::testing::Message() << c10::IntArrayRef(shape));
    // Few distinct values, so that windows hold ties; then a NaN and some -inf.
    auto base = torch::randint(-3, 4, shape).to(torch::kFloat32);
    base.view(-1)[5] = std::numeric_limits<float>::quiet_NaN();
    base.view(-1)[base.numel() / 2] = -std::numeric_limits<float>::infinity();
    base.select(1, 0).fill_(-std::numeric_limits<float>::infinity());  // a window of only -inf
    const auto x = base.to(torch::kBFloat16).contiguous(kCL).requires_grad_();
    const auto xr = x.detach().clone().requires_grad_();
    ASSERT_TRUE(fuses_max_pool_2x2(x));
    const auto ours = max_pool_2x2(x);
    const auto theirs = torch::max_pool2d(xr, 2);
    ASSERT_EQ(ours.sizes(), theirs.sizes());
    EXPECT_TRUE(ours.is_contiguous(kCL));
    // Same bits, NaN included.
    EXPECT_TRUE(torch::equal(ours.view(torch::kInt16), theirs.contiguous(kCL).view(torch::kInt16)));
    const auto g = torch::randn(theirs.sizes()).to(torch::kBFloat16).contiguous(kCL);
    const auto gx = torch::autograd::grad({ours}, {x}, {g})[0];
    const auto gxr = torch::autograd::grad({theirs}, {xr}, {g})[0];
    EXPECT_TRUE(torch::equal(gx, gxr));
    EXPECT_TRUE(gx.is_contiguous(kCL));
    // A gradient handed over in the plain layout.
    const auto gp = torch::autograd::grad({max_pool_2x2(x)}, {x}, {g.contiguous()})[0];
    EXPECT_TRUE(torch::equal(gp, gxr));
  }
}

TEST(MaxPool2x2, TakesOnlyBf16ChannelsLastCpuTensors) {
  const auto cl = torch::randn({2, 4, 4, 4}).contiguous(kCL);
  EXPECT_TRUE(fuses_max_pool_2x2(cl.to(torch::kBFloat16)));
  EXPECT_FALSE(fuses_max_pool_2x2(cl));
  EXPECT_FALSE(fuses_max_pool_2x2(torch::randn({2, 4, 4, 4}).to(torch::kBFloat16)));
  EXPECT_FALSE(fuses_max_pool_2x2(torch::randn({2, 4, 1, 4}).to(torch::kBFloat16)));
  EXPECT_FALSE(fuses_max_pool_2x2(torch::randn({2, 4, 4}).to(torch::kBFloat16)));
  EXPECT_THROW(max_pool_2x2(cl), c10::Error);
}

}  // namespace bcp_test_max_pool
