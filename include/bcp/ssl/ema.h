// Exponential moving average of the student into the Mean Teacher.
#pragma once
#include <torch/nn/module.h>

namespace bcp::ssl {

/// teacher = decay * teacher + (1 - decay) * student, in place, under torch::NoGradGuard.
/// Parameters always; buffers too when `include_buffers`:
/// - ACDC (update_model_ema, include_buffers = true) blends every state_dict entry, BatchNorm
///   running_mean/var and num_batches_tracked included. For the integer num_batches_tracked the
///   authors' arithmetic is reproduced: the blend is computed in float32 and copied back into the
///   int64 buffer, truncating toward zero. It does not affect outputs (BN uses a fixed momentum).
/// - LA (update_ema_variables, include_buffers = false) blends parameters only; the teacher keeps
///   its own BN statistics (it runs in train mode, so they track its own batches).
/// Arithmetic per float element, as in PyTorch: t * decay + s * (1 - decay), each product
/// rounded in the tensor's dtype. Entries are matched by name; the two modules must have the same
/// parameter (and, with buffers, buffer) names and shapes, else std::invalid_argument.
/// `decay` must lie in [0, 1].
void ema_update(torch::nn::Module& teacher, const torch::nn::Module& student, double decay,
                bool include_buffers);

}  // namespace bcp::ssl
