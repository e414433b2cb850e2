// Validation during training: the dataset's evaluation protocol on the validation volumes,
// reduced to what model selection and the logs need (per-class Dice and HD95). The protocol is
// the one record every checkpoint carries (eval_protocol_of), so validation scores a model as
// `bcp evaluate` and `bcp predict` later do.
#pragma once
#include <vector>

#include "bcp/eval/eval_protocol.h"
#include "bcp/eval/evaluate.h"
#include "bcp/nets/segmentation_net.h"
#include "bcp/train/config.h"
#include "bcp/train/training_set.h"

namespace bcp::train {

struct ValidationScores {
  std::vector<double> dice;  ///< per foreground class, mean over cases (fraction)
  std::vector<double> hd95;  ///< per foreground class, mean over cases (voxels)
  double mean_dice = 0;      ///< mean over classes: the model-selection criterion
  double mean_hd95 = 0;
};

/// How a network trained with `config` is evaluated (written into every checkpoint as
/// "eval_protocol"): its dataset, the training resolution as the ACDC slice size or LA patch, the
/// LA stride, and the intensity rule. The one mapping from a training config to evaluation.
eval::EvalProtocol eval_protocol_of(const TrainConfig& config);

/// What validation runs: evaluate_options(eval_protocol_of(config)) with the run's precision,
/// channels-last choice and eval.window_batch.
eval::ModelEvaluateOptions validation_options(const TrainConfig& config);

/// Runs `net` (eval mode, no-grad; its mode is restored) on every case of `set` with
/// validation_options(config) (ACDC: slice-wise at data.patch; LA: sliding window over
/// data.patch with eval.stride) and averages per-class metrics over cases, then over classes,
/// as the authors' validation does.
ValidationScores validate_model(nets::SegmentationNetImpl& net, const ValidationSet& set,
                                const TrainConfig& config);

}  // namespace bcp::train
