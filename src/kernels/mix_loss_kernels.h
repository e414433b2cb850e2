// The loops of the fused mixed loss on raw arrays (no LibTorch): one chunk of at most kLanes
// pixels of one image at a time, each pixel's C logits `class_stride` apart (N, C, H, W order).
// Compiled alone with -fno-trapping-math so that GCC vectorises the selects across pixels.
#pragma once
#include <cstdint>

namespace bcp::kernels {

constexpr int64_t kLanes = 64;

/// Where each per-lane sum sits in the forward's accumulators, kLanes floats each. Region 0 is
/// the image's (weight m, label 0), region 1 the patch's (weight 1 - m, label 1); t is the
/// one-hot label, so t^2 = t.
struct MixSums {
  int64_t classes;
  int64_t region(int r) const { return r * (4 * classes + 2); }
  int64_t inter(int r, int64_t k) const { return region(r) + k; }                 ///< sum p_k t_k w
  int64_t target(int r, int64_t k) const { return region(r) + classes + k; }      ///< sum t_k w
  int64_t square(int r, int64_t k) const { return region(r) + 2 * classes + k; }  ///< sum p_k^2 w
  int64_t prob(int r, int64_t k) const { return region(r) + 3 * classes + k; }    ///< sum p_k w
  int64_t ce(int r) const { return region(r) + 4 * classes; }        ///< sum -log_softmax_label w
  int64_t mass(int r) const { return region(r) + 4 * classes + 1; }  ///< sum w
  int64_t size() const { return 2 * (4 * classes + 2); }
};

/// Softmax of n <= kLanes pixels into `probs` (the logits' layout), and each pixel's terms added
/// to `lanes` (MixSums order, kLanes floats per sum, lane i for pixel i).
void mix_loss_forward(const float* logits, int64_t class_stride, int64_t classes, int64_t n,
                      const int32_t* label0, const int32_t* label1, const float* mask, float* probs,
                      float* lanes);

/// The loss's gradient coefficients, the upstream gradients folded in: per region r and class
/// k (index r * C + k), d loss / d p_k = w (dice_label t_k + dice_prob p_k + dice_const), and
/// d loss / d z_k adds ce[r] w (p_k - t_k).
struct MixGradCoefficients {
  const float* dice_label;
  const float* dice_prob;
  const float* dice_const;
  float ce[2];
};

/// d loss / d logits of n <= kLanes pixels from their probabilities, into `grad`.
void mix_loss_backward(const float* probs, int64_t class_stride, int64_t classes, int64_t n,
                       const int32_t* label0, const int32_t* label1, const float* mask,
                       const MixGradCoefficients& coef, float* grad);

}  // namespace bcp::kernels
