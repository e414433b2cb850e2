// concat_channels against torch::cat: the same values and gradients, bit for bit, and a
// channels-last skip connection gets a dense channels-last gradient.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "bcp/kernels/channel_concat.h"

namespace bcp_test_channel_concat {

using bcp::kernels::concat_channels;

struct Layout {
  torch::ScalarType dtype;
  torch::MemoryFormat format;
};

TEST(ConcatChannels, SameValuesAndGradientsAsCat) {
  torch::manual_seed(11);
  for (const Layout& l : {Layout{torch::kBFloat16, torch::MemoryFormat::ChannelsLast},
                          Layout{torch::kFloat32, torch::MemoryFormat::ChannelsLast},
                          Layout{torch::kFloat32, torch::MemoryFormat::Contiguous}}) {
    SCOPED_TRACE(::testing::Message() << l.dtype << " " << l.format);
    const auto make = [&](int64_t c) {
      return torch::randn({3, c, 8, 6}).to(l.dtype).contiguous(l.format).requires_grad_();
    };
    auto a = make(4), b = make(5);
    // `a` also feeds another layer, as a U-Net's skip connection does: its two gradients add up.
    const auto other = torch::randn({3, 4, 8, 6}).to(l.dtype).contiguous(l.format);
    const auto g = torch::randn({3, 9, 8, 6}).to(l.dtype).contiguous(l.format);
    const auto grads = [&](const torch::Tensor& y) {
      return torch::autograd::grad({(y * g).sum() + (a * other).sum()}, {a, b});
    };
    const auto ours = concat_channels(a, b), theirs = torch::cat({a, b}, 1);
    EXPECT_TRUE(torch::equal(ours, theirs));
    EXPECT_EQ(ours.strides(), theirs.strides());
    const auto ours_grads = grads(ours), theirs_grads = grads(theirs);
    for (size_t i = 0; i < 2; ++i) {
      EXPECT_TRUE(torch::equal(ours_grads[i], theirs_grads[i])) << "input " << i;
    }
    if (l.format == torch::MemoryFormat::ChannelsLast) {
      EXPECT_TRUE(ours_grads[0].is_contiguous(torch::MemoryFormat::ChannelsLast));
    }
  }
}

TEST(ConcatChannels, OnlyTheInputsThatNeedAGradientGetOne) {
  auto a = torch::randn({2, 3, 4, 4}).contiguous(torch::MemoryFormat::ChannelsLast);
  auto b = torch::randn({2, 2, 4, 4}).contiguous(torch::MemoryFormat::ChannelsLast);
  b.requires_grad_();
  const auto grads = torch::autograd::grad({concat_channels(a, b).sum()}, {b});
  EXPECT_TRUE(torch::equal(grads[0], torch::ones_like(b)));
  EXPECT_THROW(concat_channels(a, torch::randn({2, 3})), c10::Error);
}

}  // namespace bcp_test_channel_concat
