// The mixed losses (Dice + cross-entropy on both regions of a copy-paste mix, ACDC's and LA's) in
// one pass over the logits forward and one backward, for bf16 training. LibTorch's operators need
// about 50 passes over a batch's probabilities for the same loss (per class and region: masks,
// products, sums, each with its backward), which on a CPU cost more than a tenth of a bf16 BCP
// step.
// Still pays on LibTorch 2.13 (2026-12-06, BM_Kernel/mix_loss_*): forward + backward 2.5 against
// 31.4 ms (ACDC 6x4x256x256) and 9.2 against 95.2 ms (LA 2x2x112x112x80). Retire when LibTorch
// fuses such a graph on the CPU (torch.compile's C++ counterpart) within 5% of it.
#pragma once
#include <torch/types.h>

#include "bcp/kernels/loss_inputs.h"

namespace bcp::kernels {

/// Whether the fused losses take these inputs: non-empty fp32 CPU logits (N, C, spatial...) and
/// integer labels (soft targets go to the LibTorch losses).
bool fuses_mix_loss(const torch::Tensor& logits, const torch::Tensor& img_label,
                    const torch::Tensor& patch_label);

/// acdc_mix_loss, same arguments; it refuses what acdc_mix_loss refuses, and fp64 logits. Sums
/// are fp32 per lane of 64 pixels, fp64 per block of pixels and across blocks in block order, so
/// the result does not depend on the thread count; it
/// equals acdc_mix_loss's up to rounding (a few units in the last place of fp32), not bit for
/// bit, which is why fp32 training keeps acdc_mix_loss (the authors' arithmetic, operator for
/// operator).
MixLossResult fused_acdc_mix_loss(const torch::Tensor& logits, const torch::Tensor& img_label,
                                  const torch::Tensor& patch_label, const torch::Tensor& mask,
                                  double l_weight = 1.0, double u_weight = 0.5, bool unlab = false);

/// la_mix_loss_parts, fused likewise (LA's Dice per image and class, summed per image in block
/// order). la_mix_loss is (dice + ce) / 2 of it.
MixLossResult fused_la_mix_loss_parts(const torch::Tensor& logits, const torch::Tensor& img_label,
                                      const torch::Tensor& patch_label, const torch::Tensor& mask,
                                      double l_weight = 1.0, double u_weight = 0.5,
                                      bool unlab = false);

}  // namespace bcp::kernels
