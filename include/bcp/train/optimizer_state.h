// SGD momentum buffers as plain named tensors, so checkpoints stay data (no pickles) and
// the BCP ACDC student can inherit the pre-training optimizer.
#pragma once
#include <torch/optim/sgd.h>

#include <map>
#include <string>

namespace bcp::train {

/// Momentum buffers keyed "optim/<param index>" (undefined buffers, before the first step, are
/// left out). Parameter order is the optimizer's, which follows the model's parameters().
std::map<std::string, torch::Tensor> sgd_state(torch::optim::SGD& optimizer);
/// Restores what sgd_state wrote; shapes are checked. Entries absent from `state` start fresh.
void load_sgd_state(torch::optim::SGD& optimizer,
                    const std::map<std::string, torch::Tensor>& state);
/// Sets the learning rate of every parameter group.
void set_learning_rate(torch::optim::SGD& optimizer, double lr);

}  // namespace bcp::train
