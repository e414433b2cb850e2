// The loss of one mixed batch needs, per region r (the image's, mask m, and the patch's, 1 - m)
// and class k, three sums over all pixels: I = sum(p t m), Y = sum(t m) (t one-hot, so t^2 = t),
// Z = sum(p^2 m); and per region the masked cross-entropy sum and the mask's sum. The forward
// makes them in one pass, keeping the probabilities; the backward turns them into per-class
// coefficients and makes the gradient in one more pass (kernels in mix_loss_kernels.cpp).
#include "bcp/train/fused_mix_loss.h"

#include <torch/autograd.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "bcp/util/parallel.h"
#include "loss_inputs.h"
#include "mix_loss_kernels.h"

namespace bcp::train {
namespace {

using kernels::kLanes;
using kernels::MixSums;

constexpr int64_t kBlockPixels = 4096;  // a multiple of kLanes
constexpr double kDiceSmooth = 1e-10;   // acdc_dice_loss's
constexpr double kCeSmooth = 1e-16;     // masked_cross_entropy's

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

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct FusedAcdcMixLoss : torch::autograd::Function<FusedAcdcMixLoss> {
  static variable_list forward(AutogradContext* ctx, const torch::Tensor& logits_in,
                               const torch::Tensor& label0, const torch::Tensor& label1,
                               const torch::Tensor& mask, double w_img, double w_patch) {
    const torch::Tensor logits = logits_in.contiguous();
    const Views v = views(logits, label0, label1, mask);
    const Blocks blocks(logits.size(0), v.pixels);
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
    auto sums = torch::zeros({at.size()}, torch::kFloat64);
    double* s = sums.data_ptr<double>();
    for (int64_t b = 0; b < blocks.count; ++b)
      for (int64_t j = 0; j < at.size(); ++j) s[j] += parts[static_cast<size_t>(b * at.size() + j)];
    const double w[2] = {w_img, w_patch};
    double dice = 0, ce = 0;
    for (int r = 0; r < 2; ++r) {
      double region = 0;
      for (int64_t k = 0; k < v.classes; ++k)
        region += 1 - (2 * s[at.inter(r, k)] + kDiceSmooth) /
                          (s[at.square(r, k)] + s[at.target(r, k)] + kDiceSmooth);
      dice += w[r] * region / static_cast<double>(v.classes);
      ce += w[r] * s[at.ce(r)] / (s[at.mass(r)] + kCeSmooth);
    }
    ctx->save_for_backward({probs, label0, label1, mask, sums});
    ctx->saved_data["w_img"] = w_img;
    ctx->saved_data["w_patch"] = w_patch;
    const auto scalar = [&](double x) { return torch::full({}, x, logits.options()); };
    return {scalar(dice), scalar(ce)};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &probs = saved[0], &sums = saved[4];
    const Views v = views(probs, saved[1], saved[2], saved[3]);
    const Blocks blocks(probs.size(0), v.pixels);
    const MixSums at{v.classes};
    const double g_dice = grads[0].item<double>(), g_ce = grads[1].item<double>();
    const double w[2] = {ctx->saved_data["w_img"].toDouble(),
                         ctx->saved_data["w_patch"].toDouble()};
    const double* s = sums.data_ptr<double>();
    // Region r's Dice term is w_r / C sum_k (1 - (2 I_k + e) / D_k), D_k = Z_k + Y_k + e, so
    // d/dp_k = m (-2 w_r / (C D_k) t_k + 2 w_r (2 I_k + e) / (C D_k^2) p_k).
    const auto c = static_cast<size_t>(v.classes);
    std::vector<float> dice_label(2 * c), dice_prob(2 * c);
    kernels::MixGradCoefficients k{dice_label.data(), dice_prob.data(), {0, 0}};
    for (int r = 0; r < 2; ++r) {
      for (int64_t j = 0; j < v.classes; ++j) {
        const double d = s[at.square(r, j)] + s[at.target(r, j)] + kDiceSmooth;
        const double scale = g_dice * w[r] * 2 / (static_cast<double>(v.classes) * d);
        dice_label[r * c + static_cast<size_t>(j)] = static_cast<float>(-scale);
        dice_prob[r * c + static_cast<size_t>(j)] =
            static_cast<float>(scale * (2 * s[at.inter(r, j)] + kDiceSmooth) / d);
      }
      k.ce[r] = static_cast<float>(g_ce * w[r] / (s[at.mass(r)] + kCeSmooth));
    }
    torch::Tensor grad = torch::empty_like(probs);
    const float* p = probs.data_ptr<float>();
    float* g = grad.data_ptr<float>();
    util::parallel_for(0, blocks.count, 1, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b)
        for_chunks(blocks, b, [&](int64_t image, int64_t i, int64_t n) {
          const int64_t at_z = v.image_offset(image, i), at_px = v.pixel(image, i);
          kernels::mix_loss_backward(p + at_z, v.pixels, v.classes, n, v.label0 + at_px,
                                     v.label1 + at_px, v.mask + at_px, k, g + at_z);
        });
    });
    return {grad, {}, {}, {}, {}, {}};
  }
};

}  // namespace

bool fuses_acdc_mix_loss(const torch::Tensor& logits, const torch::Tensor& img_label,
                         const torch::Tensor& patch_label) {
  for (const torch::Tensor* t : {&logits, &img_label, &patch_label})
    if (!t->defined() || !t->device().is_cpu()) return false;
  return logits.dim() == 4 && logits.scalar_type() == torch::kFloat32 && !is_soft(img_label) &&
         !is_soft(patch_label);
}

MixLossResult fused_acdc_mix_loss(const torch::Tensor& logits, const torch::Tensor& img_label,
                                  const torch::Tensor& patch_label, const torch::Tensor& mask,
                                  double l_weight, double u_weight, bool unlab) {
  TORCH_CHECK(mask.defined(), "acdc_mix_loss: mask must be defined");
  check_pair(logits, img_label, "acdc_mix_loss");
  check_pair(logits, patch_label, "acdc_mix_loss");
  TORCH_CHECK(fuses_acdc_mix_loss(logits, img_label, patch_label),
              "fused_acdc_mix_loss: needs fp32 CPU logits (N, C, H, W) and integer labels, got ",
              logits.scalar_type(), " ", logits.sizes(), " on ", logits.device());
  const torch::Tensor m = expand_mask(mask, logits, "acdc_mix_loss").contiguous();
  const auto labels = [](const torch::Tensor& t) { return t.to(torch::kInt32).contiguous(); };
  const auto out =
      FusedAcdcMixLoss::apply(logits, labels(img_label), labels(patch_label), m,
                              unlab ? u_weight : l_weight, unlab ? l_weight : u_weight);
  return {out[0], out[1]};
}

}  // namespace bcp::train
