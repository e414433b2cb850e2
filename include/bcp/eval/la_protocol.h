// The LA evaluation protocol of the released BCP code (test_all_case with nms=1): sliding-window
// foreground probability, threshold 0.5, largest 3D connected component.
#pragma once
#include <torch/types.h>

#include "bcp/eval/sliding_window.h"

namespace bcp::eval {

struct LaProtocolOptions {
  /// Patch 112x112x80, stride 18/18/4, window_batch 1 by default (see sliding_window.h).
  SlidingWindowOptions window;
  /// Classes the predictor outputs, background included; class 1 is the foreground.
  int64_t num_classes = 2;
  /// Foreground where the averaged probability of class 1 is strictly above this.
  double threshold = 0.5;
  /// Keep only the largest 26-connected component (the authors' nms=1).
  bool largest_component = true;
};

/// Predicts the labels of one volume: with 2 classes the authors' rule (class-1 probability above
/// `threshold`, largest component); with more, the argmax of the averaged probabilities and the
/// largest component of each class.
/// image: (X, Y, Z) floating point, finite, any device, or (C, X, Y, Z); predictor: (B, C, px, py,
/// pz) -> logits (B, num_classes, px, py, pz). Returns (X, Y, Z) uint8 in 0..num_classes-1 on
/// image's device. When `probabilities` is given it receives the averaged softmax, (C, X, Y, Z)
/// float32 (before the threshold and the largest component). Throws c10::Error for bad input
/// (values named).
torch::Tensor la_predict_volume(const torch::Tensor& image, const Predictor& predictor,
                                const LaProtocolOptions& options = {},
                                torch::Tensor* probabilities = nullptr);

}  // namespace bcp::eval
