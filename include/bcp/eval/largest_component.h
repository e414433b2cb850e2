// Largest connected component, as the BCP code computes it with skimage.measure.label: full
// connectivity (8 in 2D, 26 in 3D), and among components of equal size the one whose first voxel
// comes first in raster (C) order, which is the one np.argmax(np.bincount(labels)) picks.
#pragma once
#include <torch/types.h>

#include <cstdint>

namespace bcp::eval {

/// Keeps only the largest connected component of a binary mask.
/// mask: (H, W) or (D, H, W), bool or integer (nonzero = object), any device.
/// Returns the same shape, dtype and device with 1 (true) on the kept component and 0 elsewhere;
/// an empty mask stays empty.
torch::Tensor largest_component(const torch::Tensor& mask);

/// For each sample and each class k >= 1 of a label map, keeps only the largest connected
/// component of (labels == k) and sets the rest of that class to 0; a class with no voxel stays
/// empty. labels: (N, spatial...) integer, values >= 0, with `spatial_dims` (2 or 3) trailing
/// spatial axes and every leading axis a batch axis (none at all is allowed: one sample).
/// Returns the same shape, dtype and device. Samples run in parallel; the result does not depend
/// on the thread count.
torch::Tensor largest_component_per_class(const torch::Tensor& labels, int64_t spatial_dims);

}  // namespace bcp::eval
