#include "bcp/train/losses.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>

#include "bcp/kernels/loss_inputs.h"

namespace bcp::train {

namespace {

namespace F = torch::nn::functional;

// Per-pixel cross-entropy (N, spatial...): nn.CrossEntropyLoss(reduction='none') for labels,
// -sum_c t_c log p_c for class probabilities.
torch::Tensor pixel_cross_entropy(const torch::Tensor& logits, const torch::Tensor& target) {
  if (kernels::is_soft(target))
    return -(target.to(logits.scalar_type()) * torch::log_softmax(logits, 1)).sum(1);
  return F::cross_entropy(logits, target.to(torch::kInt64),
                          F::CrossEntropyFuncOptions().reduction(torch::kNone));
}

}  // namespace

torch::Tensor acdc_dice_loss(const torch::Tensor& probs, const torch::Tensor& target,
                             const torch::Tensor& mask) {
  kernels::check_pair(probs, target, "acdc_dice_loss");
  const int64_t n_classes = probs.size(1);
  torch::Tensor m;
  if (mask.defined()) m = kernels::expand_mask(mask, probs, "acdc_dice_loss");
  constexpr double kSmooth = 1e-10;
  torch::Tensor loss;
  for (int64_t c = 0; c < n_classes; ++c) {
    const auto score = probs.select(1, c);
    const auto t = kernels::is_soft(target) ? target.select(1, c).to(probs.scalar_type())
                                            : (target == c).to(probs.scalar_type());
    torch::Tensor intersect, y_sum, z_sum;
    if (m.defined()) {
      intersect = torch::sum(score * t * m);
      y_sum = torch::sum(t * t * m);
      z_sum = torch::sum(score * score * m);
    } else {
      intersect = torch::sum(score * t);
      y_sum = torch::sum(t * t);
      z_sum = torch::sum(score * score);
    }
    const auto dice = 1 - (2 * intersect + kSmooth) / (z_sum + y_sum + kSmooth);
    loss = loss.defined() ? loss + dice : dice;
  }
  return loss / static_cast<double>(n_classes);
}

torch::Tensor mean_cross_entropy(const torch::Tensor& logits, const torch::Tensor& target) {
  kernels::check_pair(logits, target, "mean_cross_entropy");
  if (kernels::is_soft(target)) return pixel_cross_entropy(logits, target).mean();
  return F::cross_entropy(logits, target.to(torch::kInt64));
}

torch::Tensor masked_cross_entropy(const torch::Tensor& logits, const torch::Tensor& target,
                                   const torch::Tensor& mask) {
  kernels::check_pair(logits, target, "masked_cross_entropy");
  TORCH_CHECK(mask.defined(), "masked_cross_entropy: mask must be defined");
  const auto m = kernels::expand_mask(mask, logits, "masked_cross_entropy");
  const auto ce = pixel_cross_entropy(logits, target);
  return (ce * m).sum() / (m.sum() + 1e-16);
}

MixLossResult acdc_mix_loss(const torch::Tensor& logits, const torch::Tensor& img_label,
                            const torch::Tensor& patch_label, const torch::Tensor& mask,
                            double l_weight, double u_weight, bool unlab) {
  TORCH_CHECK(mask.defined(), "acdc_mix_loss: mask must be defined");
  const double w_img = unlab ? u_weight : l_weight;
  const double w_patch = unlab ? l_weight : u_weight;
  const auto probs = torch::softmax(logits, 1);
  const auto patch_mask = 1 - mask.to(logits.scalar_type());
  MixLossResult r;
  r.dice = acdc_dice_loss(probs, img_label, mask) * w_img +
           acdc_dice_loss(probs, patch_label, patch_mask) * w_patch;
  r.ce = w_img * masked_cross_entropy(logits, img_label, mask) +
         w_patch * masked_cross_entropy(logits, patch_label, patch_mask);
  return r;
}

torch::Tensor la_dice_loss(const torch::Tensor& logits, const torch::Tensor& target,
                           const torch::Tensor& mask) {
  kernels::check_pair(logits, target, "la_dice_loss");
  const int64_t n = logits.size(0);
  const int64_t c = logits.size(1);
  const auto p = torch::softmax(logits.reshape({n, c, -1}), 1);
  const auto t = kernels::is_soft(target) ? target.reshape({n, c, -1}).to(p.scalar_type())
                                          : F::one_hot(target.reshape({n, -1}).to(torch::kInt64), c)
                                                .permute({0, 2, 1})
                                                .to(p.scalar_type());
  auto inter = p * t;
  auto uni = p + t;
  if (mask.defined()) {
    const auto m = kernels::expand_mask(mask, logits, "la_dice_loss").reshape({n, 1, -1});
    inter = inter * m;
    uni = uni * m;
  }
  constexpr double kSmooth = 1e-5;
  const auto dice = (2 * inter.sum(2) + kSmooth) / (uni.sum(2) + kSmooth);
  return 1 - dice.mean();
}

MixLossResult la_mix_loss_parts(const torch::Tensor& logits, const torch::Tensor& img_label,
                                const torch::Tensor& patch_label, const torch::Tensor& mask,
                                double l_weight, double u_weight, bool unlab) {
  TORCH_CHECK(mask.defined(), "la_mix_loss: mask must be defined");
  const double w_img = unlab ? u_weight : l_weight;
  const double w_patch = unlab ? l_weight : u_weight;
  const auto patch_mask = 1 - mask.to(logits.scalar_type());
  MixLossResult r;
  r.dice = la_dice_loss(logits, img_label, mask) * w_img +
           la_dice_loss(logits, patch_label, patch_mask) * w_patch;
  r.ce = w_img * masked_cross_entropy(logits, img_label, mask) +
         w_patch * masked_cross_entropy(logits, patch_label, patch_mask);
  return r;
}

torch::Tensor la_mix_loss(const torch::Tensor& logits, const torch::Tensor& img_label,
                          const torch::Tensor& patch_label, const torch::Tensor& mask,
                          double l_weight, double u_weight, bool unlab) {
  const auto r = la_mix_loss_parts(logits, img_label, patch_label, mask, l_weight, u_weight, unlab);
  return (r.dice + r.ce) / 2;
}

torch::Tensor la_pretrain_loss(const torch::Tensor& logits, const torch::Tensor& label) {
  return (mean_cross_entropy(logits, label) + la_dice_loss(logits, label)) / 2;
}

torch::Tensor softmax_mse_consistency(const torch::Tensor& student_logits,
                                      const torch::Tensor& teacher_logits) {
  TORCH_CHECK(student_logits.defined() && teacher_logits.defined() &&
                  student_logits.sizes() == teacher_logits.sizes(),
              "softmax_mse_consistency: student and teacher logits must have the same shape, got ",
              c10::str(student_logits.sizes()), " and ", c10::str(teacher_logits.sizes()));
  TORCH_CHECK(student_logits.dim() >= 2, "softmax_mse_consistency: expected (N, C, ...), got ",
              c10::str(student_logits.sizes()));
  const auto d = torch::softmax(student_logits, 1) - torch::softmax(teacher_logits.detach(), 1);
  return torch::mean(d * d);
}

double sigmoid_rampup(double current, double rampup_length) {
  if (rampup_length == 0) return 1.0;
  TORCH_CHECK(rampup_length > 0, "sigmoid_rampup: rampup_length must be >= 0, got ", rampup_length);
  current = std::clamp(current, 0.0, rampup_length);
  const double phase = 1.0 - current / rampup_length;
  return std::exp(-5.0 * phase * phase);
}

double consistency_weight(int64_t iteration, const ConsistencyOptions& opt) {
  TORCH_CHECK(opt.iters_per_epoch >= 1, "consistency_weight: iters_per_epoch must be >= 1, got ",
              opt.iters_per_epoch);
  const int64_t epoch = iteration / opt.iters_per_epoch;
  return opt.consistency * sigmoid_rampup(static_cast<double>(epoch), opt.rampup_epochs);
}

}  // namespace bcp::train
