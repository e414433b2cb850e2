#include "bcp/train/stage_plan.h"

namespace bcp::train {

StepKind step_kind(const TrainConfig& config, const std::string& stage) {
  if (config.method == Method::kSupervised) return StepKind::kSupervised;
  if (config.method == Method::kMeanTeacher) return StepKind::kMeanTeacher;
  return stage == "pretrain" ? StepKind::kBcpPretrain : StepKind::kBcpSelftrain;
}

std::vector<StagePlan> plan_stages(const TrainConfig& c) {
  std::vector<StagePlan> plan;
  if (c.method != Method::kBcp) {
    plan.push_back({"train", step_kind(c, "train"), c.schedule.selftrain_iters,
                    c.method == Method::kMeanTeacher, c.seed, "best.h5"});
    return plan;
  }
  if (c.schedule.pretrain_iters > 0)
    plan.push_back({"pretrain", StepKind::kBcpPretrain, c.schedule.pretrain_iters, false, c.seed,
                    "pretrain_best.h5"});
  plan.push_back({"selftrain", StepKind::kBcpSelftrain, c.schedule.selftrain_iters, true,
                  c.seed + 1, "best.h5"});
  return plan;
}

}  // namespace bcp::train
