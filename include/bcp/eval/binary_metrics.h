// Overlap and surface metrics of binary masks, computed as medpy.metric.binary computes them in the
// BCP evaluation code (dc, jc, hd95, asd), so published numbers are comparable.
#pragma once
#include <torch/types.h>

#include <vector>

namespace bcp::eval {

/// The four metrics of one prediction/reference pair. dice and jaccard are fractions in [0, 1];
/// hd95 and asd are in the unit of `spacing` (voxels when it is empty).
struct BinaryScores {
  double dice = 0.0;
  double jaccard = 0.0;
  double hd95 = 0.0;
  double asd = 0.0;
};

/// Knobs of the surface metrics; the defaults are medpy's.
struct BinaryScoresOptions {
  /// Physical size of a voxel per axis, in the tensor's axis order; empty = 1 for every axis.
  std::vector<double> spacing;
  /// Neighbourhood of the erosion that defines surface voxels, as scipy's
  /// generate_binary_structure(ndim, connectivity): 1 = faces only (medpy's default), ndim = full.
  int connectivity = 1;
};

/// Dice, Jaccard, 95% Hausdorff distance and average surface distance of `pred` against `ref`.
/// pred, ref: (H, W) or (D, H, W), bool or any integer dtype, nonzero = foreground, same shape.
/// spacing: one entry per axis (tensor order), > 0; empty = all 1 (voxel units).
/// Definitions (medpy): surface = object minus its erosion (border voxels of the array count as
/// surface); distances are Euclidean from each surface voxel of one to the nearest surface voxel
/// of the other; hd95 = 95th percentile (linear interpolation, as numpy.percentile) of the union
/// of both directed distance sets; asd = medpy `asd(pred, ref)`: mean of the directed distances
/// from pred's surface to ref's surface. BCP convention: pred or ref empty -> all four are 0.
/// Exact Euclidean distance transform restricted to the bounding box of both objects; parallel
/// over lines, deterministic. Throws c10::Error on rank/dtype/shape/spacing problems.
BinaryScores binary_scores(const torch::Tensor& pred, const torch::Tensor& ref,
                           const std::vector<double>& spacing = {});
BinaryScores binary_scores(const torch::Tensor& pred, const torch::Tensor& ref,
                           const BinaryScoresOptions& options);

/// binary_scores of (pred_labels == k, ref_labels == k) for k = 1 .. num_classes-1, in that order.
/// pred_labels, ref_labels: (H, W) or (D, H, W), integer dtype, values in [0, num_classes).
/// A class absent from either scores 0 on all four (BCP convention).
std::vector<BinaryScores> per_class_scores(const torch::Tensor& pred_labels,
                                           const torch::Tensor& ref_labels, int num_classes,
                                           const std::vector<double>& spacing = {});

}  // namespace bcp::eval
