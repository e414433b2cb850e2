// The four kinds of training step, one function each, so a stage runner can loop over any of
// them and tests can take one step and look at what changed.
#pragma once
#include <torch/optim/sgd.h>

#include <nlohmann/json.hpp>
#include <random>
#include <vector>

#include "bcp/nets/segmentation_net.h"
#include "bcp/train/config.h"
#include "bcp/train/training_set.h"

namespace bcp::train {

/// Losses of one step, for the logs.
struct StepStats {
  double loss = 0;
  nlohmann::json parts = nlohmann::json::object();  ///< named loss terms
};

/// Everything a step needs; lives for a stage.
struct StageContext {
  const TrainConfig& config;
  const TrainingSet& train_set;
  torch::Device device;
  nets::SegmentationNetImpl& student;
  nets::SegmentationNetImpl* teacher;  ///< EMA teacher (mean-teacher, BCP self-training) or null
  torch::optim::SGD& optimizer;        ///< over the student's parameters
  std::mt19937_64& rng;                ///< augmentation and masks
};

/// Labeled cases `li` only: Dice + CE (ACDC 0.5 (CE + Dice), LA (CE + Dice) / 2).
StepStats supervised_step(StageContext& s, const std::vector<int64_t>& li, int64_t iteration);
/// SSL4MIS Mean Teacher: supervised loss + ramped consistency to the EMA teacher, whose input
/// gets clamped Gaussian noise; EMA over parameters with the 1 - 1/(step+1) warm-up.
StepStats mean_teacher_step(StageContext& s, const std::vector<int64_t>& li,
                            const std::vector<int64_t>& ui, int64_t iteration);
/// BCP stage 1: copy-paste between the two halves of the labeled batch.
StepStats bcp_pretrain_step(StageContext& s, const std::vector<int64_t>& li);
/// BCP stage 2: teacher pseudo-labels (train mode, no-grad, largest component), one zero-box
/// mask, two mixed batches through the student in separate passes, SGD, then EMA.
StepStats bcp_selftrain_step(StageContext& s, const std::vector<int64_t>& li,
                             const std::vector<int64_t>& ui);

}  // namespace bcp::train
