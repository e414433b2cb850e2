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

/// What `--budget` changes besides the step counts, each measured on ACDC's validation list with a
/// 20-minute budget (docs/results.md): BCP's two stages in equal steps (with the presets' 1:3 a
/// short pre-training leaves the teacher too weak to start self-training from), and a 2-D patch
/// halved per axis where the network's down-sampling allows, 128 at least (four times the steps;
/// the evaluation protocol scores at the training resolution, zoomed back to the scan's); a 3-D
/// patch halved along the axes the network pools first, 64 at least (random crops of a quarter
/// of the voxels: ACDC as volumes; not measured against the whole volume, too slow on a CPU for
/// short budgets); a 3-D
/// sliding window's stride raised to half the patch (the authors' LA stride runs 72 windows a
/// volume, and validations would take most of the budget). Returns the
/// config and appends one line per change to `changes`; a config it would not change comes back
/// as it was.
TrainConfig short_run_recipe(const TrainConfig& config, std::vector<std::string>& changes);

/// Times a few steps of each stage of `config` (fresh networks, the run's data) and one
/// validation, then sets schedule.pretrain_iters / selftrain_iters (in the config's ratio),
/// val_every (about ten validations a run) and checkpoint_every (= val_every) so that training,
/// its validations and (with `final_evaluation`) the final evaluation take `seconds` in all.
/// Throws std::invalid_argument naming --budget when the budget cannot hold a useful run.
/// With `short_run`, the config is first changed by short_run_recipe (and the plan says how).
BudgetPlan plan_budget(const TrainConfig& config, const std::string& data_root, double seconds,
                       bool final_evaluation, bool short_run = true);

/// "90s", "20m", "1.5h" or plain seconds ("3600") as seconds; throws std::invalid_argument naming
/// `what` for anything else, zero, negative or not finite.
double parse_duration(const std::string& text, const std::string& what);

}  // namespace bcp::train
