// The bf16 channels-last 2x2 max pooling against LibTorch's max_pool2d on the same input: the same
// bits forward and backward, with ties, NaN, -inf and odd sizes.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "../scoped_threads.h"
#include "bcp/kernels/max_pool.h"

namespace bcp_test_max_pool {

using bcp::kernels::fuses_max_pool_2x2;
using bcp::kernels::max_pool_2x2;
constexpr auto kCL = torch::MemoryFormat::ChannelsLast;

TEST(MaxPool2x2, SameBitsAsLibTorchForwardAndBackward) {
  bcp::test::ScopedThreads two(2);  // the kernel's parallel split
  torch::manual_seed(21);
  for (const std::vector<int64_t>& shape :
       {std::vector<int64_t>{2, 16, 8, 10}, {1, 3, 7, 5}, {3, 33, 6, 6}}) {
    SCOPED_TRACE(::testing::Message() << c10::IntArrayRef(shape));
    // Few distinct values, so that windows hold ties; channel 0 all -inf; a NaN and another
    // -inf in the last channel (its first and last windows).
    auto base = torch::randint(-3, 4, shape).to(torch::kFloat32);
    base.select(1, 0).fill_(-std::numeric_limits<float>::infinity());
    base[0][shape[1] - 1][1][1] = std::numeric_limits<float>::quiet_NaN();
    base[0][shape[1] - 1][shape[2] - 2][shape[3] - 2] = -std::numeric_limits<float>::infinity();
    const auto x = base.to(torch::kBFloat16).contiguous(kCL).requires_grad_();
    const auto xr = x.detach().clone().requires_grad_();
    ASSERT_TRUE(fuses_max_pool_2x2(x));
    const auto ours = max_pool_2x2(x);
    const auto theirs = torch::max_pool2d(xr, 2);
    ASSERT_EQ(ours.sizes(), theirs.sizes());
    EXPECT_TRUE(ours.is_contiguous(kCL));
    // Same bits, but a NaN's payload (LibTorch's vector and scalar loops write different ones).
    const auto nan = theirs.isnan();
    ASSERT_TRUE(nan.any().item<bool>());
    EXPECT_TRUE(torch::equal(ours.isnan(), nan));
    EXPECT_TRUE(torch::equal(ours.masked_fill(nan, 0).contiguous().view(torch::kInt16),
                             theirs.masked_fill(nan, 0).contiguous().view(torch::kInt16)));
    const auto g = torch::randn(theirs.sizes()).to(torch::kBFloat16).contiguous(kCL);
    const auto gx = torch::autograd::grad({ours}, {x}, {g})[0];
    const auto gxr = torch::autograd::grad({theirs}, {xr}, {g})[0];
    const auto bits = [](const torch::Tensor& t) { return t.contiguous().view(torch::kInt16); };
    EXPECT_TRUE(torch::equal(bits(gx), bits(gxr)));  // -0 and +0 told apart too
    EXPECT_TRUE(gx.is_contiguous(kCL));
    // A gradient handed over in the plain layout.
    const auto gp = torch::autograd::grad({max_pool_2x2(x)}, {x}, {g.contiguous()})[0];
    EXPECT_TRUE(torch::equal(bits(gp), bits(gxr)));
  }
}

TEST(MaxPool2x2, TakesOnlyBf16ChannelsLastCpuTensors) {
  const auto cl = torch::randn({2, 4, 4, 4}).contiguous(kCL);
  EXPECT_TRUE(fuses_max_pool_2x2(cl.to(torch::kBFloat16)));
  EXPECT_FALSE(fuses_max_pool_2x2(cl));
  EXPECT_FALSE(fuses_max_pool_2x2(torch::randn({2, 4, 4, 4}).to(torch::kBFloat16)));
  EXPECT_FALSE(fuses_max_pool_2x2(torch::randn({2, 4, 1, 4}).to(torch::kBFloat16)));
  EXPECT_FALSE(fuses_max_pool_2x2(torch::randn({2, 4, 4}).to(torch::kBFloat16)));
  // One channel in the plain layout: LibTorch's output stays plain, so LibTorch runs.
  EXPECT_FALSE(fuses_max_pool_2x2(torch::randn({2, 1, 4, 4}).to(torch::kBFloat16)));
  EXPECT_THROW(max_pool_2x2(cl), c10::Error);
}

}  // namespace bcp_test_max_pool
