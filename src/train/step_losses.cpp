#include "bcp/train/step_losses.h"

#include <torch/torch.h>

#include "bcp/data/label_values.h"
#include "bcp/data/recipe.h"
#include "bcp/kernels/fused_mix_loss.h"
#include "bcp/kernels/loss_inputs.h"

namespace bcp::train {
namespace {

/// Whether a loss runs fused: in bf16 training (the logits are fp32 in both precisions), where
/// the fused losses take the inputs; fp32 training keeps LibTorch's operators, the authors'
/// arithmetic operator for operator.
bool fused_losses(const TrainConfig& c, const torch::Tensor& logits, const torch::Tensor& img_label,
                  const torch::Tensor& patch_label) {
  return c.precision == Precision::kBf16 && kernels::fuses_mix_loss(logits, img_label, patch_label);
}

bool ssl4mis_losses(const TrainConfig& c) {
  return data::recipe_of(c.dataset).loss == data::LossFamily::kSsl4mis;
}

/// The family's mixed loss as its weighted parts, fused or LibTorch's (fused_losses).
MixLossResult family_mix(const TrainConfig& c, const torch::Tensor& logits,
                         const torch::Tensor& img_label, const torch::Tensor& patch_label,
                         const torch::Tensor& mask, double l_weight, double u_weight, bool unlab) {
  const bool fused = fused_losses(c, logits, img_label, patch_label);
  if (ssl4mis_losses(c))
    return fused ? kernels::fused_acdc_mix_loss(logits, img_label, patch_label, mask, l_weight,
                                                u_weight, unlab)
                 : acdc_mix_loss(logits, img_label, patch_label, mask, l_weight, u_weight, unlab);
  return fused ? kernels::fused_la_mix_loss_parts(logits, img_label, patch_label, mask, l_weight,
                                                  u_weight, unlab)
               : la_mix_loss_parts(logits, img_label, patch_label, mask, l_weight, u_weight, unlab);
}

}  // namespace

// Each region's mask loses its own label's unannotated voxels, which one mask and its complement
// cannot express, so each region is scored in a pass of its own: the regions' sums are separate
// in both losses, so without unannotated voxels this equals family_mix.
MixLossResult step_mix_loss(const TrainConfig& c, const torch::Tensor& logits,
                            const torch::Tensor& img_label, const torch::Tensor& patch_label,
                            const torch::Tensor& mask, double l_weight, double u_weight,
                            bool unlab) {
  if (!c.data.ignore_label)
    return family_mix(c, logits, img_label, patch_label, mask, l_weight, u_weight, unlab);
  const torch::Tensor m = kernels::expand_mask(mask, logits, "mix_loss");
  const double w_img = unlab ? u_weight : l_weight, w_patch = unlab ? l_weight : u_weight;
  MixLossResult sum{torch::zeros({}, logits.options()), torch::zeros({}, logits.options())};
  const auto add_region = [&](const torch::Tensor& label, const torch::Tensor& region, double w) {
    if (w == 0.0) return;
    torch::Tensor clean = label, weight = region;
    if (!kernels::is_soft(label)) {  // pseudo-labels, the soft ones included, cover every voxel
      const torch::Tensor ok = data::annotated(label);
      clean = label.masked_fill(~ok, 0);
      weight = region * ok;
    }
    const MixLossResult r = family_mix(c, logits, clean, clean, weight, w, 0.0, false);
    sum.dice = sum.dice + r.dice;
    sum.ce = sum.ce + r.ce;
  };
  add_region(img_label, m, w_img);
  add_region(patch_label, 1 - m, w_patch);
  return sum;
}

torch::Tensor step_supervised_loss(const TrainConfig& c, const torch::Tensor& logits,
                                   const torch::Tensor& labels) {
  if (c.data.ignore_label) {  // one region over every annotated voxel, as below
    const MixLossResult r = step_mix_loss(c, logits, labels, labels,
                                          torch::ones({}, logits.options()), 1.0, 0.0, false);
    return 0.5 * (r.ce + r.dice);
  }
  if (fused_losses(c, logits, labels, labels)) {
    // The fused mixed loss with one region over every pixel (mask 1, the other region weighed
    // 0) is the plain loss: the mask's mean of the cross-entropy, the Dice unmasked.
    const MixLossResult r =
        family_mix(c, logits, labels, labels, torch::ones({}, logits.options()), 1.0, 0.0, false);
    return 0.5 * (r.ce + r.dice);
  }
  if (ssl4mis_losses(c))  // SSL4MIS train_fully_supervised_2D: 0.5 * (CE + Dice)
    return 0.5 *
           (mean_cross_entropy(logits, labels) + acdc_dice_loss(torch::softmax(logits, 1), labels));
  return la_pretrain_loss(logits, labels);  // (CE + Dice) / 2
}

}  // namespace bcp::train
