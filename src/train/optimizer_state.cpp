#include "bcp/train/optimizer_state.h"

#include <sstream>
#include <stdexcept>
#include <type_traits>

namespace bcp::train {
namespace {

// LibTorch keys optimizer state by the parameter's TensorImpl: a string in 1.x, a void* in 2.x.
template <typename Key>
Key state_key(const torch::Tensor& p) {
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream key;  // what 1.x's c10::guts::to_string (gone in 2.x) wrote
    key << p.unsafeGetTensorImpl();
    return key.str();
  } else {
    return static_cast<Key>(p.unsafeGetTensorImpl());
  }
}

using StateMap = std::remove_reference_t<decltype(std::declval<torch::optim::SGD&>().state())>;
using Key = typename StateMap::key_type;

std::vector<torch::Tensor> all_params(torch::optim::SGD& optimizer) {
  std::vector<torch::Tensor> params;
  for (auto& group : optimizer.param_groups())
    for (auto& p : group.params()) params.push_back(p);
  return params;
}

}  // namespace

std::map<std::string, torch::Tensor> sgd_state(torch::optim::SGD& optimizer) {
  std::map<std::string, torch::Tensor> out;
  auto params = all_params(optimizer);
  auto& state = optimizer.state();
  for (size_t i = 0; i < params.size(); ++i) {
    auto it = state.find(state_key<Key>(params[i]));
    if (it == state.end()) continue;
    auto& s = static_cast<torch::optim::SGDParamState&>(*it->second);
    if (s.momentum_buffer().defined())
      out["optim/" + std::to_string(i)] = s.momentum_buffer().detach().clone();
  }
  return out;
}

void load_sgd_state(torch::optim::SGD& optimizer,
                    const std::map<std::string, torch::Tensor>& state) {
  auto params = all_params(optimizer);
  auto& target = optimizer.state();
  target.clear();
  for (size_t i = 0; i < params.size(); ++i) {
    auto it = state.find("optim/" + std::to_string(i));
    if (it == state.end()) continue;
    if (!it->second.sizes().equals(params[i].sizes()))
      throw std::runtime_error("optimizer state " + it->first + " has shape " +
                               c10::str(it->second.sizes()) + ", parameter has " +
                               c10::str(params[i].sizes()));
    auto s = std::make_unique<torch::optim::SGDParamState>();
    s->momentum_buffer(it->second.to(params[i].options()).clone());
    target[state_key<Key>(params[i])] = std::move(s);
  }
}

void set_learning_rate(torch::optim::SGD& optimizer, double lr) {
  for (auto& group : optimizer.param_groups())
    static_cast<torch::optim::SGDOptions&>(group.options()).lr(lr);
}

}  // namespace bcp::train
