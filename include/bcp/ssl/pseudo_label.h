// Teacher pseudo-labels for self-training, as the released BCP code makes them: the teacher's
// prediction cleaned to its largest connected component(s).
#pragma once
#include <torch/types.h>

namespace bcp::ssl {

/// ACDC: argmax of softmax over classes, then per slice and per class 1..C-1 only the largest
/// 8-connected component is kept (other pixels of that class become background 0); a class with
/// no pixel stays empty. logits: (N, C, H, W) float, any device.
/// Returns (N, H, W) int64 on the device of `logits`. No gradient flows.
torch::Tensor acdc_pseudo_label(const torch::Tensor& logits);

/// LA: foreground where softmax(logits)[:, 1] >= 0.5, then only the largest 26-connected
/// component per sample. logits: (N, 2, D, H, W) float, any device.
/// Returns (N, D, H, W) int64 in {0, 1} on the device of `logits`. No gradient flows.
torch::Tensor la_pseudo_label(const torch::Tensor& logits);

/// Soft pseudo-labels (the ablation bcp.pseudo_label = soft): the teacher's class probabilities
/// softmax(logits / temperature) over axis 1, (N, C, spatial...) float32, without the largest-
/// component step. temperature > 0; below 1 sharpens towards the argmax. No gradient flows.
torch::Tensor soft_pseudo_label(const torch::Tensor& logits, double temperature);

}  // namespace bcp::ssl
