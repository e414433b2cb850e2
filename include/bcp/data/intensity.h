// Per-volume intensity normalisation: how a raw scan becomes a network input. Recorded by
// `bcp prepare` in the training config, so every checkpoint carries it and `bcp predict` applies
// the same rule to new scans.
#pragma once
#include <torch/types.h>

#include <string>

#include "bcp/util/enum_names.h"

namespace bcp::data {

/// "zscore": (x - mean) / std over the volume (population std), as the LA data was made;
/// "minmax": (x - min) / (max - min) into [0, 1], as the ACDC data was made;
/// "ct": clip to [ct_low, ct_high], then map that window linearly onto [0, 1];
/// "none": the input is used as it is; "auto" (in configs and checkpoints): the dataset's own
/// rule, resolved before normalising (ACDC min-max, LA z-score).
enum class IntensityKind { kAuto, kZscore, kMinmax, kCt, kNone };
BCP_ENUM_NAMES(IntensityKind, {IntensityKind::kAuto, "auto"}, {IntensityKind::kZscore, "zscore"},
               {IntensityKind::kMinmax, "minmax"}, {IntensityKind::kCt, "ct"},
               {IntensityKind::kNone, "none"})

struct IntensityNorm {
  IntensityKind kind = IntensityKind::kZscore;
  double ct_low = -1000.0;
  double ct_high = 1000.0;
};

/// Throws std::invalid_argument for "auto" (not resolved) or an empty CT window.
void validate(const IntensityNorm& norm);

/// The normalised volume as float32 (a new tensor). A constant volume maps to zeros (z-score,
/// min-max). Throws std::invalid_argument for NaN or Inf voxels.
torch::Tensor normalize_intensity(const torch::Tensor& image, const IntensityNorm& norm);

}  // namespace bcp::data
