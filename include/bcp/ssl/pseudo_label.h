// Teacher pseudo-labels for self-training, as the released BCP code makes them: the teacher's
// prediction cleaned to its largest connected component(s).
#pragma once
#include <torch/types.h>

#include "bcp/data/recipe.h"

namespace bcp::ssl {

/// Hard pseudo-labels of logits (N, C, H, W) or (N, C, D, H, W), float, any device, C >= 2:
/// - rule kArgmax (ACDC's code): argmax of softmax over classes;
/// - rule kForegroundHalf (LA's code, two classes): foreground where softmax(logits)[:, 1] >= 0.5;
///   with more classes the argmax, as la_predict_volume does;
/// then per sample and per class 1..C-1 only the largest fully connected component (8 in 2-D,
/// 26 in 3-D) is kept; other voxels of that class become background 0 and an absent class stays
/// empty. Returns (N, spatial...) int64 on the device of `logits`. No gradient flows.
torch::Tensor hard_pseudo_label(const torch::Tensor& logits, data::PseudoLabelRule rule);

/// Soft pseudo-labels (the ablation bcp.pseudo_label = soft): the teacher's class probabilities
/// softmax(logits / temperature) over axis 1, (N, C, spatial...) float32, without the largest-
/// component step. temperature > 0; below 1 sharpens towards the argmax. No gradient flows.
torch::Tensor soft_pseudo_label(const torch::Tensor& logits, double temperature);

}  // namespace bcp::ssl
