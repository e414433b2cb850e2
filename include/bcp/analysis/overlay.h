// Pictures of a segmentation for people: an image slice in grey with each class's outline in its
// colour, for the report's best / median / worst cases.
#pragma once
#include <torch/types.h>

#include <array>
#include <cstdint>
#include <vector>

#include "bcp/analysis/png.h"

namespace bcp::analysis {

/// The colour of class `cls` (1 red, 2 green, 3 blue, then more), as 0..255 RGB.
std::array<uint8_t, 3> class_color(int64_t cls);
/// The same as "#rrggbb", for HTML legends.
std::string class_color_hex(int64_t cls);

/// `image` (H, W), any real dtype, in grey (its 1st..99th percentile stretched to black..white)
/// with the boundary pixels of each class c >= 1 of `labels` (H, W) painted in class_color(c);
/// every pixel drawn as a scale x scale block. Throws std::invalid_argument on shapes that differ.
RgbImage contour_overlay(const torch::Tensor& image, const torch::Tensor& labels, int scale = 1);

/// Up to `count` slice indices of the first axis of `labels` (D, H, W), spread evenly over the
/// slices that hold any foreground (over all slices when none does), in increasing order.
std::vector<int64_t> pick_slices(const torch::Tensor& labels, int count);

}  // namespace bcp::analysis
