// `bcp train --budget`: a schedule that fits a wall-clock budget on the machine it runs on,
// planned from training steps and a validation timed on the run's own data before training.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "bcp/train/config.h"

namespace bcp::train {

struct BudgetPlan {
  TrainConfig config;  ///< the input config with schedule.* set to fit the budget
  double budget_seconds = 0;
  double timing_seconds = 0;         ///< spent timing steps and a validation, before training
  std::vector<double> step_seconds;  ///< per stage of plan_stages(config): median timed step
  double validation_seconds = 0;     ///< one validation pass (0 without validation cases)
  double final_seconds = 0;          ///< the final evaluations of best.h5 and last.h5, estimated
  double planned_seconds = 0;        ///< what the plan expects training to take, timing included
  std::vector<std::string> lines;    ///< the plan, one decision a line with its figures
};

/// Times a few steps of each stage of `config` (fresh networks, the run's data) and one
/// validation, then sets schedule.pretrain_iters / selftrain_iters (in the config's ratio),
/// val_every (about ten validations a run) and checkpoint_every (= val_every) so that training,
/// its validations and (with `final_evaluation`) the final evaluation take `seconds` in all.
/// Throws std::invalid_argument naming --budget when the budget cannot hold a useful run.
BudgetPlan plan_budget(const TrainConfig& config, const std::string& data_root, double seconds,
                       bool final_evaluation);

/// "90s", "20m", "1.5h" or plain seconds ("3600") as seconds; throws std::invalid_argument naming
/// `what` for anything else, zero, negative or not finite.
double parse_duration(const std::string& text, const std::string& what);

}  // namespace bcp::train
