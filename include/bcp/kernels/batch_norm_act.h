// Batch norm and leaky ReLU (and, in training, dropout) in one pass over memory, for bf16
// channels-last CPU activations (the bf16 compute copy's). LibTorch 1.13 runs them as two
// operators: batch norm reads its input three times and writes it once, the activation reads and
// writes it again, and the backward writes the activation's gradient out before batch norm reads it
// twice. Here the forward reads the input twice and writes once, the backward reads its three
// inputs twice and writes once. Statistics and arithmetic are fp32 as LibTorch's; what differs is
// only where values round to bf16 (the normalised value before the activation is not rounded).
// Still pays on LibTorch 2.13 (2026-12-06, `bcp_bench
// --benchmark_filter=BM_Kernel/batch_norm_act`): forward + backward 24.7 against 179 ms
// (24x16x256x256, dropout 0.5) and 42.5 against 68.1 ms (VNet 4x16x112x112x80); inference 7.6
// against 13.7 ms. Retire when LibTorch's fused path is within 5% on these shapes.
#pragma once
#include <torch/types.h>

namespace bcp::kernels {

/// Whether batch_norm_leaky_relu takes `x`: a bf16 CPU tensor of 4 or 5 dimensions, channels-last
/// (or of one voxel per sample), with more than one value per channel.
bool fuses_batch_norm_leaky_relu(const torch::Tensor& x);

/// leaky_relu(batch_norm(x, training=true), slope) with the batch's biased variance, and the
/// running statistics updated in place as BatchNorm does (unbiased variance, `momentum` the
/// weight of the new value). `weight` and `bias` (fp32, C values) may be undefined (no affine);
/// `running_mean` and `running_var` (fp32) may be undefined (no tracking). Differentiable in `x`,
/// `weight` and `bias`. Requires fuses_batch_norm_leaky_relu(x) and slope >= 0.
///
/// With `dropout_p` > 0, then dropout as ParallelDropout applies it (same draw from the generator,
/// same kept values, scaled by 1 / (1 - p) rounded to bf16 as its bf16 mask holds it), without a
/// mask multiplication of its own (the backward keeps the mask, 16 bits per value).
torch::Tensor batch_norm_leaky_relu(const torch::Tensor& x, const torch::Tensor& weight,
                                    const torch::Tensor& bias, const torch::Tensor& running_mean,
                                    const torch::Tensor& running_var, double momentum, double eps,
                                    double slope, double dropout_p = 0.0);

/// leaky_relu(batch_norm(x, training=false), slope): the running statistics, one pass over memory,
/// not differentiable (inference under no-grad). Same requirements on `x` as above; `weight` and
/// `bias` may be undefined, the running statistics may not.
torch::Tensor batch_norm_leaky_relu_inference(const torch::Tensor& x, const torch::Tensor& weight,
                                              const torch::Tensor& bias,
                                              const torch::Tensor& running_mean,
                                              const torch::Tensor& running_var, double eps,
                                              double slope);

}  // namespace bcp::kernels
