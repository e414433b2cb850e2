// The matrix-product transposed convolution against LibTorch's conv_transpose3d: values, gradients,
// layouts and dtypes.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "../scoped_threads.h"
#include "bcp/kernels/transposed_conv.h"

namespace bcp_test_transposed_conv {

using bcp::kernels::conv_transpose3d_stride_is_kernel;

double max_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

TEST(TransposedConv, EqualsLibTorchsInValuesAndGradients) {
  bcp::test::ScopedThreads two(2);  // the kernel's parallel split
  torch::manual_seed(3);
  // VNet's 2x2x2 up-sampling, and an uneven kernel to catch a mixed-up axis.
  for (const std::vector<int64_t>& kernel : {std::vector<int64_t>{2, 2, 2}, {1, 2, 3}}) {
    for (const bool with_bias : {true, false}) {
      SCOPED_TRACE(::testing::Message() << "kernel " << kernel[0] << kernel[1] << kernel[2]
                                        << (with_bias ? " with bias" : " without bias"));
      auto x = torch::randn({2, 3, 4, 5, 6}, torch::requires_grad());
      auto w = torch::randn({3, 4, kernel[0], kernel[1], kernel[2]}, torch::requires_grad());
      auto b = with_bias ? torch::randn({4}, torch::requires_grad()) : torch::Tensor();
      auto ours = conv_transpose3d_stride_is_kernel(x, w, b);
      auto theirs = torch::conv_transpose3d(x, w, b, kernel);
      ASSERT_EQ(ours.sizes(), theirs.sizes());
      EXPECT_LT(max_diff(ours, theirs), 1e-5);
      EXPECT_TRUE(ours.is_contiguous());

      const auto g = torch::randn_like(theirs);
      const auto grads = [&](const torch::Tensor& y) {
        std::vector<torch::Tensor> inputs{x, w};
        if (with_bias) inputs.push_back(b);
        return torch::autograd::grad({(y * g).sum()}, inputs);
      };
      const auto ours_grads = grads(ours);
      const auto theirs_grads = grads(theirs);
      for (size_t i = 0; i < ours_grads.size(); ++i)
        EXPECT_LT(max_diff(ours_grads[i], theirs_grads[i]), 1e-4) << "gradient " << i;
    }
  }
}

TEST(TransposedConv, AnyInputLayoutAndTheInputsDtype) {
  torch::manual_seed(4);
  const auto x = torch::randn({2, 8, 3, 4, 5});
  const auto w = torch::randn({8, 4, 2, 2, 2});
  const auto b = torch::randn({4});
  const auto reference = torch::conv_transpose3d(x, w, b, 2);
  const auto channels_last = x.contiguous(torch::MemoryFormat::ChannelsLast3d);
  const auto out = conv_transpose3d_stride_is_kernel(channels_last, w, b);
  EXPECT_LT(max_diff(out, reference), 1e-5);
  EXPECT_TRUE(out.is_contiguous(torch::MemoryFormat::ChannelsLast3d));

  // bf16 activations with fp32 weights (cast to bf16 for the product): bf16 out.
  const auto low = conv_transpose3d_stride_is_kernel(channels_last.to(torch::kBFloat16), w, b);
  EXPECT_EQ(low.scalar_type(), torch::kBFloat16);
  EXPECT_LT(max_diff(low, reference), 0.05 * reference.abs().max().item<double>());
}

// The product placed by permute + reshape, as LibTorch would: the blocks' placement is pure
// copying, so values and gradients must be the same bits.
torch::Tensor placed_by_permute(const torch::Tensor& x, const torch::Tensor& w,
                                const torch::Tensor& b) {
  const int64_t n = x.size(0), in = x.size(1), d = x.size(2), h = x.size(3), wd = x.size(4);
  const int64_t out = w.size(1), kd = w.size(2), kh = w.size(3), kw = w.size(4);
  const auto rows = x.permute({0, 2, 3, 4, 1}).reshape({n * d * h * wd, in});
  const auto cols =
      w.to(x.scalar_type()).permute({0, 2, 3, 4, 1}).reshape({in, kd * kh * kw * out});
  const auto blocks = torch::addmm(b.to(x.scalar_type()).repeat({kd * kh * kw}), rows, cols)
                          .view({n, d, h, wd, kd, kh, kw, out});
  return blocks.permute({0, 7, 1, 4, 2, 5, 3, 6}).reshape({n, out, d * kd, h * kh, wd * kw});
}

TEST(TransposedConv, PlacesTheProductBitForBitInBothLayoutsAndDtypes) {
  bcp::test::ScopedThreads two(2);
  torch::manual_seed(5);
  for (const auto dtype : {torch::kFloat32, torch::kBFloat16, torch::kFloat64}) {
    for (const bool channels_last : {false, true}) {
      SCOPED_TRACE(::testing::Message() << dtype << (channels_last ? " channels-last" : " plain"));
      auto base = torch::randn({2, 5, 3, 4, 6}).to(dtype);
      if (channels_last) base = base.contiguous(torch::MemoryFormat::ChannelsLast3d);
      const auto x = base.requires_grad_();
      const auto w = torch::randn({5, 3, 2, 1, 3}, torch::requires_grad());
      const auto b = torch::randn({3}, torch::requires_grad());
      const auto ours = conv_transpose3d_stride_is_kernel(x, w, b);
      const auto theirs = placed_by_permute(x, w, b);
      EXPECT_TRUE(torch::equal(ours, theirs));
      EXPECT_TRUE(ours.is_contiguous(channels_last ? torch::MemoryFormat::ChannelsLast3d
                                                   : torch::MemoryFormat::Contiguous));
      // A gradient in the other layout than the output's, as autograd may hand one over.
      const auto g = torch::randn(theirs.sizes())
                         .to(dtype)
                         .contiguous(channels_last ? torch::MemoryFormat::Contiguous
                                                   : torch::MemoryFormat::ChannelsLast3d);
      const auto ours_grads = torch::autograd::grad({ours}, {x, w, b}, {g});
      const auto theirs_grads = torch::autograd::grad({theirs}, {x, w, b}, {g});
      for (size_t i = 0; i < ours_grads.size(); ++i)
        EXPECT_TRUE(torch::equal(ours_grads[i], theirs_grads[i])) << "gradient " << i;
    }
  }
}

TEST(TransposedConv, RefusesMismatchedChannels) {
  EXPECT_THROW(conv_transpose3d_stride_is_kernel(torch::zeros({1, 3, 2, 2, 2}),
                                                 torch::zeros({4, 2, 2, 2, 2}), torch::Tensor()),
               c10::Error);
  EXPECT_THROW(conv_transpose3d_stride_is_kernel(torch::zeros({1, 3, 2, 2}),
                                                 torch::zeros({3, 2, 2, 2, 2}), torch::Tensor()),
               c10::Error);
}

}  // namespace bcp_test_transposed_conv
