// The other copy-paste mask shapes of the authors' code, for the paper's mask ablation. Same
// convention as zero_box_mask: float32, 1 on the background region, 0 where the other image is
// pasted; one mask per step, drawn from the caller's generator.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "bcp/ssl/zero_box_mask.h"
#include "bcp/util/enum_names.h"

namespace bcp::ssl {

/// The shapes `bcp.mask` names: "box" (the paper's single zero box, zero_box_mask), "boxes"
/// (random_mask: one small box per cell of a 3 x 3 (x 3) grid) and "contact" (contact_mask /
/// concate_mask: one band across the patch).
enum class MaskShape { kBox, kSmallBoxes, kContact };
BCP_ENUM_NAMES(MaskShape, {MaskShape::kBox, "box"}, {MaskShape::kSmallBoxes, "boxes"},
               {MaskShape::kContact, "contact"})

/// random_mask of the authors' code. 2D (ACDC, shrink 3): box side int(n * beta / 3) per axis,
/// the corner in cell c drawn from [c * split, (c + 1) * split - side) with split = int(n / 3).
/// 3D (LA): sides int(int(n * beta) / 3) + 1 on the first two axes and int(int(n * beta) / 3) on
/// the third, corners from [c * split, (c + 1) * split - side - 1). Cells in order (first axis
/// outermost), axes in order within a cell, as the authors' loops draw them. beta = 2/3 gives
/// their constants.
torch::Tensor small_boxes_mask(const std::vector<int64_t>& shape, double beta, Rng& rng);

/// contact_mask (2D) / concate_mask (3D) of the authors' code: a band with the single box's area
/// fraction. 2D: int(w * beta^2) rows (4/9 at beta = 2/3; like the authors, the length and the
/// range of its start come from the second axis and the band runs along the first), start from
/// [0, w - length). 3D: int(z * beta^3) slices of the last axis (8/27), start from
/// [0, z - length - 1).
torch::Tensor contact_mask(const std::vector<int64_t>& shape, double beta, Rng& rng);

/// The mask of `shape` for one step: zero_box_mask, small_boxes_mask or contact_mask.
torch::Tensor copy_paste_mask(MaskShape kind, const std::vector<int64_t>& shape, double beta,
                              Rng& rng);

}  // namespace bcp::ssl
