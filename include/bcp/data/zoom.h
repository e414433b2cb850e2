// Nearest-neighbour resizing as scipy.ndimage.zoom(order=0) computes it: the resize that the
// released BCP code uses for ACDC slices (training and evaluation).
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace bcp::data {

/// Input index that output index `o` reads when an axis of length `in` is resized to `out`:
/// round(o * (in - 1) / (out - 1)) on scipy's corner-aligned grid (0 when out == 1), or -1 when
/// the coordinate lands past in - 1. That happens by one ulp at the last index for some sizes
/// (255 * (215 / 255.) = 255.00000000000003), and scipy's default mode="constant" then writes
/// cval = 0 there; the ACDC evaluation's resize back to the slice size inherits that zero row.
int64_t zoom_source_index(int64_t o, int64_t in, int64_t out);

/// Resizes a 2D (H, W) or 3D (D, H, W) tensor of any dtype to `out_size` (one entry per axis,
/// each >= 1) by nearest neighbour on scipy.ndimage.zoom's grid (order 0, grid_mode=False):
/// output index o on an axis reads input index round(o * (in - 1) / (out - 1)). This is not
/// torch's interpolate(mode="nearest"), which floors o * in / out. Values are copied, never
/// interpolated, so labels stay labels; an index of -1 (see above) gives 0. Returns a new tensor on
/// x's device with x's dtype.
torch::Tensor zoom_nearest(const torch::Tensor& x, std::vector<int64_t> out_size);

}  // namespace bcp::data
