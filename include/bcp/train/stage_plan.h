// Which stages a recipe runs, with which step, decided from the config alone: the trainer loops
// over this list and nothing else knows a method's stages.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "bcp/train/config.h"

namespace bcp::train {

/// The step function a stage runs: a method's single stage, or BCP's "pretrain" / "selftrain".
enum class StepKind { kSupervised, kMeanTeacher, kBcpPretrain, kBcpSelftrain };

struct StagePlan {
  std::string name;    ///< "train" (supervised, mean teacher), "pretrain" or "selftrain" (BCP)
  StepKind kind;       ///< the step it takes
  int64_t iterations;  ///< steps in the stage
  bool teacher;        ///< trains with an EMA teacher
  /// Each stage re-seeds its sampler and generator, as each of the authors' stages builds a
  /// fresh loader: the config's seed, + 1 for BCP's self-training.
  uint64_t seed;
  std::string best_file;  ///< where the stage keeps its best model: "best.h5" or "pretrain_best.h5"
};

/// The stages of `config`, in order. Supervised and mean teacher: one "train" stage of
/// schedule.selftrain_iters. BCP: "pretrain" (when schedule.pretrain_iters > 0), whose best model
/// starts "selftrain".
std::vector<StagePlan> plan_stages(const TrainConfig& config);

/// The step of `stage` under `config` (what plan_stages puts in StagePlan::kind).
StepKind step_kind(const TrainConfig& config, const std::string& stage);

}  // namespace bcp::train
