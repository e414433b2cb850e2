// A stage's training step on fresh networks, outside any run: what `bcp bench step` times and
// what `bcp train --budget` measures before it plans a schedule. Nothing is written to disk.
#pragma once
#include <torch/optim/sgd.h>

#include <memory>
#include <random>
#include <vector>

#include "bcp/data/two_stream_sampler.h"
#include "bcp/train/config.h"
#include "bcp/train/stage_plan.h"
#include "bcp/train/step_prefetcher.h"
#include "bcp/train/steps.h"
#include "bcp/train/training_set.h"

namespace bcp::distributed {
class ProcessGroup;
}  // namespace bcp::distributed

namespace bcp::train {

/// Steps of `kind` on networks made from `config` (seeded by config.seed), with the trainer's
/// sampler, prefetcher, compute copies, optimizer and, where the step has one, EMA teacher. With
/// a `group` every rank takes its share of each step, as data-parallel training does. `set` must
/// outlive the runner.
class StepRunner {
 public:
  StepRunner(const TrainConfig& config, const TrainingSet& set, StepKind kind, torch::Device device,
             distributed::ProcessGroup* group = nullptr);
  ~StepRunner();
  StepRunner(const StepRunner&) = delete;
  StepRunner& operator=(const StepRunner&) = delete;

  /// One step (waits for a CUDA device to finish it).
  StepStats step();

 private:
  TrainConfig config_;
  torch::Device device_;
  std::shared_ptr<nets::SegmentationNetImpl> student_, teacher_;
  std::unique_ptr<torch::optim::SGD> optimizer_;
  std::unique_ptr<data::TwoStreamSampler> sampler_;
  std::mt19937_64 rng_;
  std::unique_ptr<StageContext> ctx_;
  ComputeCopies copies_;
  std::unique_ptr<StepPrefetcher> prefetcher_;
  StepKind kind_;
  int64_t iteration_ = 0;
};

/// Whether a step of `kind` draws unlabeled batches (and runs an EMA teacher).
bool uses_unlabeled(StepKind kind);

}  // namespace bcp::train
