// The training config `bcp prepare` writes beside a prepared data root (ROOT/bcp.json).
#pragma once
#include "bcp/data/prepare.h"
#include "bcp/train/config.h"

namespace bcp::train {

/// BCP with the paper's recipe for the root's kind (2D: the ACDC recipe, 3D: the LA recipe),
/// fitted to the data:
/// - classes, lists, labeled count and intensity rule from the prepared root;
/// - 2D patch: the median slice's longer side rounded up to a multiple of 16, within [64, 256]
///   (slices are resized to it, as ACDC's are to 256);
/// - 3D patch: per axis the largest multiple of 16 that fits the smallest training volume, at
///   most 128, then the longest axis shortened by 16 until the patch holds no more voxels than
///   LA's 112x112x80; validation stride half the patch (nnU-Net's step);
/// - batches: the recipe's, capped (to even numbers) by the labeled and unlabeled items;
/// - method "supervised" when there are fewer than two unlabeled items.
/// Throws std::invalid_argument when the data cannot be trained on (e.g. a volume thinner than 16
/// voxels, fewer than two labeled items).
TrainConfig config_for_prepared(const data::PreparedDataset& prepared);

}  // namespace bcp::train
