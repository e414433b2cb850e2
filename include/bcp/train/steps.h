// The four kinds of training step, one function each, so a stage runner can loop over any of
// them and tests can take one step and look at what changed.
#pragma once
#include <torch/optim/sgd.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <vector>

#include "bcp/nets/compute_copy.h"
#include "bcp/nets/segmentation_net.h"
#include "bcp/train/config.h"
#include "bcp/train/stage_plan.h"
#include "bcp/train/training_set.h"

namespace bcp::distributed {
class ProcessGroup;
}  // namespace bcp::distributed

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
  /// Compute copies (bf16 and/or channels-last) that run the passes, keeping the fp32 networks
  /// above in step with them; null: the networks above run the passes themselves.
  nets::ComputeCopy* student_compute = nullptr;
  nets::ComputeCopy* teacher_compute = nullptr;
  /// Data-parallel group (distributed/distributed.h), or null. With a group, a step takes its
  /// rank's share of the inputs, starts from rank 0's BatchNorm statistics, averages the gradients
  /// over the ranks before SGD and reports the losses averaged over the ranks.
  distributed::ProcessGroup* group = nullptr;
};

/// SGD over `net`'s parameters with optim.lr, optim.momentum and optim.weight_decay.
torch::optim::SGD make_optimizer(nets::SegmentationNetImpl& net, const TrainConfig& config);

/// The compute copies of a stage's networks: for precision bf16, or fp32 with channels_last;
/// none for fp32 without channels_last. Point a StageContext at them with `attach`.
struct ComputeCopies {
  std::unique_ptr<nets::ComputeCopy> student;
  std::unique_ptr<nets::ComputeCopy> teacher;
  void attach(StageContext& s) {
    s.student_compute = student.get();
    s.teacher_compute = teacher.get();
  }
};
ComputeCopies make_compute_copies(const TrainConfig& config, nets::SegmentationNetImpl& student,
                                  nets::SegmentationNetImpl* teacher);

/// What one step consumes, drawn from the stage's generator in this order: the labeled batch's
/// augmentation, the unlabeled batch's (mean teacher, BCP self-training), then BCP's zero-box
/// mask. Tensors live on the CPU; the step moves them to its device.
struct StepInputs {
  Batch labeled;
  Batch unlabeled;     ///< undefined tensors where the step has no unlabeled batch
  torch::Tensor mask;  ///< BCP only: the copy-paste mask of data.patch (constant with "blend")
};
/// Draws a step's inputs for the labeled indices `li` and unlabeled `ui`.
StepInputs prepare_step_inputs(const TrainConfig& config, const TrainingSet& set, StepKind kind,
                               const std::vector<int64_t>& li, const std::vector<int64_t>& ui,
                               std::mt19937_64& rng);

/// One step of `kind` on prepared inputs: the trainer's and `bcp bench step`'s one entry point.
/// Supervised: Dice + CE on the labeled batch. Mean teacher (SSL4MIS): supervised loss + ramped
/// consistency to the EMA teacher, whose input gets clamped Gaussian noise. BCP pre-training:
/// copy-paste between the halves of the labeled batch. BCP self-training: teacher pseudo-labels
/// (train mode, no-grad, largest component), two mixed batches through the student in separate
/// passes, SGD, then EMA. Both networks run in train mode, as in the authors' code.
StepStats take_step(StageContext& s, StepKind kind, const StepInputs& inputs, int64_t iteration);
/// The same, drawing the inputs from `s.rng` first.
StepStats take_step(StageContext& s, StepKind kind, const std::vector<int64_t>& li,
                    const std::vector<int64_t>& ui, int64_t iteration);

}  // namespace bcp::train
