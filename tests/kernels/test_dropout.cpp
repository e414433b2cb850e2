#include <gtest/gtest.h>
#include <torch/torch.h>

#include "../scoped_threads.h"
#include "bcp/kernels/dropout.h"

using namespace bcp::kernels;

TEST(ParallelDropout, IdentityInEvalModeAndForZeroProbability) {
  auto x = torch::randn({2, 3, 8, 8});
  ParallelDropout d(0.3);
  d->eval();
  EXPECT_TRUE(torch::equal(d->forward(x), x));
  ParallelDropout zero(0.0);
  EXPECT_TRUE(torch::equal(zero->forward(x), x));
  EXPECT_THROW(ParallelDropout(1.0), c10::Error);
}

TEST(ParallelDropout, MaskKeepsOneMinusPScaledAndIsSeededAndThreadIndependent) {
  bcp::test::ScopedThreads two(2);
  const double p = 0.2;
  auto like = torch::empty({4, 16, 128, 128});
  torch::manual_seed(42);
  auto m = dropout_mask(like, p);
  const float scale = static_cast<float>(1.0 / (1.0 - p));
  EXPECT_TRUE(torch::logical_or(m.eq(0), m.eq(scale)).all().item<bool>());
  const double kept = m.ne(0).to(torch::kFloat64).mean().item<double>();
  EXPECT_NEAR(kept, 1.0 - p, 0.005);
  // Neighbouring elements are not correlated (each 16-bit draw is its own).
  auto flat = m.ne(0).to(torch::kFloat64).flatten();
  const double both = (flat.narrow(0, 0, flat.numel() - 1) * flat.narrow(0, 1, flat.numel() - 1))
                          .mean()
                          .item<double>();
  EXPECT_NEAR(both, (1 - p) * (1 - p), 0.005);

  torch::manual_seed(42);
  const auto single = [&] {
    bcp::test::ScopedThreads one(1);
    return dropout_mask(like, p);
  }();
  EXPECT_TRUE(torch::equal(single, m));
  auto next = dropout_mask(like, p);  // the generator moved on
  EXPECT_FALSE(torch::equal(next, m));
}

TEST(ParallelDropout, KeepsDtypeAndLayoutAndBackpropagatesTheMask) {
  auto x = torch::randn({2, 8, 16, 16})
               .to(torch::kBFloat16)
               .contiguous(torch::MemoryFormat::ChannelsLast)
               .requires_grad_();
  ParallelDropout d(0.5);
  torch::manual_seed(1);
  auto y = d->forward(x);
  EXPECT_EQ(y.scalar_type(), torch::kBFloat16);
  EXPECT_TRUE(y.is_contiguous(torch::MemoryFormat::ChannelsLast));
  y.sum().backward();
  torch::manual_seed(1);
  auto mask = dropout_mask(x.detach(), 0.5);
  EXPECT_TRUE(torch::equal(x.grad(), mask));
  EXPECT_TRUE(torch::equal(y.detach(), x.detach() * mask));
}

// dropout_keep gives any window of the mask that dropout_mask draws with the same key: windows
// that start and end inside a four-value word included.
TEST(ParallelDropout, KeepWindowsAreSlicesOfTheMask) {
  const double p = 0.3;
  torch::manual_seed(31);
  const auto mask = dropout_mask(torch::empty({1000}), p);
  torch::manual_seed(31);
  const DropoutDraw draw = draw_dropout(p);
  const uint16_t kept = 0x3f80;  // bf16 1.0
  for (const auto& [first, count] : std::vector<std::pair<int64_t, int64_t>>{
           {0, 1000}, {1, 2}, {3, 9}, {4, 4}, {5, 994}, {997, 3}, {2, 0}}) {
    std::vector<uint16_t> keep(static_cast<size_t>(count), 0xffff);
    dropout_keep(draw, first, count, kept, keep.data());
    for (int64_t i = 0; i < count; ++i)
      ASSERT_EQ(keep[static_cast<size_t>(i)] == kept, mask[first + i].item<float>() != 0)
          << "window " << first << "+" << count << " value " << i;
  }
}
