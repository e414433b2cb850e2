// What may change between a run and its `--resume`: a resumed run must be the same experiment,
// continued. Changing the method, dataset, network, data, optimiser or mixing constants would
// silently splice two experiments into one checkpoint, so those are refused.
#pragma once
#include <string>
#include <vector>

#include "bcp/train/config.h"

namespace bcp::train {

/// Keys that may differ on resume: how long (iteration counts may grow), how often to validate,
/// log and save, and where and with how many threads to run. The schedule keeps its meaning: with
/// "poly" more iterations change the learning rate from the resumed iteration on.
const std::vector<std::string>& resume_safe_keys();

/// The dotted keys whose values differ between `saved` (the checkpoint's config) and `requested`
/// and may not differ, each with both values ("method: saved \"bcp\", requested \"supervised\"").
/// Fewer iterations than saved count as a conflict. Empty when the resume is allowed.
std::vector<std::string> resume_conflicts(const TrainConfig& saved, const TrainConfig& requested);

}  // namespace bcp::train
