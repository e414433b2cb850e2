// Sliding-window inference over a 3D volume, as the LA evaluation of the released BCP code runs it
// (test_3d_patch.py, test_single_case): zero-pad to at least the patch, visit a regular grid of
// windows, average the softmax of every window that covers a voxel, crop the padding off.
// Network-agnostic: the network arrives as a callable `Predictor`, so the grid and the averaging
// are testable without a model.
#pragma once
#include <torch/types.h>

#include <array>
#include <cstdint>
#include <functional>
#include <vector>

namespace bcp::eval {

/// Three sizes or positions in the volume's axis order (X, Y, Z for LA).
using Shape3 = std::array<int64_t, 3>;

/// The authors' LA window (X, Y, Z): patch 112 x 112 x 80, stride 18/18/4.
inline constexpr Shape3 kLaPatch{112, 112, 80};
inline constexpr Shape3 kLaStride{18, 18, 4};

/// Maps a batch of inputs to logits. For sliding windows: (B, 1, px, py, pz) float ->
/// (B, C, px, py, pz); for ACDC slices: (N, 1, S, S) -> (N, C, S, S). The output may live on any
/// device; callers move it back to the input's device.
using Predictor = std::function<torch::Tensor(const torch::Tensor&)>;

/// Where the windows go on a volume of a given shape.
struct SlidingWindowGrid {
  Shape3 shape{};         ///< the volume before padding
  Shape3 padded_shape{};  ///< after zero-padding every axis to at least the patch
  Shape3 pad_left{};   ///< zeros added before the volume on each axis: (patch - shape) / 2, floored
  Shape3 pad_right{};  ///< zeros added after it: the rest of the padding
  Shape3 patch{};      ///< window size
  /// Window start positions in the padded volume, in the authors' loop order (x outermost, z
  /// innermost). Along an axis: min(stride * i, padded - patch) for
  /// i in [0, ceil((padded - patch) / stride)], so the last window ends at the border.
  std::vector<Shape3> starts;
};

/// The grid the authors' test_single_case visits. Requires every shape entry >= 1 and
/// 1 <= stride <= patch (a larger stride would leave voxels no window covers).
/// Throws std::invalid_argument naming the values otherwise.
SlidingWindowGrid sliding_window_grid(Shape3 shape, Shape3 patch = kLaPatch,
                                      Shape3 stride = kLaStride);

struct SlidingWindowOptions {
  /// Window size, in the volume's axis order (LA: 112 x 112 x 80 in X, Y, Z).
  Shape3 patch = kLaPatch;
  /// Step between window starts (LA: 18 in x and y, 4 in z).
  Shape3 stride = kLaStride;
  /// Windows per predictor call. 1 is the authors' behaviour; larger values run faster on a GPU.
  /// The windows' probabilities are added in the same order for any value, so results are
  /// identical when the predictor's output for one item does not depend on the batch; a network
  /// in eval mode agrees to float rounding (its convolutions may pick per-batch-size kernels).
  int64_t window_batch = 1;
};

/// Averages softmax probabilities over the sliding windows.
/// `volume`: (X, Y, Z) floating point, finite, or (C, X, Y, Z) for a C-channel network.
/// `predictor`: (B, C, px, py, pz) (C = 1 for an (X, Y, Z) volume) -> logits
/// (B, num_classes, px, py, pz). Probabilities are summed in float32 in the window order of
/// `sliding_window_grid`, divided by the number of windows covering each voxel, and the padding
/// is cropped off. Returns (num_classes, X, Y, Z) float32 on `volume`'s device.
/// Throws c10::Error for a bad volume, options, or predictor output shape (values named).
torch::Tensor sliding_window_probability(const torch::Tensor& volume, const Predictor& predictor,
                                         int64_t num_classes,
                                         const SlidingWindowOptions& options = {});

}  // namespace bcp::eval
