// Which stages a recipe runs, with which step, decided from the config alone: the trainer loops
// over this list and nothing else knows a method's stages.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "bcp/train/config.h"
#include "bcp/util/enum_names.h"

namespace bcp::train {

/// The stages of every recipe: a method's single stage, or BCP's pre-training and self-training.
/// Their names are what logs, metrics.jsonl and checkpoints ("train"."stage") record.
enum class StageId { kTrain, kPretrain, kSelftrain };
BCP_ENUM_NAMES(StageId, {StageId::kTrain, "train"}, {StageId::kPretrain, "pretrain"},
               {StageId::kSelftrain, "selftrain"})

/// The step function a stage runs: a method's single stage, or BCP's "pretrain" / "selftrain".
enum class StepKind { kSupervised, kMeanTeacher, kBcpPretrain, kBcpSelftrain };

struct StagePlan {
  StageId id = StageId::kTrain;
  StepKind kind = StepKind::kSupervised;  ///< the step it takes
  int64_t iterations = 0;                 ///< steps in the stage
  bool teacher = false;                   ///< trains with an EMA teacher
  /// Each stage re-seeds its sampler and generator, as each of the authors' stages builds a
  /// fresh loader: the config's seed, + 1 for BCP's self-training.
  uint64_t seed = 0;
  std::string best_file;  ///< where the stage keeps its best model: "best.h5" or "pretrain_best.h5"
  /// Builds networks of its own (the EMA teacher first, then the student: the order of the first
  /// release's draws from the global generator) instead of training the run's first student.
  bool own_networks = false;
  /// The best file of an earlier stage whose student starts this stage's student and teacher
  /// ("" = none): BCP's self-training after pre-training starts from "pretrain_best.h5".
  std::string starts_from;
  /// With starts_from: the student takes the optimizer state saved there too
  /// (bcp.inherit_optimizer).
  bool inherit_optimizer = false;

  /// "train", "pretrain" or "selftrain".
  std::string name() const { return std::string(util::name_of(id)); }
};

/// The stages of `config`, in order. Supervised and mean teacher: one "train" stage of
/// schedule.selftrain_iters. BCP: "pretrain" (when schedule.pretrain_iters > 0), whose best model
/// starts "selftrain".
std::vector<StagePlan> plan_stages(const TrainConfig& config);

/// The step of `stage` under `config` (what plan_stages puts in StagePlan::kind).
StepKind step_kind(const TrainConfig& config, StageId stage);

/// Every file any recipe's stages keep their best model in, the final one first.
const std::vector<std::string>& best_files();

}  // namespace bcp::train
