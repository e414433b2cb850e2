#include "bcp/train/step_runner.h"

#include <torch/cuda.h>

#include <numeric>

#include "bcp/distributed/distributed.h"

namespace bcp::train {

bool uses_unlabeled(StepKind kind) {
  return kind == StepKind::kMeanTeacher || kind == StepKind::kBcpSelftrain;
}

StepRunner::StepRunner(const TrainConfig& config, const TrainingSet& set, StepKind kind,
                       torch::Device device, distributed::ProcessGroup* group)
    : config_(config), device_(device), rng_(config.seed), kind_(kind) {
  torch::manual_seed(config_.seed);
  student_ = nets::make_model(model_config_for(config_));
  student_->to(device_);
  const bool unlabeled = uses_unlabeled(kind);
  if (unlabeled) {
    teacher_ = student_->clone_net(device_);
    for (auto& p : teacher_->parameters()) p.set_requires_grad(false);
  }
  if (group) {
    distributed::broadcast_module(*group, *student_);
    if (teacher_) distributed::broadcast_module(*group, *teacher_);
  }
  optimizer_ = std::make_unique<torch::optim::SGD>(make_optimizer(*student_, config_));
  std::vector<int64_t> labeled(static_cast<size_t>(set.labeled)), rest;
  std::iota(labeled.begin(), labeled.end(), 0);
  if (unlabeled)
    for (int64_t i = set.labeled; i < set.size(); ++i) rest.push_back(i);
  sampler_ = std::make_unique<data::TwoStreamSampler>(
      labeled, rest, config_.batch.labeled, unlabeled ? config_.batch.unlabeled : 0, config_.seed);
  ctx_.reset(new StageContext{config_, set, device_, *student_, teacher_.get(), *optimizer_, rng_});
  ctx_->group = group;
  copies_ = make_compute_copies(config_, *student_, teacher_.get());
  copies_.attach(*ctx_);
  prefetcher_ = std::make_unique<StepPrefetcher>(config_, set, kind_, *sampler_, rng_);
}

// The prefetcher's thread uses the sampler and generator: it goes first.
StepRunner::~StepRunner() {
  prefetcher_.reset();
}

StepStats StepRunner::step() {
  StepStats stats = take_step(*ctx_, kind_, prefetcher_->next(), iteration_++);
  if (device_.is_cuda()) torch::cuda::synchronize();
  return stats;
}

}  // namespace bcp::train
