// A transposed convolution whose stride equals its kernel (VNet's 2x2x2 up-sampling) as one matrix
// product. With stride == kernel the output blocks do not overlap: each input voxel writes its own
// kd x kh x kw block, out = x (voxels x Ci) @ w (Ci x kd*kh*kw*Co), then the blocks are put in
// place. On the CPU LibTorch 1.13 runs nn::ConvTranspose3d through its slow vol2col path, in fp32
// only (a tenth of an LA training step); the product runs on oneDNN (bf16) or BLAS (fp32) in any
// dtype. Same arithmetic as the convolution, summed in another order (fp32 results differ in the
// last bits). On the CPU the blocks are put in place (and their gradient gathered back) by a copy
// loop of bcp's own: LibTorch's permute + reshape of the 8-dimensional view took a tenth of VNet's
// bf16 training step.
// On LibTorch 2.13 (2026-12-06, BM_Kernel/transposed_conv3d_2x2x2, 4x32x56x56x40 -> 16): bf16
// forward + backward 116 against its native bf16 187 ms (keep for training), but its forward alone
// is faster (19.6 against 34.5 ms: inference could go back to it on 2.x); fp32 forward + backward
// 331 against 295 ms (slower; on 1.13 625 against 573 ms), kept while the whole fp32 LA step was
// faster with it (7.3 against 8.1 s, 2026-11-30). Retire when LibTorch's bf16 transposed
// convolution, forward + backward, is within 5% of it.
#pragma once
#include <torch/types.h>

namespace bcp::kernels {

/// conv_transpose3d(x, weight, bias, stride = kernel size, no padding, groups 1), differentiable.
/// x: (N, Ci, D, H, W), any layout; weight: (Ci, Co, kd, kh, kw), cast to x's dtype; bias: (Co) or
/// undefined. Returns (N, Co, D*kd, H*kh, W*kw), channels-last if x is, else contiguous.
torch::Tensor conv_transpose3d_stride_is_kernel(const torch::Tensor& x, const torch::Tensor& weight,
                                                const torch::Tensor& bias);

}  // namespace bcp::kernels
