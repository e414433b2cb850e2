// bcp's bf16 channels-last bilinear upsampling against LibTorch's in fp32 on the same bf16 input
// (what the bf16 UNet did before): values and gradients within bf16's rounding, sizes that are
// not a doubling, thread-count independence, and which tensors it takes.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "bcp/kernels/bilinear_upsample.h"
#include "bcp/nets/unet2d.h"

#include "../scoped_threads.h"
namespace bcp_test_bilinear_upsample {

using bcp::kernels::bilinear_upsample;
using bcp::kernels::fuses_bilinear_upsample;

torch::Tensor bf16_rows(const torch::Tensor& x) {
  return x.to(torch::kBFloat16).contiguous(torch::MemoryFormat::ChannelsLast);
}

// Largest |got - want| relative to want's largest magnitude, in fp64.
double max_rel(const torch::Tensor& got, const torch::Tensor& want) {
  const auto g = got.to(torch::kFloat64), w = want.to(torch::kFloat64);
  return ((g - w).abs().max() / w.abs().max().clamp_min(1e-30)).item<double>();
}

struct Result {
  torch::Tensor y, dx;
};

// LibTorch's fp32 upsampling of the bf16 input, its output and input gradient rounded to bf16.
Result reference(const torch::Tensor& x, int64_t h, int64_t w, const torch::Tensor& dy) {
  auto in = x.to(torch::kFloat32).detach().requires_grad_(true);
  auto y = torch::upsample_bilinear2d(in, {h, w}, /*align_corners=*/true);
  y.backward(dy.to(torch::kFloat32));
  return {y.to(torch::kBFloat16), in.grad().to(torch::kBFloat16)};
}

Result fused(const torch::Tensor& x, int64_t h, int64_t w, const torch::Tensor& dy) {
  auto in = x.detach().requires_grad_(true);
  auto y = bilinear_upsample(in, h, w);
  y.backward(dy);
  return {y, in.grad()};
}

TEST(BilinearUpsample, MatchesLibTorchInFp32WithinBf16Rounding) {
  torch::manual_seed(21);
  struct Case {
    std::vector<int64_t> in;
    int64_t h, w;
  };
  const std::vector<Case> cases{{{6, 16, 128, 128}, 256, 256}, {{2, 32, 5, 7}, 10, 14},
                                {{3, 24, 4, 6}, 7, 9},         {{1, 17, 6, 5}, 6, 11},
                                {{2, 16, 1, 3}, 2, 6},         {{1, 128, 16, 16}, 32, 32}};
  for (const Case& k : cases) {
    SCOPED_TRACE(c10::str(c10::IntArrayRef(k.in), " -> ", k.h, "x", k.w));
    const auto x = bf16_rows(torch::randn(k.in) * 3);
    const auto dy = bf16_rows(torch::randn({k.in[0], k.in[1], k.h, k.w}));
    const Result want = reference(x, k.h, k.w, dy);
    const Result got = fused(x, k.h, k.w, dy);
    EXPECT_TRUE(got.y.is_contiguous(torch::MemoryFormat::ChannelsLast));
    EXPECT_EQ(got.y.scalar_type(), torch::kBFloat16);
    EXPECT_EQ(got.dx.sizes(), x.sizes());
    // Both round an fp32 value once; the fp32 values differ at most in the last places.
    EXPECT_LE(max_rel(got.y, want.y), 1.0 / 128);
    EXPECT_LE(max_rel(got.dx, want.dx), 1.0 / 128);
    // Nearly all outputs round to the same bf16 value.
    const double same = got.y.eq(want.y).to(torch::kFloat64).mean().item<double>();
    EXPECT_GT(same, 0.99);
  }
}

TEST(BilinearUpsample, SameBitsOnOneAndTwoThreads) {
  torch::manual_seed(22);
  const auto x = bf16_rows(torch::randn({4, 32, 32, 32}));
  const auto dy = bf16_rows(torch::randn({4, 32, 64, 64}));
  const bcp::test::ScopedThreads threads(1);
  const Result one = fused(x, 64, 64, dy);
  torch::set_num_threads(2);
  const Result two = fused(x, 64, 64, dy);
  EXPECT_TRUE(torch::equal(one.y, two.y));
  EXPECT_TRUE(torch::equal(one.dx, two.dx));
}

TEST(BilinearUpsample, TakesBf16ChannelsLastCpuTensorsOnly) {
  const auto x = bf16_rows(torch::randn({1, 4, 3, 3}));
  EXPECT_TRUE(fuses_bilinear_upsample(x));
  EXPECT_FALSE(fuses_bilinear_upsample(x.contiguous()));
  EXPECT_FALSE(fuses_bilinear_upsample(x.to(torch::kFloat32)));
  EXPECT_FALSE(fuses_bilinear_upsample(torch::randn({1, 4, 3, 3, 3}).to(torch::kBFloat16)));
  EXPECT_THROW(bilinear_upsample(x.to(torch::kFloat32), 6, 6), c10::Error);
  EXPECT_THROW(bilinear_upsample(x, 0, 6), c10::Error);
}

// The bf16 UNet's up block takes the kernel; its output is the fp32 upsampling's within rounding.
TEST(BilinearUpsample, UNetUpBlockUsesItInBf16ChannelsLast) {
  torch::manual_seed(23);
  bcp::nets::UNetUpBlock block(32, 16, 16, 0.0);
  {
    // As the bf16 compute copy holds it: convolutions bf16 channels-last, batch norm fp32.
    torch::NoGradGuard no_grad;
    for (const auto& m : block->modules())
      if (m->as<torch::nn::Conv2d>())
        for (auto& p : m->parameters(/*recurse=*/false))
          p.set_data(p.to(torch::kBFloat16)
                         .contiguous(p.dim() == 4 ? torch::MemoryFormat::ChannelsLast
                                                  : torch::MemoryFormat::Contiguous));
  }
  const auto x1 = bf16_rows(torch::randn({2, 32, 8, 8}));
  const auto x2 = bf16_rows(torch::randn({2, 16, 16, 16}));
  const auto y = block->forward(x1, x2);
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{2, 16, 16, 16}));
  // The same block with the upsampling done by LibTorch in fp32.
  auto z = block->conv1x1->forward(x1);
  z = torch::upsample_bilinear2d(z.to(torch::kFloat32), {16, 16}, true).to(torch::kBFloat16);
  const auto want = block->conv->forward(torch::cat({x2, z}, 1));
  EXPECT_LE(max_rel(y, want), 0.05);  // two batch norms of bf16 values downstream of it
}

}  // namespace bcp_test_bilinear_upsample
