// Copy-paste mixing, and the bidirectional recipes of BCP's pre-training and self-training.
//
// Convention (the authors'): the mask M is 1 on the "image" (background) region and 0 inside
// the box, so `copy_paste(a, b, M)` keeps a outside the box and pastes b's box into it. Loss
// functions (bcp/train/losses.h) name the two regions the same way: `img_label` is the target
// on M, `patch_label` the target on 1 - M.
#pragma once
#include <torch/types.h>

namespace bcp::ssl {

/// a * M + b * (1 - M). `a` and `b` have the same shape, e.g. images (N, C, H, W[, D]) or labels
/// (N, H, W[, D]); `mask` holds 0/1 and broadcasts to it by trailing axes, so a spatial mask
/// (H, W[, D]) serves a whole batch (one mask per step, as in BCP) and (N, 1, H, W) gives one per
/// sample. Floating inputs are mixed arithmetically as the authors do (mask cast to a's dtype);
/// integer and bool inputs (labels) go through where(M != 0, a, b), so their dtype survives.
torch::Tensor copy_paste(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& mask);

/// One student input of a BCP step and everything its mixed loss needs.
struct MixedStream {
  torch::Tensor image;        ///< (N, C, H, W[, D]) float: the student's input for one forward
  torch::Tensor label;        ///< (N, H, W[, D]) int64: img_label on M, patch_label on 1 - M
                              ///< (with soft pseudo-labels: (N, C, ...) float32 probabilities)
  torch::Tensor img_label;    ///< (N, H, W[, D]) int64: target on M (the background region)
  torch::Tensor patch_label;  ///< (N, H, W[, D]) int64: target on 1 - M (the pasted box)
  bool unlab = false;         ///< the authors' mix_loss flag: true puts u_weight on M
  double img_weight = 1.0;    ///< weight of the M region = unlab ? u_weight : l_weight
  double patch_weight = 0.5;  ///< weight of the 1 - M region = unlab ? l_weight : u_weight
};

/// The two mixed batches of a self-training step. Run each through the student in its own
/// forward pass (BatchNorm must see each batch separately); the authors run ACDC's mixed_u
/// first and LA's mixed_l first, which matters only for the dropout random stream.
struct BcpMix {
  MixedStream mixed_u;  ///< unlabeled image as background, labeled box pasted in (unlab = true)
  MixedStream mixed_l;  ///< labeled image as background, unlabeled box pasted in (unlab = false)
};

/// The sub-batches of one self-training step. Images (n, C, H, W[, D]) float; labels and
/// pseudo-labels (n, H, W[, D]) integer (any integer dtype; results are int64).
struct BcpInputs {
  torch::Tensor img_a, img_b;    ///< labeled images La, Lb
  torch::Tensor lab_a, lab_b;    ///< their ground truth
  torch::Tensor uimg_a, uimg_b;  ///< unlabeled images Ua, Ub
  torch::Tensor plab_a, plab_b;  ///< the teacher's pseudo-labels Pa, Pb of Ua, Ub: integer
                                 ///< labels, or class probabilities (n, C, ...) when soft
};

/// Loss weights of the two label sources.
struct MixWeights {
  double l_weight = 1.0;  ///< weight of ground-truth regions
  double u_weight = 0.5;  ///< weight of pseudo-labelled regions (the paper's alpha)
};

/// ACDC self-training (ACDC_BCP_train.py):
///   mixed_u: Xu = Ua*M + La*(1-M), img_label Pa (u_weight), patch_label labA (l_weight);
///   mixed_l: Xl = Lb*M + Ub*(1-M), img_label labB (l_weight), patch_label Pb (u_weight).
/// Losses: acdc_mix_loss(out_u, mixed_u.img_label, mixed_u.patch_label, M, l, u, true) and
/// acdc_mix_loss(out_l, ..., false); step loss (dice_u + dice_l + ce_u + ce_l) / 2.
BcpMix acdc_bcp_mix(const BcpInputs& in, const torch::Tensor& mask, const MixWeights& w = {});

/// LA self-training (LA_BCP_train.py):
///   mixed_l: Xl = La*M + Ua*(1-M), img_label labA (l_weight), patch_label Pa (u_weight);
///   mixed_u: Xu = Ub*M + Lb*(1-M), img_label Pb (u_weight), patch_label labB (l_weight).
/// Losses: la_mix_loss(out_l, ..., false) + la_mix_loss(out_u, ..., true).
BcpMix la_bcp_mix(const BcpInputs& in, const torch::Tensor& mask, const MixWeights& w = {});

/// Pre-training (both datasets): X = A*M + B*(1-M), label labA*M + labB*(1-M). img_label labA,
/// patch_label labB, both weights 1 (the authors call mix_loss with u_weight=1, unlab=True for
/// ACDC; LA uses `label` with la_pretrain_loss).
MixedStream pretrain_mix(const torch::Tensor& img_a, const torch::Tensor& img_b,
                         const torch::Tensor& lab_a, const torch::Tensor& lab_b,
                         const torch::Tensor& mask);

}  // namespace bcp::ssl
