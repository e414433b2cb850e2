// Concatenation along the channel axis whose backward hands the skip connection its gradient in
// its own layout. torch::cat's backward hands out slices of the output's gradient; for a
// channels-last output a channel slice is strided, and where the input also feeds another layer
// (a U-Net's skip connection) LibTorch 1.13 adds the two gradients on a slow strided path: 8 ms
// for one 6x16x256x256 bf16 sum against under 1.5 ms for a copy and a dense sum.
// Still pays on LibTorch 2.13 (2026-12-06, BM_Kernel/concat_channels): 24.3 against 38.0 ms forward
// + backward at 2x24x16x256x256 (the forward alone is within 5%: the backward pays). Retire when
// torch::cat's backward into a channels-last skip is within 5% of it.
#pragma once
#include <torch/types.h>

namespace bcp::kernels {

/// torch::cat({skip, x}, 1), same values. In the backward, a channels-last `skip` gets its
/// gradient as a dense channels-last tensor; `x`, and a `skip` in another layout, get torch::cat's
/// slices (a dense copy would only add a pass for a gradient that is not summed).
torch::Tensor concat_channels(const torch::Tensor& skip, const torch::Tensor& x);

}  // namespace bcp::kernels
