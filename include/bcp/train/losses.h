// Losses of BCP and its baselines, as the released code computes them (parity:
// ../shared/parity/losses.h5). All return differentiable float scalars on the logits' device.
//
// Shapes: logits (N, C, H, W[, D]) float; labels (N, H, W[, D]) integer in [0, C); masks hold
// 0/1, any dtype, shaped like the labels or broadcastable to them by trailing axes (so a
// spatial (H, W[, D]) mask serves the whole batch). BCP's mask M is 1 on the background
// ("image") region and 0 in the pasted box ("patch").
#pragma once
#include <torch/types.h>

#include <cstdint>

#include "bcp/kernels/loss_inputs.h"

namespace bcp::train {

/// Targets: every loss below takes either integer labels (N, spatial...) with values in [0, C),
/// as the authors' code does, or class probabilities (floating, (N, C, spatial...), e.g. soft
/// pseudo-labels): the one-hot target becomes those probabilities, cross-entropy becomes
/// -sum_c t_c log p_c. A one-hot probability target gives the labels' loss.

/// ACDC DiceLoss(n_classes) on probabilities (SSL4MIS/BCP utils/losses.py): one-hot target,
/// for each class c over the whole batch 1 - (2*sum(p t m) + 1e-10) / (sum(p^2 m) + sum(t^2 m)
/// + 1e-10), averaged over all C classes (background included). `probs` (N, C, ...) are
/// softmax outputs (the authors pass output_soft); `mask` undefined means no mask.
torch::Tensor acdc_dice_loss(const torch::Tensor& probs, const torch::Tensor& target,
                             const torch::Tensor& mask = {});

/// Mean per-pixel cross-entropy of `logits` against `target` (nn.CrossEntropyLoss()).
torch::Tensor mean_cross_entropy(const torch::Tensor& logits, const torch::Tensor& target);

/// Masked mean of the per-pixel cross-entropy: sum(CE * m) / (sum(m) + 1e-16).
torch::Tensor masked_cross_entropy(const torch::Tensor& logits, const torch::Tensor& target,
                                   const torch::Tensor& mask);

using kernels::MixLossResult;  // kernels/loss_inputs.h: the fused losses return it too

/// ACDC mix_loss (ACDC_BCP_train.py): w_img = l_weight, w_patch = u_weight, swapped when
/// `unlab`; dice with acdc_dice_loss on softmax(logits), ce with masked_cross_entropy.
/// Self-training step loss: (dice_u + dice_l + ce_u + ce_l) / 2; pre-training:
/// (dice + ce) / 2 with u_weight = 1, unlab = true.
MixLossResult acdc_mix_loss(const torch::Tensor& logits, const torch::Tensor& img_label,
                            const torch::Tensor& patch_label, const torch::Tensor& mask,
                            double l_weight = 1.0, double u_weight = 0.5, bool unlab = false);

/// LA mask_DiceLoss(nclass) on logits (BCP utils/losses.py): p = softmax(logits); for each
/// sample n and class c, (2*sum(p t m) + 1e-5) / (sum((p + t) m) + 1e-5); loss 1 - mean over
/// (n, c). `mask` undefined means no mask.
torch::Tensor la_dice_loss(const torch::Tensor& logits, const torch::Tensor& target,
                           const torch::Tensor& mask = {});

/// LA mix_loss (LA_BCP_train.py) for one mixed batch: (dice + ce) / 2 where dice and ce are
/// weighted over the two regions as in acdc_mix_loss but with la_dice_loss. Self-training step
/// loss: la_mix_loss(out_l, ..., false) + la_mix_loss(out_u, ..., true).
torch::Tensor la_mix_loss(const torch::Tensor& logits, const torch::Tensor& img_label,
                          const torch::Tensor& patch_label, const torch::Tensor& mask,
                          double l_weight = 1.0, double u_weight = 0.5, bool unlab = false);

/// The same, returning the weighted parts instead of their mean (for logging).
MixLossResult la_mix_loss_parts(const torch::Tensor& logits, const torch::Tensor& img_label,
                                const torch::Tensor& patch_label, const torch::Tensor& mask,
                                double l_weight = 1.0, double u_weight = 0.5, bool unlab = false);

/// LA pre-training loss on the mixed label: (mean_cross_entropy + la_dice_loss unmasked) / 2.
torch::Tensor la_pretrain_loss(const torch::Tensor& logits, const torch::Tensor& label);

/// Mean Teacher consistency (SSL4MIS): mean((softmax(student) - softmax(teacher))^2) over all
/// elements. The teacher side is detached (it ran under no-grad in the reference).
torch::Tensor softmax_mse_consistency(const torch::Tensor& student_logits,
                                      const torch::Tensor& teacher_logits);

/// SSL4MIS ramps.sigmoid_rampup: exp(-5 (1 - t)^2) with t = clip(current, 0, length) / length;
/// 1 when length == 0.
double sigmoid_rampup(double current, double rampup_length);

/// Settings of the Mean Teacher consistency weight.
struct ConsistencyOptions {
  double consistency = 0.1;       ///< final weight (args.consistency)
  double rampup_epochs = 200.0;   ///< ramp length in "epochs" (args.consistency_rampup)
  int64_t iters_per_epoch = 150;  ///< SSL4MIS's fixed iteration-to-epoch divisor (iter_num // 150)
};

/// consistency * sigmoid_rampup(iteration / iters_per_epoch (integer division), rampup_epochs).
double consistency_weight(int64_t iteration, const ConsistencyOptions& opt = {});

}  // namespace bcp::train
