// Validation during training: the dataset's evaluation protocol on the validation volumes,
// reduced to what model selection and the logs need (per-class Dice and HD95).
#pragma once
#include <vector>

#include "bcp/nets/segmentation_net.h"
#include "bcp/train/config.h"
#include "bcp/train/training_set.h"

namespace bcp::train {

struct ValidationScores {
  std::vector<double> dice;  ///< per foreground class, mean over cases (fraction)
  std::vector<double> hd95;  ///< per foreground class, mean over cases (voxels)
  double mean_dice = 0;      ///< mean over classes: the model-selection criterion
  double mean_hd95 = 0;
};

/// Runs `net` (eval mode, no-grad; its mode is restored) on every case of `set` with the
/// protocol of config.dataset (ACDC: slice-wise at data.patch; LA: sliding window over
/// data.patch with eval.stride) and averages per-class metrics over cases, then over classes,
/// as the authors' validation does.
ValidationScores validate_model(nets::SegmentationNetImpl& net, const ValidationSet& set,
                                const TrainConfig& config);

}  // namespace bcp::train
