// 2x2 max pooling with stride 2 on bf16 channels-last activations (the UNet's bf16 compute copy).
// LibTorch 1.13 runs it as max_pool2d_with_indices, which writes an int64 index per output value
// (four times the bf16 output's bytes) even under no-grad, and scatters the backward through them.
// Here the forward writes only the maxima and the backward finds each window's winner again from
// the saved input, in the same scan order: values and gradients are LibTorch's, bit for bit but
// for a NaN maximum's payload (LibTorch's vector and scalar loops write different ones).
// Still pays on LibTorch 2.13 (2026-12-06, BM_Kernel/max_pool_2x2): 7.8 against 17.5 ms forward
// + backward at 24x16x256x256. Retire when LibTorch's bf16 channels-last max pooling, forward +
// backward, is within 5% of it.
#pragma once
#include <torch/types.h>

namespace bcp::kernels {

/// Whether max_pool_2x2 takes `x`: a bf16 CPU tensor of 4 dims, at least 2x2, channels-last.
bool fuses_max_pool_2x2(const torch::Tensor& x);

/// max_pool2d(x, 2) (stride 2, no padding, floor mode), channels-last out; differentiable in x.
/// A window's maximum is its first largest value in row-major order, NaN where one is NaN, as
/// LibTorch's; so is where its gradient goes. Requires fuses_max_pool_2x2(x).
torch::Tensor max_pool_2x2(const torch::Tensor& x);

}  // namespace bcp::kernels
