// The channels-last 3-D convolution on oneDNN against LibTorch's (in fp32 on the same bf16
// values): values and the three gradients, at VNet's kernels and an uneven one; the VNet's bf16
// training pass through it against the fp32 network's.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "bcp/kernels/conv3d_channels_last.h"
#include "bcp/nets/compute_copy.h"
#include "bcp/nets/segmentation_net.h"

namespace bcp_test_conv3d_channels_last {

using bcp::kernels::conv3d_channels_last;
using bcp::kernels::conv3d_channels_last_built;
using bcp::kernels::conv3d_channels_last_runs_here;
using bcp::kernels::conv3d_channels_last_takes;
constexpr auto kCL3d = torch::MemoryFormat::ChannelsLast3d;

#define SKIP_UNLESS_IT_RUNS_HERE()                                                           \
  if (!conv3d_channels_last_built())                                                         \
    GTEST_SKIP() << "not built here: only beside Debian's LibTorch 1.x with libdnnl-dev "    \
                    "(LibTorch 2.x runs these convolutions channels-last itself)";           \
  if (!conv3d_channels_last_runs_here())                                                     \
  GTEST_SKIP() << "this CPU has no bf16 convolutions in oneDNN (no AVX-512 or AMX): VNet's " \
                  "convolutions run through LibTorch"

/// max |a - b| / max |b|, in fp64.
double relative_diff(const torch::Tensor& a, const torch::Tensor& b) {
  const auto a64 = a.to(torch::kFloat64), b64 = b.to(torch::kFloat64);
  return ((a64 - b64).abs().max() / b64.abs().max()).item<double>();
}

struct Case {
  int64_t in, out, kernel, stride, padding;
};

TEST(Conv3dChannelsLast, AgreesWithLibTorchInValuesAndGradients) {
  SKIP_UNLESS_IT_RUNS_HERE();
  torch::manual_seed(11);
  // VNet's: the first convolution (one channel), a block's, the down-sampling, the output; then a
  // stride-2 3x3x3 with padding whose last window stops short of the padding on the far side.
  for (const Case c : {Case{1, 16, 3, 1, 1}, Case{16, 16, 3, 1, 1}, Case{16, 32, 2, 2, 0},
                       Case{16, 2, 1, 1, 0}, Case{8, 4, 3, 2, 1}}) {
    for (const bool weights_channels_last : {false, true}) {
      SCOPED_TRACE(::testing::Message()
                   << c.in << "->" << c.out << " k" << c.kernel << " s" << c.stride << " p"
                   << c.padding << (weights_channels_last ? " odhwi" : " oidhw"));
      auto x = torch::randn({2, c.in, 10, 8, 6}).to(torch::kBFloat16).contiguous(kCL3d);
      auto w = torch::randn({c.out, c.in, c.kernel, c.kernel, c.kernel}).to(torch::kBFloat16);
      if (weights_channels_last) w = w.contiguous(kCL3d);
      auto b = torch::randn({c.out}).to(torch::kBFloat16);
      for (auto* t : {&x, &w, &b}) t->requires_grad_();
      ASSERT_TRUE(conv3d_channels_last_takes(x, w));

      const auto ours = conv3d_channels_last(x, w, b, {c.stride, c.stride, c.stride},
                                             {c.padding, c.padding, c.padding});
      const auto xf = x.detach().to(torch::kFloat32).requires_grad_();
      const auto wf = w.detach().to(torch::kFloat32).requires_grad_();
      const auto bf = b.detach().to(torch::kFloat32).requires_grad_();
      const auto theirs = torch::conv3d(xf, wf, bf, c.stride, c.padding);
      ASSERT_EQ(ours.sizes(), theirs.sizes());
      EXPECT_EQ(ours.scalar_type(), torch::kBFloat16);
      EXPECT_TRUE(ours.is_contiguous(kCL3d));
      EXPECT_LT(relative_diff(ours, theirs), 1e-2);  // one bf16 rounding of fp32 sums

      const auto g = torch::randn(theirs.sizes()).to(torch::kBFloat16);
      const auto ours_grads = torch::autograd::grad({ours}, {x, w, b}, {g});
      const auto theirs_grads =
          torch::autograd::grad({theirs}, {xf, wf, bf}, {g.to(torch::kFloat32)});
      for (size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(ours_grads[i].scalar_type(), torch::kBFloat16) << "gradient " << i;
        EXPECT_LT(relative_diff(ours_grads[i], theirs_grads[i]), 2e-2) << "gradient " << i;
      }
      EXPECT_TRUE(ours_grads[1].is_contiguous(
          weights_channels_last ? kCL3d : torch::MemoryFormat::Contiguous));
    }
  }
}

TEST(Conv3dChannelsLast, LeavesOutTheInputGradientWhenNoneIsWanted) {
  SKIP_UNLESS_IT_RUNS_HERE();
  torch::manual_seed(12);
  const auto x = torch::randn({1, 1, 8, 8, 8}).to(torch::kBFloat16).contiguous(kCL3d);
  const auto w = torch::randn({4, 1, 3, 3, 3}).to(torch::kBFloat16).requires_grad_();
  const auto b = torch::zeros({4}, torch::kBFloat16).requires_grad_();
  const auto y = conv3d_channels_last(x, w, b, {1, 1, 1}, {1, 1, 1});
  y.sum().backward();
  EXPECT_FALSE(x.grad().defined());
  ASSERT_TRUE(w.grad().defined());
  const auto wf = w.detach().to(torch::kFloat32).requires_grad_();
  torch::conv3d(x.to(torch::kFloat32), wf, {}, 1, 1).sum().backward();
  EXPECT_LT(relative_diff(w.grad(), wf.grad()), 1e-2);
  EXPECT_EQ(b.grad()[0].item<float>(), 512.0f);  // one per output voxel
}

TEST(Conv3dChannelsLast, TakesOnlyBf16ChannelsLastAndRefusesTheRest) {
  const auto w = torch::zeros({2, 3, 3, 3, 3}, torch::kBFloat16);
  const auto b = torch::zeros({2}, torch::kBFloat16);
  const auto x = torch::zeros({1, 3, 4, 4, 4}, torch::kBFloat16);
  EXPECT_FALSE(conv3d_channels_last_takes(x, w));  // NCDHW with 3 channels
  EXPECT_FALSE(conv3d_channels_last_takes(x.to(torch::kFloat32).contiguous(kCL3d), w));
  EXPECT_FALSE(conv3d_channels_last_takes(torch::zeros({1, 3, 4, 4}, torch::kBFloat16), w));
  EXPECT_EQ(conv3d_channels_last_takes(x.contiguous(kCL3d), w), conv3d_channels_last_runs_here());
  EXPECT_TRUE(conv3d_channels_last_built() || !conv3d_channels_last_runs_here());
  EXPECT_THROW(conv3d_channels_last(x, w, b, {1, 1, 1}, {1, 1, 1}), c10::Error);
  if (!conv3d_channels_last_runs_here())
    return;  // what follows checks the refusals of a kernel that runs
  const auto cl = x.contiguous(kCL3d);
  EXPECT_THROW(conv3d_channels_last(cl, w, torch::Tensor(), {1, 1, 1}, {1, 1, 1}), c10::Error);
  EXPECT_THROW(conv3d_channels_last(cl, torch::zeros({2, 4, 3, 3, 3}, torch::kBFloat16), b,
                                    {1, 1, 1}, {1, 1, 1}),
               c10::Error);
  EXPECT_THROW(conv3d_channels_last(cl, w, b, {1, 1, 1}, {-1, 0, 0}), c10::Error);
  // A stride that would leave the last input value unread (LibTorch drops it; refused here).
  const auto w2 = torch::zeros({2, 3, 2, 2, 2}, torch::kBFloat16);
  const auto odd = torch::zeros({1, 3, 5, 4, 4}, torch::kBFloat16).contiguous(kCL3d);
  EXPECT_THROW(conv3d_channels_last(odd, w2, b, {2, 2, 2}, {0, 0, 0}), c10::Error);
}

// The VNet's bf16 compute copy in train mode runs its convolutions here, and agrees with the fp32
// network as bf16 can. At random weights and a random output gradient the agreement of the
// weights' gradients falls with the distance from the output (cosine about 0.97 at the last
// convolution, 0.65 at the first, the same through LibTorch's bf16 convolutions): the bounds
// below catch a wrong convolution (cosine near 0), not bf16's rounding.
TEST(Conv3dChannelsLast, VNetBf16TrainingPassRunsHereAndAgreesWithFp32) {
  SKIP_UNLESS_IT_RUNS_HERE();
  torch::manual_seed(13);
  bcp::nets::ModelConfig config{bcp::nets::Arch::kVNet, 1, 2};
  config.has_dropout = false;  // no random masks to line up
  auto net = bcp::nets::make_model(config);
  net->train();
  bcp::nets::ComputeCopy copy(*net);
  copy.pull();
  const auto x = torch::randn({2, 1, 32, 32, 32});
  const auto g = torch::randn({2, 2, 32, 32, 32});

  const auto low = copy.forward(x);
  // The logits' node is the cast to fp32; the one before it, the output convolution.
  const auto& before_cast = low.grad_fn()->next_edges().at(0).function;
  ASSERT_TRUE(before_cast);
  EXPECT_NE(before_cast->name().find("Conv3dChannelsLast"), std::string::npos)
      << before_cast->name();
  (low * g).sum().backward();
  copy.push_grads();
  std::vector<torch::Tensor> low_grads;
  for (const auto& p : net->parameters()) low_grads.push_back(p.grad().clone());
  for (auto& p : net->parameters()) p.mutable_grad().reset();

  const auto ref = net->forward(x);
  (ref * g).sum().backward();
  EXPECT_LT(relative_diff(low, ref), 0.15);
  size_t i = 0, compared = 0;
  for (const auto& item : net->named_parameters()) {
    const auto& grad = item.value().grad();
    // Convolution weights; a bias before batch norm has a gradient of zero but for rounding.
    if (item.value().dim() == 5) {
      const double cosine =
          torch::cosine_similarity(low_grads[i].flatten(), grad.flatten(), 0).item<double>();
      const double norms = (low_grads[i].norm() / grad.norm()).item<double>();
      EXPECT_GT(cosine, item.key().rfind("decoder.block_nine", 0) == 0 ? 0.9 : 0.5) << item.key();
      EXPECT_GT(norms, 0.8) << item.key();
      EXPECT_LT(norms, 1.25) << item.key();
      ++compared;
    }
    ++i;
  }
  EXPECT_GE(compared, 20u);
}

}  // namespace bcp_test_conv3d_channels_last
