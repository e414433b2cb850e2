// Learning rate as a function of the iteration, as each recipe's released code sets it.
#pragma once
#include <cstdint>

#include "bcp/train/config.h"

namespace bcp::train {

/// lr for the step that follows `iteration` completed steps of a stage of `max_iters`:
/// constant (BCP ACDC), step (BCP LA: x gamma every step_size) or poly (SSL4MIS baselines).
double learning_rate(const TrainConfig::Optim& o, int64_t iteration, int64_t max_iters);

}  // namespace bcp::train
