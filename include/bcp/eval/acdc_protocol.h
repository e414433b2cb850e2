// The ACDC evaluation protocol of the released BCP code (test_single_volume): every slice of a
// volume is resized to size x size with scipy-style nearest resizing, segmented (argmax of the
// softmax), and its label map resized back to the slice's shape.
#pragma once
#include <torch/types.h>

#include <cstdint>

#include "bcp/eval/sliding_window.h"  // Predictor

namespace bcp::eval {

struct AcdcProtocolOptions {
  /// Slices are resized to size x size before the network (the paper: 256).
  int64_t size = 256;
  /// Slices per predictor call; 0 = the whole volume in one call. The authors run one slice at a
  /// time; in eval mode every value gives the same labels (up to the network's float
  /// reproducibility across batch sizes).
  int64_t slice_batch = 0;
};

/// Predicts the labels of one volume.
/// image: (D, H, W) floating point, finite, any device; (C, D, H, W) for a C-channel network.
/// predictor: (N, C, size, size) float ->
/// logits (N, C, size, size), C >= 2. Each slice is zoomed to (size, size) with
/// data::zoom_nearest, the slice's label is argmax over C of softmax(logits), and that label map
/// is zoomed back to (H, W) (nearest again). Returns (D, H, W) uint8 labels on image's device.
/// When `probabilities` is given it receives the softmax, zoomed back the same way: (C, D, H, W)
/// float32, whose per-voxel argmax is the returned label.
/// Throws c10::Error for a bad image, options or predictor output (values named).
torch::Tensor acdc_predict_volume(const torch::Tensor& image, const Predictor& predictor,
                                  const AcdcProtocolOptions& options = {},
                                  torch::Tensor* probabilities = nullptr);
/// Same, with the default options but `size`.
torch::Tensor acdc_predict_volume(const torch::Tensor& image, const Predictor& predictor,
                                  int64_t size);

}  // namespace bcp::eval
