// The plan: the training config `bcp prepare` writes beside a prepared data root (ROOT/bcp.json),
// made from the dataset's fingerprint (data/prepare.h) by a few documented rules, as nnU-Net's
// planner turns its fingerprint into plans. `bcp plan ROOT` prints it with its reasons.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "bcp/data/prepare.h"
#include "bcp/train/config.h"

namespace bcp::train {

/// A plan: the config, and one line of reasons per decision (topic, text).
struct Plan {
  TrainConfig config;
  std::vector<std::pair<std::string, std::string>> reasons;
};

/// Voxels of one training sample that the plan keeps within (the LA recipe's 112 x 112 x 80):
/// a larger median volume gets a smaller patch, its longest physical axis shortened first.
constexpr int64_t kPlanPatchVoxels = 112 * 112 * 80;

/// The share of a labeled batch drawn to hold foreground (data.foreground_oversample): nnU-Net's.
constexpr double kPlanForegroundOversample = 0.33;

/// The plan for a prepared dataset:
/// - recipe: 2D slices (UNet) or 3D volumes (VNet) as prepared; classes, channels, lists,
///   labeled count and intensity rule from the fingerprint;
/// - method: BCP, or supervised-only when there are fewer than two unlabeled items;
/// - 2D patch: the median slice's longer side rounded up to a multiple of 16, within [64, 256]
///   (slices are resized to it, as ACDC's are to 256);
/// - 3D network strides (nnU-Net's rule): at each of the VNet's four down-samplings an axis is
///   halved while its feature map stays >= 4 voxels and its spacing is within twice the finest;
/// - 3D patch: the median volume rounded up to a multiple of each axis's down-sampling, so it
///   covers the typical volume (smaller ones are padded); above kPlanPatchVoxels the physically
///   longest axis is shortened first; sliding-window stride half the patch (nnU-Net's step);
/// - sampling (3D): kPlanForegroundOversample of each labeled batch is a crop centred on
///   foreground (nnU-Net's rule); 2D slices are drawn uniformly (whole slices, measured lower);
/// - batches: the recipe's (12 + 12 slices, 4 + 4 volumes), capped (to even numbers) by the items;
/// - schedule sized to the data: pre-training 500 passes over the labeled items (at least 200
///   steps, at most the recipe's), self-training three times that (at least 600, at most the
///   recipe's; the paper's ACDC ratio); supervised-only trains the sum in one stage; validation
///   and checkpoints about 20 times a run.
/// Throws std::invalid_argument when the data cannot be trained on (fewer than two labeled items).
Plan plan_for(const data::PreparedDataset& fingerprint);

/// The plan's config alone.
TrainConfig config_for_prepared(const data::PreparedDataset& fingerprint);

/// The VNet strides (x, y, z per down-sampling) for a patch and spacing, by the rule above.
std::vector<std::vector<int64_t>> plan_strides(const std::vector<int64_t>& patch,
                                               const std::vector<double>& spacing);

/// The plan as text for a terminal: the data, then one line a decision.
std::string plan_text(const data::PreparedDataset& fingerprint, const Plan& plan);

}  // namespace bcp::train
