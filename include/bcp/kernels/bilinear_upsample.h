// Bilinear upsampling with align_corners=True (the UNet's nn.Upsample) of a bf16 channels-last
// tensor, forward and backward in one pass each. LibTorch 1.13's bf16 bilinear backward on the
// CPU is several times slower than its fp32 one, so the bf16 UNet used to upsample in fp32 with a
// cast on each side, forward and backward: four extra passes over a tensor of the output's size.
// Still pays on LibTorch 2.13 (2026-12-06, BM_Kernel/bilinear_upsample_x2), whose bf16 backward is
// faster than 1.13's: 13.0 against 21.6 ms forward + backward at 24x16x128x128. Retire when
// LibTorch's bf16 channels-last upsampling, forward + backward, is within 5% of it.
#pragma once
#include <torch/types.h>

namespace bcp::kernels {

/// Whether bilinear_upsample takes x: a bf16 channels-last CPU tensor (N, C, H, W).
bool fuses_bilinear_upsample(const torch::Tensor& x);

/// torch::upsample_bilinear2d(x, {out_h, out_w}, align_corners=true) with LibTorch's source
/// indices and weights, each output computed in fp32 from the bf16 inputs and rounded once; the
/// gradient summed in fp32 per image in a fixed order and rounded once. Differentiable.
torch::Tensor bilinear_upsample(const torch::Tensor& x, int64_t out_h, int64_t out_w);

}  // namespace bcp::kernels
