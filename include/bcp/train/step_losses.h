// The losses a training step takes: the recipe's family (SSL4MIS's for the 2-D recipe, UA-MT's
// for the 3-D one, train/losses.h), fused in bf16 training (kernels/fused_mix_loss.h), with the
// voxels nobody annotated (data.ignore_label) left out of every sum.
#pragma once
#include <torch/types.h>

#include "bcp/train/config.h"
#include "bcp/train/losses.h"

namespace bcp::train {

/// The mixed loss of one copy-paste batch as its weighted parts (acdc_mix_loss or
/// la_mix_loss_parts, same arguments). Labels equal to data::kIgnoreLabel weigh nothing in
/// their region: such a voxel adds to no Dice sum, no cross-entropy sum and no mask sum.
MixLossResult step_mix_loss(const TrainConfig& config, const torch::Tensor& logits,
                            const torch::Tensor& img_label, const torch::Tensor& patch_label,
                            const torch::Tensor& mask, double l_weight, double u_weight,
                            bool unlab);

/// The supervised loss of labeled logits: SSL4MIS's 0.5 (CE + Dice) or UA-MT's (CE + Dice) / 2,
/// over the annotated voxels.
torch::Tensor step_supervised_loss(const TrainConfig& config, const torch::Tensor& logits,
                                   const torch::Tensor& labels);

}  // namespace bcp::train
