#include "bcp/train/stage_plan.h"

namespace bcp::train {

namespace {
constexpr const char* kBestFile = "best.h5";
constexpr const char* kPretrainBestFile = "pretrain_best.h5";
}  // namespace

StepKind step_kind(const TrainConfig& config, StageId stage) {
  if (config.method == Method::kSupervised) return StepKind::kSupervised;
  if (config.method == Method::kMeanTeacher) return StepKind::kMeanTeacher;
  return stage == StageId::kPretrain ? StepKind::kBcpPretrain : StepKind::kBcpSelftrain;
}

std::vector<StagePlan> plan_stages(const TrainConfig& c) {
  auto stage = [&](StageId id, int64_t iterations, bool teacher, uint64_t seed,
                   const char* best_file) {
    StagePlan s;
    s.id = id;
    s.kind = step_kind(c, id);
    s.iterations = iterations;
    s.teacher = teacher;
    s.seed = seed;
    s.best_file = best_file;
    return s;
  };
  std::vector<StagePlan> plan;
  if (c.method != Method::kBcp) {
    plan.push_back(stage(StageId::kTrain, c.schedule.selftrain_iters,
                         c.method == Method::kMeanTeacher, c.seed, kBestFile));
    return plan;
  }
  const bool pretrain = c.schedule.pretrain_iters > 0;
  if (pretrain)
    plan.push_back(
        stage(StageId::kPretrain, c.schedule.pretrain_iters, false, c.seed, kPretrainBestFile));
  StagePlan self =
      stage(StageId::kSelftrain, c.schedule.selftrain_iters, true, c.seed + 1, kBestFile);
  self.own_networks = true;
  if (pretrain) {
    self.starts_from = kPretrainBestFile;
    self.inherit_optimizer = c.bcp.inherit_optimizer;
  }
  plan.push_back(self);
  return plan;
}

const std::vector<std::string>& best_files() {
  static const std::vector<std::string> files = {kBestFile, kPretrainBestFile};
  return files;
}

}  // namespace bcp::train
