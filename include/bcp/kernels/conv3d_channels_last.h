// 3-D convolutions on bf16 channels-last (NDHWC) activations, run on oneDNN directly. LibTorch 1.13
// runs a 3-D convolution only in NCDHW (channels-last 3-D came to its oneDNN path in 2.0): each
// call then converts its input to oneDNN's blocked layout and its output back, forward and
// backward, about a sixth of VNet's bf16 training step, and the activations stay in the layout in
// which bcp's fused batch norm does not run. This keeps VNet's bf16 compute copy channels-last from
// its input to its logits. Built where LibTorch is 1.x and links the system's shared oneDNN
// (Debian's libtorch-dev with libdnnl-dev); elsewhere `conv3d_channels_last_takes` is false and
// LibTorch's own convolution runs.
// Retires with LibTorch 1.x: on 2.13 LibTorch's own channels-last 3-D convolution is within 2% of
// this path (2026-12-06, BM_Kernel/conv3d_channels_last: 414 against 422 ms forward + backward at
// VNet's 4x16x112x112x80 -> 16, 3x3x3), so it is compiled only beside a LibTorch 1.x.
#pragma once
#include <torch/types.h>

#include <array>

namespace bcp::kernels {

/// Whether this build runs conv3d_channels_last (oneDNN found at build time).
bool conv3d_channels_last_built();

/// Whether it runs on this CPU: built, and oneDNN runs bf16 convolutions here (AVX-512 BF16 or
/// AMX; on an AVX2-only CPU it declines every input and LibTorch's convolution runs).
bool conv3d_channels_last_runs_here();

/// Whether conv3d_channels_last takes `x` and `weight`: built, a CPU on which oneDNN runs bf16
/// convolutions (AVX-512), x a bf16 CPU tensor of 5 dims in channels-last order (a one-channel
/// input is in either), weight bf16 on the CPU. The geometry is checked by the call: the input
/// at least the kernel, and no input value left unread by the stride.
bool conv3d_channels_last_takes(const torch::Tensor& x, const torch::Tensor& weight);

/// conv3d(x, weight, bias, stride, padding) (dilation 1, one group, zero padding on both sides)
/// as bf16 channels-last in and out, with fp32 accumulation as LibTorch's oneDNN path; bias
/// (Co values, bf16 or fp32) is required. Differentiable in x, weight and bias.
torch::Tensor conv3d_channels_last(const torch::Tensor& x, const torch::Tensor& weight,
                                   const torch::Tensor& bias, const std::array<int64_t, 3>& stride,
                                   const std::array<int64_t, 3>& padding);

}  // namespace bcp::kernels
