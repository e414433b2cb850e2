// The fused bf16 batch norm + leaky ReLU against the same computation in fp32 on the same bf16
// input: values, gradients, running statistics, thread-count independence, and when it applies.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "bcp/kernels/batch_norm_act.h"
#include "bcp/kernels/dropout.h"
#include "bcp/nets/batch_norm.h"

#include "../scoped_threads.h"
namespace bcp_test_batch_norm_act {

using bcp::kernels::batch_norm_leaky_relu;
using bcp::kernels::batch_norm_leaky_relu_inference;
using bcp::kernels::fuses_batch_norm_leaky_relu;

torch::MemoryFormat rows_format(int64_t dim) {
  return dim == 5 ? torch::MemoryFormat::ChannelsLast3d : torch::MemoryFormat::ChannelsLast;
}

torch::Tensor bf16_rows(const torch::Tensor& x) {
  return x.to(torch::kBFloat16).contiguous(rows_format(x.dim()));
}

double max_abs(const torch::Tensor& t) {
  return t.abs().max().item<double>();
}

double max_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return max_abs(a.to(torch::kFloat64) - b.to(torch::kFloat64));
}

struct Case {
  std::vector<int64_t> shape;
  bool affine;
  double slope;
  double offset;  // added to the input: a mean far from zero tests the variance's cancellation
};

TEST(BatchNormLeakyRelu, MatchesFp32BatchNormAndLeakyReluOnTheSameInput) {
  torch::manual_seed(5);
  const std::vector<Case> cases{{{6, 16, 32, 32}, true, 0.01, 0.0},
                                {{2, 3, 5, 7}, true, 0.01, 0.0},  // channels not a vector's width
                                // rows not a whole number of the kernels' stripes (2 rows here)
                                {{3, 48, 5, 3}, true, 0.01, 0.0},
                                {{4, 1, 9, 9}, false, 0.0, 0.0},  // one channel, plain ReLU
                                {{2, 8, 4, 6, 5}, true, 0.01, 0.0},
                                {{2, 16, 6, 5, 4}, true, 0.0, 0.0},  // VNet's: 3-D, ReLU
                                {{3, 32, 16, 16}, true, 0.01, 50.0}};
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::Message()
                 << "shape " << c10::IntArrayRef(c.shape) << " affine " << c.affine << " slope "
                 << c.slope << " offset " << c.offset);
    const int64_t channels = c.shape[1];
    const auto input = bf16_rows(torch::randn(c.shape) * 2 + c.offset);
    ASSERT_TRUE(fuses_batch_norm_leaky_relu(input));
    torch::Tensor weight, bias;
    if (c.affine) {
      weight = (torch::rand({channels}) + 0.5).requires_grad_();
      bias = torch::randn({channels}).requires_grad_();
    }
    auto mean_ours = torch::randn({channels}), var_ours = torch::rand({channels}) + 0.5;
    auto mean_ref = mean_ours.clone(), var_ref = var_ours.clone();

    auto x_ours = input.detach().requires_grad_();
    auto y_ours =
        batch_norm_leaky_relu(x_ours, weight, bias, mean_ours, var_ours, 0.1, 1e-5, c.slope);
    // The reference: the same bf16 values in fp32, through LibTorch's operators.
    auto x_ref = input.to(torch::kFloat32).detach().requires_grad_();
    auto y_ref = torch::leaky_relu(
        torch::batch_norm(x_ref, weight, bias, mean_ref, var_ref, true, 0.1, 1e-5, false), c.slope);

    EXPECT_EQ(y_ours.scalar_type(), torch::kBFloat16);
    EXPECT_EQ(y_ours.sizes(), y_ref.sizes());
    EXPECT_TRUE(y_ours.is_contiguous(rows_format(input.dim())));
    // One bf16 rounding of the output: 2^-8 relative.
    EXPECT_LE(max_abs((y_ours.to(torch::kFloat32) - y_ref) / (y_ref.abs() + 1e-3)), 1.0 / 256);
    EXPECT_LT(max_diff(mean_ours, mean_ref), 1e-5 * (1 + std::abs(c.offset)));
    EXPECT_LT(max_diff(var_ours, var_ref) / max_abs(var_ref), 1e-5);

    const auto g = bf16_rows(torch::randn(c.shape));
    std::vector<torch::Tensor> ours_in{x_ours}, ref_in{x_ref};
    if (c.affine) {
      ours_in.insert(ours_in.end(), {weight, bias});
      ref_in.insert(ref_in.end(), {weight, bias});
    }
    const auto ours = torch::autograd::grad({y_ours}, ours_in, {g});
    const auto ref = torch::autograd::grad({y_ref}, ref_in, {g.to(torch::kFloat32)});
    EXPECT_EQ(ours[0].scalar_type(), torch::kBFloat16);
    EXPECT_LT(max_diff(ours[0], ref[0]) / max_abs(ref[0]), 1e-2);
    for (size_t i = 1; i < ours.size(); ++i) {
      EXPECT_EQ(ours[i].scalar_type(), torch::kFloat32);
      EXPECT_LT(max_diff(ours[i], ref[i]) / max_abs(ref[i]), 1e-4) << "parameter " << i;
    }
  }
}

// With dropout: ParallelDropout's mask (the same draw from the generator, the same kept values,
// its bf16 scale) on the fused output, and the gradients of the fp32 computation with that mask.
TEST(BatchNormLeakyRelu, DropoutKeepsParallelDropoutsDrawAndMask) {
  const double p = 0.3;
  const auto input = [] {
    torch::manual_seed(8);
    return bf16_rows(torch::randn({4, 16, 12, 10}));
  }();
  const auto weight = (torch::rand({16}) + 0.5).requires_grad_();
  const auto bias = torch::randn({16}).requires_grad_();
  const auto g = bf16_rows(torch::randn({4, 16, 12, 10}));

  torch::manual_seed(9);
  auto x_ours = input.detach().requires_grad_();
  auto y_ours = batch_norm_leaky_relu(x_ours, weight, bias, {}, {}, 0.1, 1e-5, 0.01, p);
  const int64_t next_ours = torch::randint(1 << 30, {1}).item<int64_t>();

  torch::manual_seed(9);
  auto x_ref = input.to(torch::kFloat32).detach().requires_grad_();
  auto z_ref = torch::leaky_relu(
      torch::batch_norm(x_ref, weight, bias, {}, {}, true, 0.1, 1e-5, false), 0.01);
  // The mask ParallelDropout draws for the bf16 channels-last activation at this point.
  const auto mask = bcp::kernels::dropout_mask(z_ref.detach().to(torch::kBFloat16), p);
  const int64_t next_ref = torch::randint(1 << 30, {1}).item<int64_t>();
  auto y_ref = z_ref * mask.to(torch::kFloat32);

  EXPECT_EQ(next_ours, next_ref) << "the generator advanced differently";
  const auto kept = mask.to(torch::kFloat32) != 0;
  const double dropped = 1.0 - kept.to(torch::kFloat32).mean().item<double>();
  EXPECT_GT(dropped, 0.2);
  EXPECT_LT(dropped, 0.4);
  EXPECT_TRUE(torch::equal(y_ours.to(torch::kFloat32).masked_select(~kept),
                           torch::zeros({(~kept).sum().item<int64_t>()})));
  EXPECT_LE(max_abs((y_ours.to(torch::kFloat32) - y_ref) / (y_ref.abs() + 1e-3)), 1.0 / 128);

  const auto ours = torch::autograd::grad({y_ours}, {x_ours, weight, bias}, {g});
  const auto ref = torch::autograd::grad({y_ref}, {x_ref, weight, bias}, {g.to(torch::kFloat32)});
  EXPECT_LT(max_diff(ours[0], ref[0]) / max_abs(ref[0]), 1e-2);
  for (size_t i = 1; i < 3; ++i)
    EXPECT_LT(max_diff(ours[i], ref[i]) / max_abs(ref[i]), 1e-4) << "parameter " << i;
}

TEST(BatchNormLeakyRelu, SameBitsOnOneThreadAndOnTwoAndAcrossCalls) {
  torch::manual_seed(6);
  const auto input = bf16_rows(torch::randn({6, 16, 64, 64}));
  const auto weight = (torch::rand({16}) + 0.5).requires_grad_();
  const auto bias = torch::randn({16}).requires_grad_();
  const auto g = bf16_rows(torch::randn({6, 16, 64, 64}));
  const bcp::test::ScopedThreads restore(torch::get_num_threads());
  std::vector<std::vector<torch::Tensor>> results;
  std::vector<std::vector<float>> heap;  // moves the kernels' scratch to other addresses
  for (const int threads : {1, 2, 1, 2}) {
    torch::set_num_threads(threads);
    heap.emplace_back(static_cast<size_t>(3 + 5 * threads + heap.size()));
    auto mean = torch::zeros({16}), var = torch::ones({16});
    auto x = input.detach().requires_grad_();
    torch::manual_seed(10);
    auto y = batch_norm_leaky_relu(x, weight, bias, mean, var, 0.1, 1e-5, 0.01, 0.2);
    auto grads = torch::autograd::grad({y}, {x, weight, bias}, {g});
    results.push_back({y, mean, var, grads[0], grads[1], grads[2]});
  }
  for (size_t run = 1; run < results.size(); ++run)
    for (size_t i = 0; i < results[0].size(); ++i)
      EXPECT_TRUE(torch::equal(results[0][i], results[run][i])) << "run " << run << " output " << i;
}

TEST(BatchNormLeakyRelu, TakesOnlyBf16ChannelsLastCpuTensors) {
  const auto cl = torch::randn({2, 4, 3, 3}).contiguous(torch::MemoryFormat::ChannelsLast);
  EXPECT_TRUE(fuses_batch_norm_leaky_relu(cl.to(torch::kBFloat16)));
  EXPECT_FALSE(fuses_batch_norm_leaky_relu(cl));  // fp32 keeps LibTorch's operators
  EXPECT_FALSE(fuses_batch_norm_leaky_relu(torch::randn({2, 4, 3, 3}, torch::kBFloat16)));
  EXPECT_FALSE(fuses_batch_norm_leaky_relu(torch::randn({2, 4, 3}, torch::kBFloat16)));
  EXPECT_FALSE(fuses_batch_norm_leaky_relu(torch::randn({1, 4, 1, 1}, torch::kBFloat16)));
  EXPECT_FALSE(fuses_batch_norm_leaky_relu(torch::Tensor()));
  try {
    batch_norm_leaky_relu(cl, {}, {}, {}, {}, 0.1, 1e-5, 0.01);
    FAIL() << "an fp32 input was taken";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what_without_backtrace()).find("bf16 channels-last"),
              std::string::npos);
  }
}

// The module's fused path against its own unfused one: running statistics, the batch counter,
// eval mode left to LibTorch's operators where gradients are on, fused for inference.
TEST(BatchNormLeakyRelu, SyncBatchNormForwardLeakyReluMatchesForwardThenActivation) {
  torch::manual_seed(7);
  bcp::nets::SyncBatchNorm2d fused(8), plain(8);
  {
    torch::NoGradGuard no_grad;
    fused->weight.uniform_(0.5, 1.5);
    fused->bias.normal_();
    plain->weight.copy_(fused->weight);
    plain->bias.copy_(fused->bias);
  }
  const auto x = bf16_rows(torch::randn({4, 8, 10, 10}) + 1);
  for (int pass = 0; pass < 2; ++pass) {
    auto a = fused->forward_leaky_relu(x, 0.01);
    auto b = torch::leaky_relu(plain->forward(x), 0.01);
    // Both bf16, rounded at different points: within a bf16 step of each other.
    EXPECT_LE(max_abs((a.to(torch::kFloat32) - b.to(torch::kFloat32)) /
                      (b.to(torch::kFloat32).abs() + 1e-2)),
              1.0 / 128);
  }
  EXPECT_EQ(fused->num_batches_tracked.item<int64_t>(), 2);
  EXPECT_LT(max_diff(fused->running_mean, plain->running_mean), 1e-5);
  EXPECT_LT(max_diff(fused->running_var, plain->running_var), 1e-4);
  fused->eval();
  plain->eval();
  // Eval mode with gradients on: LibTorch's operators, the same bits.
  EXPECT_FALSE(fused->fuses_leaky_relu(x));
  EXPECT_TRUE(
      torch::equal(fused->forward_leaky_relu(x, 0.01), torch::leaky_relu(plain->forward(x), 0.01)));
  // Inference under no-grad: one pass on the running statistics, within a bf16 step.
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(fused->fuses_leaky_relu(x));
  for (const double slope : {0.01, 0.0}) {
    const auto a = fused->forward_leaky_relu(x, slope).to(torch::kFloat32);
    const auto b = torch::leaky_relu(plain->forward(x), slope).to(torch::kFloat32);
    EXPECT_LE(max_abs((a - b) / (b.abs() + 1e-2)), 1.0 / 128) << "slope " << slope;
    EXPECT_GT(max_abs(b), 0.5);
  }
  EXPECT_EQ(fused->num_batches_tracked.item<int64_t>(), 2);  // inference counts nothing
  const auto x3 = torch::randn({2, 8, 4, 4, 4})
                      .to(torch::kBFloat16)
                      .contiguous(torch::MemoryFormat::ChannelsLast3d);
  EXPECT_THROW(batch_norm_leaky_relu_inference(x3, {}, {}, {}, {}, 1e-5, 0.0), c10::Error);
  const auto mean = torch::randn({8}), var = torch::rand({8}) + 0.5;
  const auto y3 = batch_norm_leaky_relu_inference(x3, {}, {}, mean, var, 1e-5, 0.0);
  const auto ref3 = torch::relu(
      torch::batch_norm(x3.to(torch::kFloat32), {}, {}, mean, var, false, 0.1, 1e-5, false));
  EXPECT_LT(max_diff(y3.to(torch::kFloat32), ref3), 0.02 * max_abs(ref3));
  EXPECT_TRUE(y3.is_contiguous(torch::MemoryFormat::ChannelsLast3d));
}

}  // namespace bcp_test_batch_norm_act
