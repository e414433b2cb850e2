// Named weights of a module, keyed as PyTorch's state_dict() keys them, and loading them back by
// name (from memory or from an HDF5 group such as the parity fixtures' `weights/`).
#pragma once
#include <torch/nn/module.h>
#include <torch/types.h>

#include <map>
#include <string>

namespace bcp::nets {

/// Parameters and buffers by dotted name (e.g. "encoder.in_conv.conv_conv.1.running_mean").
/// The tensors are detached handles sharing storage with the module: clone them for a snapshot.
/// Includes BatchNorm's `num_batches_tracked` (int64), as PyTorch does.
std::map<std::string, torch::Tensor> state_dict(const torch::nn::Module& module);

/// Copies `tensors` into the module's parameters and buffers by name, under NoGradGuard, casting
/// to each target's dtype and device. Every problem is found before anything is copied, so a
/// failed load leaves the module untouched. Throws std::runtime_error naming the key:
/// - a shape mismatch (always);
/// - strict: a module key absent from `tensors` (a missing `num_batches_tracked` is tolerated:
///   the authors' fixtures omit it), or a key in `tensors` the module does not have.
void load_state_dict(torch::nn::Module& module, const std::map<std::string, torch::Tensor>& tensors,
                     bool strict = true);

/// load_state_dict from the datasets directly below `group` of the HDF5 file at `path`, one per
/// key (the parity fixtures' layout: `weights/<key>`). Errors name the file.
void load_state_dict_h5(torch::nn::Module& module, const std::string& path,
                        const std::string& group = "weights", bool strict = true);

}  // namespace bcp::nets
