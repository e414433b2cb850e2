// The matrix-product transposed convolution against LibTorch's conv_transpose3d: values, gradients,
// layouts and dtypes.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "bcp/nets/transposed_conv.h"

namespace bcp_test_transposed_conv {

using bcp::nets::conv_transpose3d_stride_is_kernel;

double max_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

TEST(TransposedConv, EqualsLibTorchsInValuesAndGradients) {
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

TEST(TransposedConv, RefusesMismatchedChannels) {
  EXPECT_THROW(conv_transpose3d_stride_is_kernel(torch::zeros({1, 3, 2, 2, 2}),
                                                 torch::zeros({4, 2, 2, 2, 2}), torch::Tensor()),
               c10::Error);
  EXPECT_THROW(conv_transpose3d_stride_is_kernel(torch::zeros({1, 3, 2, 2}),
                                                 torch::zeros({3, 2, 2, 2, 2}), torch::Tensor()),
               c10::Error);
}

}  // namespace bcp_test_transposed_conv
