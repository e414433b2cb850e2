// A trainer's resumable state in one tensor archive: the student (under plain keys, so
// `bcp evaluate` reads the file as a model), the EMA teacher, the SGD momentum, every random
// generator and the loop counters. Data only: loading runs nothing.
#pragma once
#include <torch/optim/sgd.h>

#include <nlohmann/json.hpp>
#include <string>

#include "bcp/io/tensor_archive.h"
#include "bcp/nets/segmentation_net.h"
#include "bcp/train/config.h"

namespace bcp::train {

/// The counters and generator states the loop needs to continue exactly.
struct LoopState {
  std::string stage;            ///< "train", "pretrain" or "selftrain"
  int64_t iteration = 0;        ///< steps completed in this stage
  double best_dice = -1;        ///< best validation mean Dice of this stage (-1: none yet)
  int64_t best_iteration = -1;  ///< where it was reached
  std::string sampler;          ///< TwoStreamSampler::save_state()
  std::string rng;              ///< the augmentation/mask std::mt19937_64, streamed
  nlohmann::json extra;         ///< method-specific (free-form)
  std::string cases;            ///< the training cases it ran on (cases_fingerprint); "" unknown
};

/// Writes `path` atomically, with the evaluation protocol of `config` (validation.h:
/// eval_protocol_of). `teacher` and `optimizer` may be null.
void save_train_state(const std::string& path, const nets::SegmentationNetImpl& student,
                      const nets::SegmentationNetImpl* teacher, torch::optim::SGD* optimizer,
                      const LoopState& loop, const nlohmann::json& config);

/// Loads the weights of a training checkpoint into existing objects (same architecture) and
/// returns its loop state: the student's weights into `student`, the teacher's and the optimizer
/// state into `teacher` and `optimizer` when they are not null. Leaves every generator alone.
/// Errors name the file.
LoopState load_train_state(const std::string& path, nets::SegmentationNetImpl& student,
                           nets::SegmentationNetImpl* teacher, torch::optim::SGD* optimizer);
/// The same on a checkpoint already read (`path` names it in errors).
LoopState load_train_state(const io::TensorArchive& checkpoint, const std::string& path,
                           nets::SegmentationNetImpl& student, nets::SegmentationNetImpl* teacher,
                           torch::optim::SGD* optimizer);

/// Sets LibTorch's global CPU generator (dropout, noise) and, where CUDA is available, the CUDA
/// generators to the states saved in the checkpoint, so that a resumed run continues their
/// streams exactly. Errors name the file.
void restore_generators(const io::TensorArchive& checkpoint, const std::string& path);

}  // namespace bcp::train
