// The loss of one mixed batch needs, per region r (the image's, mask m, and the patch's, 1 - m),
// image and class k, four sums over its pixels: I = sum(p t m), Y = sum(t m) (t one-hot, so
// t^2 = t), Z = sum(p^2 m) (ACDC's Dice) and P = sum(p m) (LA's); and per region the masked
// cross-entropy sum and the mask's sum. The forward makes them in one pass, keeping the
// probabilities; the backward turns them into per-class coefficients and makes the gradient in
// one more pass (kernels in mix_loss_kernels.cpp).
#include "bcp/kernels/fused_mix_loss.h"

#include <torch/autograd.h>
#include <torch/torch.h>

#include <algorithm>
#include <vector>

#include "bcp/kernels/loss_inputs.h"
#include "bcp/util/parallel.h"
#include "mix_loss_kernels.h"

namespace bcp::kernels {
namespace {

using kernels::kLanes;
using kernels::MixSums;

constexpr int64_t kBlockPixels = 4096;
static_assert(kBlockPixels % kLanes == 0, "blocks of whole chunks but at an image's end");
constexpr double kAcdcSmooth = 1e-10;  // acdc_dice_loss's
constexpr double kLaSmooth = 1e-5;     // la_dice_loss's
constexpr double kCeSmooth = 1e-16;    // masked_cross_entropy's

/// The batch as N images of `pixels` pixels, cut into blocks that do not cross images.
struct Blocks {
  int64_t pixels, per_image, count;
  Blocks(int64_t images, int64_t hw)
      : pixels(hw),
        per_image(std::max<int64_t>(1, (hw + kBlockPixels - 1) / kBlockPixels)),
        count(images * per_image) {}
  int64_t image(int64_t b) const { return b / per_image; }
  int64_t begin(int64_t b) const { return (b % per_image) * kBlockPixels; }
  int64_t end(int64_t b) const { return std::min(pixels, begin(b) + kBlockPixels); }
};

/// Calls fn(image, first_pixel, pixel_count) for every chunk of at most kLanes pixels of block b.
template <typename Fn>
void for_chunks(const Blocks& blocks, int64_t b, const Fn& fn) {
  for (int64_t i = blocks.begin(b); i < blocks.end(b); i += kLanes)
    fn(blocks.image(b), i, std::min(kLanes, blocks.end(b) - i));
}

/// The tensors a pass reads: logits or probabilities (N, C, HW), both labels (N, HW) as int32,
/// the mask expanded to (N, HW).
struct Views {
  int64_t classes, pixels;
  const int32_t *label0, *label1;
  const float* mask;
  int64_t image_offset(int64_t image, int64_t i) const { return image * classes * pixels + i; }
  int64_t pixel(int64_t image, int64_t i) const { return image * pixels + i; }
};

Views views(const torch::Tensor& scores, const torch::Tensor& label0, const torch::Tensor& label1,
            const torch::Tensor& mask) {
  const int64_t n = scores.size(0), c = scores.size(1);
  return {c, scores.numel() / (n * c), label0.data_ptr<int32_t>(), label1.data_ptr<int32_t>(),
          mask.data_ptr<float>()};
}

/// The per-image sums (`images` rows of `size`) summed over the batch, in image order.
std::vector<double> batch_totals(const double* per_image, int64_t images, int64_t size) {
  std::vector<double> total(static_cast<size_t>(size), 0.0);
  for (int64_t n = 0; n < images; ++n)
    for (int64_t j = 0; j < size; ++j) total[static_cast<size_t>(j)] += per_image[n * size + j];
  return total;
}

/// The two Dice losses the authors wrote: ACDC's DiceLoss on probabilities (per class over the
/// whole batch, p^2 in the denominator, smooth 1e-10) and LA's mask_DiceLoss (per image and
/// class, p + t in the denominator, smooth 1e-5).
enum Dice : int64_t { kAcdcDice = 0, kLaDice = 1 };

/// Region r's Dice loss (unweighted) from the sums, per image (N rows of MixSums) for LA's.
double dice_loss(Dice kind, const MixSums& at, const std::vector<double>& total,
                 const double* per_image, int64_t images, int r) {
  const int64_t c = at.classes;
  double sum = 0;
  if (kind == kAcdcDice) {
    for (int64_t k = 0; k < c; ++k)
      sum += 1 - (2 * total[at.inter(r, k)] + kAcdcSmooth) /
                     (total[at.square(r, k)] + total[at.target(r, k)] + kAcdcSmooth);
    return sum / static_cast<double>(c);
  }
  for (int64_t n = 0; n < images; ++n) {
    const double* s = per_image + n * at.size();
    for (int64_t k = 0; k < c; ++k)
      sum +=
          (2 * s[at.inter(r, k)] + kLaSmooth) / (s[at.prob(r, k)] + s[at.target(r, k)] + kLaSmooth);
  }
  return 1 - sum / static_cast<double>(images * c);
}

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct FusedMixLoss : torch::autograd::Function<FusedMixLoss> {
  static variable_list forward(AutogradContext* ctx, const torch::Tensor& logits_in,
                               const torch::Tensor& label0, const torch::Tensor& label1,
                               const torch::Tensor& mask, double w_img, double w_patch,
                               int64_t kind) {
    const torch::Tensor logits = logits_in.contiguous();
    const Views v = views(logits, label0, label1, mask);
    const int64_t images = logits.size(0);
    const Blocks blocks(images, v.pixels);
    const MixSums at{v.classes};
    torch::Tensor probs = torch::empty_like(logits);
    const float* z = logits.data_ptr<float>();
    float* p = probs.data_ptr<float>();
    // Per block: its sums in fp64, from fp32 sums per lane.
    std::vector<double> parts(static_cast<size_t>(blocks.count * at.size()), 0.0);
    util::parallel_for(0, blocks.count, 1, [&](int64_t b0, int64_t b1) {
      std::vector<float> lanes(static_cast<size_t>(at.size() * kLanes));
      for (int64_t b = b0; b < b1; ++b) {
        std::fill(lanes.begin(), lanes.end(), 0.0f);
        for_chunks(blocks, b, [&](int64_t image, int64_t i, int64_t n) {
          const int64_t at_z = v.image_offset(image, i), at_px = v.pixel(image, i);
          kernels::mix_loss_forward(z + at_z, v.pixels, v.classes, n, v.label0 + at_px,
                                    v.label1 + at_px, v.mask + at_px, p + at_z, lanes.data());
        });
        double* part = parts.data() + b * at.size();
        for (int64_t j = 0; j < at.size(); ++j)
          for (int64_t i = 0; i < kLanes; ++i)
            part[j] += lanes[static_cast<size_t>(j * kLanes + i)];
      }
    });
    // Blocks summed in order: per image (LA's Dice) and over the batch.
    auto sums = torch::zeros({images, at.size()}, torch::kFloat64);
    double* s = sums.data_ptr<double>();
    for (int64_t b = 0; b < blocks.count; ++b)
      for (int64_t j = 0; j < at.size(); ++j)
        s[blocks.image(b) * at.size() + j] += parts[static_cast<size_t>(b * at.size() + j)];
    const std::vector<double> total = batch_totals(s, images, at.size());
    const double w[2] = {w_img, w_patch};
    double dice = 0, ce = 0;
    for (int r = 0; r < 2; ++r) {
      dice += w[r] * dice_loss(static_cast<Dice>(kind), at, total, s, images, r);
      ce += w[r] * total[at.ce(r)] / (total[at.mass(r)] + kCeSmooth);
    }
    ctx->save_for_backward({probs, label0, label1, mask, sums});
    ctx->saved_data["w_img"] = w_img;
    ctx->saved_data["w_patch"] = w_patch;
    ctx->saved_data["kind"] = kind;
    const auto scalar = [&](double x) { return torch::full({}, x, logits.options()); };
    return {scalar(dice), scalar(ce)};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &probs = saved[0], &sums = saved[4];
    const Views v = views(probs, saved[1], saved[2], saved[3]);
    const int64_t images = probs.size(0);
    const Blocks blocks(images, v.pixels);
    const MixSums at{v.classes};
    const auto kind = static_cast<Dice>(ctx->saved_data["kind"].toInt());
    const double g_dice = grads[0].item<double>(), g_ce = grads[1].item<double>();
    const double w[2] = {ctx->saved_data["w_img"].toDouble(),
                         ctx->saved_data["w_patch"].toDouble()};
    const double* s = sums.data_ptr<double>();
    const std::vector<double> total = batch_totals(s, images, at.size());
    // Per image n, region r and class k (at [(n * 2 + r) * C + k]): d loss / d p_k at a pixel is
    // w (label t_k + prob p_k + constant). ACDC's Dice, w_r / C sum_k (1 - (2 I + e) / D),
    // D = Z + Y + e over the batch: label -2 w_r / (C D), prob 2 w_r (2 I + e) / (C D^2).
    // LA's, 1 - 1 / (N C) sum_nk (2 I + e) / U, U = P + Y + e per image: label -2 w_r / (N C U),
    // constant w_r (2 I + e) / (N C U^2).
    const int64_t c = v.classes;
    const size_t rows = static_cast<size_t>(images * 2 * c);
    std::vector<float> dice_label(rows, 0.0f), dice_prob(rows, 0.0f), dice_const(rows, 0.0f);
    for (int64_t n = 0; n < images; ++n)
      for (int r = 0; r < 2; ++r)
        for (int64_t k = 0; k < c; ++k) {
          const auto at_nrk = static_cast<size_t>((n * 2 + r) * c + k);
          const double scale = g_dice * w[r];
          if (kind == kAcdcDice) {
            const double d = total[at.square(r, k)] + total[at.target(r, k)] + kAcdcSmooth;
            const double cd = static_cast<double>(c) * d;
            dice_label[at_nrk] = static_cast<float>(-2 * scale / cd);
            dice_prob[at_nrk] = static_cast<float>(
                2 * scale * (2 * total[at.inter(r, k)] + kAcdcSmooth) / (cd * d));
          } else {
            const double* si = s + n * at.size();
            const double u = si[at.prob(r, k)] + si[at.target(r, k)] + kLaSmooth;
            const double ncu = static_cast<double>(images * c) * u;
            dice_label[at_nrk] = static_cast<float>(-2 * scale / ncu);
            dice_const[at_nrk] =
                static_cast<float>(scale * (2 * si[at.inter(r, k)] + kLaSmooth) / (ncu * u));
          }
        }
    float ce[2];
    for (int r = 0; r < 2; ++r)
      ce[r] = static_cast<float>(g_ce * w[r] / (total[at.mass(r)] + kCeSmooth));
    torch::Tensor grad = torch::empty_like(probs);
    const float* p = probs.data_ptr<float>();
    float* g = grad.data_ptr<float>();
    util::parallel_for(0, blocks.count, 1, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b)
        for_chunks(blocks, b, [&](int64_t image, int64_t i, int64_t n) {
          const size_t row = static_cast<size_t>(image * 2 * c);
          const kernels::MixGradCoefficients coef{dice_label.data() + row,
                                                  dice_prob.data() + row,
                                                  dice_const.data() + row,
                                                  {ce[0], ce[1]}};
          const int64_t at_z = v.image_offset(image, i), at_px = v.pixel(image, i);
          kernels::mix_loss_backward(p + at_z, v.pixels, v.classes, n, v.label0 + at_px,
                                     v.label1 + at_px, v.mask + at_px, coef, g + at_z);
        });
    });
    return {grad, {}, {}, {}, {}, {}, {}};
  }
};

/// Checks as the LibTorch loss does (its name in the errors), then the fused function.
MixLossResult fused_mix_loss(Dice kind, const char* who, const torch::Tensor& logits,
                             const torch::Tensor& img_label, const torch::Tensor& patch_label,
                             const torch::Tensor& mask, double l_weight, double u_weight,
                             bool unlab) {
  TORCH_CHECK(mask.defined(), who, ": mask must be defined");
  // Supervised losses pass one label tensor as both: one check, one conversion.
  const bool same = patch_label.is_same(img_label);
  check_pair(logits, img_label, who);
  if (!same) check_pair(logits, patch_label, who);
  TORCH_CHECK(
      fuses_mix_loss(logits, img_label, patch_label), who,
      " (fused): needs non-empty fp32 CPU logits (N, C, spatial...) and integer labels, got ",
      logits.scalar_type(), " ", logits.sizes(), " on ", logits.device());
  const torch::Tensor m = expand_mask(mask, logits, who).contiguous();
  const auto labels = [](const torch::Tensor& t) { return t.to(torch::kInt32).contiguous(); };
  const torch::Tensor label0 = labels(img_label);
  const torch::Tensor label1 = same ? label0 : labels(patch_label);
  const auto out = FusedMixLoss::apply(logits, label0, label1, m, unlab ? u_weight : l_weight,
                                       unlab ? l_weight : u_weight, static_cast<int64_t>(kind));
  return {out[0], out[1]};
}

}  // namespace

bool fuses_mix_loss(const torch::Tensor& logits, const torch::Tensor& img_label,
                    const torch::Tensor& patch_label) {
  for (const torch::Tensor* t : {&logits, &img_label, &patch_label})
    if (!t->defined() || !t->device().is_cpu()) return false;
  return logits.dim() >= 3 && logits.numel() > 0 && logits.scalar_type() == torch::kFloat32 &&
         !is_soft(img_label) && !is_soft(patch_label);
}

MixLossResult fused_acdc_mix_loss(const torch::Tensor& logits, const torch::Tensor& img_label,
                                  const torch::Tensor& patch_label, const torch::Tensor& mask,
                                  double l_weight, double u_weight, bool unlab) {
  return fused_mix_loss(kAcdcDice, "acdc_mix_loss", logits, img_label, patch_label, mask, l_weight,
                        u_weight, unlab);
}

MixLossResult fused_la_mix_loss_parts(const torch::Tensor& logits, const torch::Tensor& img_label,
                                      const torch::Tensor& patch_label, const torch::Tensor& mask,
                                      double l_weight, double u_weight, bool unlab) {
  return fused_mix_loss(kLaDice, "la_mix_loss", logits, img_label, patch_label, mask, l_weight,
                        u_weight, unlab);
}

}  // namespace bcp::kernels
